/**
 * The package's tokenizer through @huggingface/tokenizers (tokenizer.json + tokenizer_config.json,
 * the Hugging Face format), so SentencePiece byte fallback and Metaspace rules are the library's.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelPackageError, type ModelManifest } from './package/manifest.js';

/** Text ↔ token ids for one model package. */
export class TextTokenizer {
  private constructor(private readonly tokenizer: Tokenizer) {}

  /**
   * Load `manifest.tokenizer` files from the package folder.
   * @throws ModelPackageError when a file is missing or not a tokenizer.
   */
  static async load(dir: string, manifest: ModelManifest): Promise<TextTokenizer> {
    const read = async (file: string): Promise<object> => {
      const full = path.join(dir, file);
      const text = await readFile(full, 'utf8').catch(() => {
        throw new ModelPackageError(`${full}: tokenizer file is missing`);
      });
      try {
        return JSON.parse(text) as object;
      } catch {
        throw new ModelPackageError(`${full}: tokenizer file is not valid JSON`);
      }
    };
    const [json, config] = await Promise.all([read(manifest.tokenizer.file), read(manifest.tokenizer.config_file)]);
    try {
      return new TextTokenizer(new Tokenizer(json, config));
    } catch (err) {
      throw new ModelPackageError(`${path.join(dir, manifest.tokenizer.file)}: not a usable tokenizer (${(err as Error).message})`);
    }
  }

  /** Token ids of `text` without BOS/EOS (OmniFusion encodes each text piece with add_special_tokens=False). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Token ids of a whole prompt as a Hugging Face processor tokenizes it (`add_special_tokens=True`:
   * the tokenizer's post-processor runs; a byte-level one such as SmolVLM's adds nothing). Added
   * tokens (`<image>`, `<row_1_col_1>`, …) in the text become their ids.
   */
  encodePrompt(text: string, addSpecialTokens: boolean): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** Id of a token string (vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** Text of `ids`, special tokens (EOS) dropped. */
  decode(ids: readonly number[]): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: true });
  }
}
