// The Markdown export with its images: one .zip holding a folder named after the conversation,
// with the .md file and an images/ folder of the attached images' own bytes (no re-encoding),
// which the .md links to by relative path. Pure: the bytes are fetched by index.ts.

import { strToU8, zipSync, type Zippable } from 'fflate';
import { imageFileName, safeFileName } from './filename.js';
import { conversationToMarkdown } from './markdown.js';
import type { ExportConversation } from './types.js';

/** The folder inside the archive that holds the images. */
export const IMAGES_DIR = 'images';

/**
 * Where each attached image of the conversation is saved, relative to the .md file, by sha256:
 * `images/<imageFileName>`, in order of first appearance; a name already taken by another image
 * gets `-2`, `-3`… before its extension (compared case-insensitively, as macOS and Windows do).
 */
export function archiveImagePaths(conversation: ExportConversation): Map<string, string> {
  const paths = new Map<string, string>();
  const taken = new Set<string>();
  for (const m of conversation.messages) {
    for (const a of m.attachments) {
      if (paths.has(a.sha256)) continue;
      const name = imageFileName(a);
      const dot = name.lastIndexOf('.');
      const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
      let unique = name;
      for (let n = 2; taken.has(unique.toLowerCase()); n++) unique = `${stem}-${n}${ext}`;
      taken.add(unique.toLowerCase());
      paths.set(a.sha256, `${IMAGES_DIR}/${unique}`);
    }
  }
  return paths;
}

/**
 * The .zip of the conversation: `<stem>/<stem>.md` and `<stem>/images/…` with the bytes in
 * `images` (by sha256; an image missing there is named in the .md as not included). Images are
 * stored as they are (already compressed), the text deflated. Returns the archive's bytes and
 * its file name (`<stem>.zip`, {@link safeFileName} of the title).
 */
export function conversationToArchive(
  conversation: ExportConversation,
  images: ReadonlyMap<string, Uint8Array>,
  exportedAt: Date,
): { name: string; bytes: Uint8Array } {
  const stem = safeFileName(conversation.title, '');
  const saved = new Map([...archiveImagePaths(conversation)].filter(([sha]) => images.has(sha)));
  const folder: Zippable = { [`${stem}.md`]: strToU8(conversationToMarkdown(conversation, exportedAt, saved)) };
  const files: Zippable = {};
  for (const [sha, at] of saved) files[at.slice(IMAGES_DIR.length + 1)] = [images.get(sha)!, { level: 0 }];
  if (saved.size > 0) folder[IMAGES_DIR] = files;
  const mtime = exportedAt;
  return { name: `${stem}.zip`, bytes: zipSync({ [stem]: folder }, { level: 6, mtime }) };
}
