/** The error of a request the pipeline refuses before running the model (any stage). */

/** A request the engine refuses before running the model; the message is one line for the user. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}
