/** The error a bad model package raises (manifest, config files, graphs, tokenizer, embeddings). */

/** A problem with a model package; `message` is one line naming the folder or file and the problem. */
export class ModelPackageError extends Error {
  override name = 'ModelPackageError';
}
