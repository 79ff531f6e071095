/**
 * The package's tokenizer through @huggingface/tokenizers (tokenizer.json + tokenizer_config.json,
 * the Hugging Face format), so SentencePiece byte fallback and Metaspace rules are the library's.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelPackageError } from './package/errors.js';
import type { ModelManifest } from './package/manifest-types.js';

/** Text ↔ token ids for one model package. */
export class TextTokenizer {
  /** The same tokenizer without added tokens: text as written, `<image>` as the characters `<`, `image`, `>`. */
  private plainTokenizer: Tokenizer | undefined;
  /** Added tokens in a form user text could spell (special ones, or `<…>` markup), longest first. */
  readonly addedTokens: readonly string[];

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly json: object,
    private readonly config: object,
  ) {
    const added = (json as { added_tokens?: { content: string; special?: boolean }[] }).added_tokens;
    const contents = (Array.isArray(added) ? added : []).filter((t) => t.content && (t.special || /^<.+>$/s.test(t.content))).map((t) => t.content);
    this.addedTokens = [...new Set(contents)].sort((a, b) => b.length - a.length);
  }

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
      return new TextTokenizer(new Tokenizer(json, config), json, config);
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

  /**
   * Token ids of text a user wrote, as plain text: added tokens spelled in it (`<image>`,
   * `<|im_end|>`, …) are not those tokens but their characters (as `split_special_tokens=True`).
   */
  encodePlain(text: string): number[] {
    if (!this.plainTokenizer) this.plainTokenizer = new Tokenizer({ ...this.json, added_tokens: [] }, this.config);
    return this.plainTokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * What the post-processor adds around a prompt's ids with `add_special_tokens` (BOS, EOS, …):
   * the ids before and after those of the text.
   */
  specialTokensAround(addSpecialTokens: boolean): { before: number[]; after: number[] } {
    if (!addSpecialTokens) return { before: [], after: [] };
    const bare: number[] = this.tokenizer.encode('a', { add_special_tokens: false }).ids;
    const full: number[] = this.tokenizer.encode('a', { add_special_tokens: true }).ids;
    for (let i = 0; i + bare.length <= full.length; i++) {
      if (bare.every((id: number, j: number) => full[i + j] === id)) return { before: full.slice(0, i), after: full.slice(i + bare.length) };
    }
    return { before: [], after: [] };
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
