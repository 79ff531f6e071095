/**
 * Attached images: adding one (attachments.add: decoded and checked, stored as its page-safe
 * rendition, its text read in the background), looking one up (attachments.get), the file a
 * transport serves for it, and the file names recent additions were made with (kept by the
 * message they are sent with).
 */
import { decodeImage } from '../../media/images/index.js';
import { servedRendition, storedRendition, type ServedAttachment } from '../images/served.js';
import type { ServiceContext } from './context.js';
import { toAttachment } from './convert.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';
import type { ImageTexts } from './image-text.js';
import { fileName, isSha256 } from './validation.js';

/** File names kept for the most recent additions. */
const MAX_ADDED_NAMES = 1000;

/** The attachments calls and what the rest of the service needs of them. */
export interface Attachments {
  /** Attachment hashes with the file names they were added with ('' when not known). */
  named(hashes: readonly string[]): Array<{ sha256: string; name: string }>;
  /** The page-safe rendition of an attachment (images/served.ts); undefined when unknown. */
  file(sha256: string): Promise<ServedAttachment | undefined>;
  handlers: Pick<Handlers, 'attachments.add' | 'attachments.get'>;
}

/** The attachments of the service of `ctx`; `texts` reads an added image's text in the background. */
export function createAttachments(ctx: ServiceContext, texts: ImageTexts): Attachments {
  const { store, options } = ctx;
  /** File names of recently added attachments by sha256: the message they are sent with keeps them. */
  const addedNames = new Map<string, string>();

  return {
    named: (hashes) => hashes.map((sha256) => ({ sha256, name: addedNames.get(sha256) ?? '' })),
    async file(sha256) {
      const info = store.getAttachment(sha256);
      return info ? servedRendition({ path: store.attachmentPath(sha256), mime: info.mime }) : undefined;
    },
    handlers: {
      'attachments.add': async ({ name: requestName, bytes }) => {
        const name = fileName(requestName);
        if (!(bytes instanceof Uint8Array)) throw new ApiRequestError('bad_request', 'attachment bytes are missing');
        const image = await decodeImage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { name: name || 'image' });
        // An SVG is kept as the PNG the model sees, never as markup that could run script.
        const stored = await storedRendition(bytes, image);
        const sha256 = store.putAttachment(stored.bytes, { mime: stored.mime, width: image.width, height: image.height });
        // Read its text in the background: search, the viewer's text layer and OCR tokens use it.
        if (options.readImageText !== false) void texts.read(sha256);
        addedNames.delete(sha256);
        addedNames.set(sha256, name);
        if (addedNames.size > MAX_ADDED_NAMES) addedNames.delete(addedNames.keys().next().value!);
        return toAttachment(store.getAttachment(sha256)!, name);
      },
      'attachments.get': ({ sha256 }) => {
        if (!isSha256(sha256)) throw new ApiRequestError('bad_request', 'sha256 must be the hash of an added image');
        const info = store.getAttachment(sha256);
        if (!info) throw new ApiRequestError('not_found', `attachment ${sha256} does not exist`);
        return toAttachment(info, addedNames.get(sha256) ?? '');
      },
    },
  };
}
