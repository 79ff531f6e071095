/**
 * Images waiting in the composer. Every source (file picker, drop, paste, camera) ends in
 * `addFiles`: the bytes are stored at once through attachments.add (validated and deduplicated by
 * sha256 on the other side), and a local blob: preview shows while that runs.
 */
import type { CaptureMode } from '../../../main/api/capture';
import type { AttachmentInfo, OmniFusionApi } from '../../../main/api/contract';
import { placeholderFor } from '../capture/question';
import { errorMessage } from '../platform/errors';
import { ui } from './ui.svelte';

export interface PendingAttachment {
  key: number;
  name: string;
  previewUrl: string;
  status: 'uploading' | 'ready' | 'error';
  info?: AttachmentInfo;
  error?: string;
  /** Set for a screenshot crop: its default question mode (Enter on an empty box asks it). */
  capture?: CaptureMode;
}

/** Images one message may carry (the API service refuses more). */
export const MAX_IMAGES_PER_MESSAGE = 8;

/** Largest file sent (the web bridge takes 96 MiB of base64). */
export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;
const IMAGE_EXTENSIONS = /\.(png|jpe?g|gif|webp|bmp|tiff?|heic|heif|avif)$/i;

/** True for a file that looks like an image (type, or extension when the type is missing). */
export function isImageFile(file: File): boolean {
  return file.type.startsWith('image/') || (file.type === '' && IMAGE_EXTENSIONS.test(file.name));
}

/** The image files of a paste or drop: items first (they carry screenshots), else files. */
export function imageFilesOf(data: DataTransfer | null): { images: File[]; others: number } {
  if (!data) return { images: [], others: 0 };
  const fromItems: File[] = [];
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind !== 'file') continue;
    const file = item.getAsFile();
    if (file) fromItems.push(file);
  }
  const all = fromItems.length > 0 ? fromItems : Array.from(data.files ?? []);
  const images = all.filter(isImageFile);
  return { images, others: all.length - images.length };
}

/** Free a blob: preview (a capture's preview is the stored file's URL: nothing to free). */
function revokePreview(url: string): void {
  if (url.startsWith('blob:')) URL.revokeObjectURL(url);
}

/** The newest screenshot crop among `list`. */
function lastCapture(list: readonly PendingAttachment[]): PendingAttachment | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.capture) return list[i];
  return undefined;
}

class ComposerState {
  attachments = $state<PendingAttachment[]>([]);
  uploading = $derived(this.attachments.some((a) => a.status === 'uploading'));
  ready = $derived(this.attachments.filter((a) => a.status === 'ready'));
  /** The newest attached screenshot crop's mode, or null when none is attached. */
  captureMode = $derived<CaptureMode | null>(lastCapture(this.attachments)?.capture ?? null);
  /** The question box's placeholder: the default question while a capture is attached. */
  placeholder = $derived(placeholderFor(this.captureMode));
  /** Bumped to ask the composer textarea to take focus. */
  focusRequest = $state(0);
  /** Text another part of the window asks to add to the draft (e.g. a recognised formula); `n` makes each request new. */
  insertion = $state<{ text: string; n: number } | null>(null);
  #key = 1;
  #api: OmniFusionApi | undefined;

  init(api: OmniFusionApi): void {
    this.#api = api;
  }

  focus(): void {
    this.focusRequest++;
  }

  /** Add `text` to the draft (on a line of its own) and focus the composer. */
  insert(text: string): void {
    this.insertion = { text, n: (this.insertion?.n ?? 0) + 1 };
    this.focus();
  }

  /** Attach image files; anything else is refused with a note. */
  addFiles(files: File[], others = 0): void {
    let images = files.filter(isImageFile);
    const refused = others + files.length - images.length;
    if (refused > 0) ui.toast(refused === 1 ? 'Only images can be attached.' : `${refused} files were not images and were skipped.`, 'error');
    const room = MAX_IMAGES_PER_MESSAGE - this.attachments.length;
    if (images.length > room) {
      ui.toast(`At most ${MAX_IMAGES_PER_MESSAGE} images per message.`, 'error');
      images = images.slice(0, Math.max(0, room));
    }
    for (const file of images) void this.#add(file);
    if (images.length > 0) this.focus();
  }

  async #add(file: File): Promise<void> {
    const key = this.#key++;
    const name = file.name || 'image.png';
    this.attachments.push({ key, name, previewUrl: URL.createObjectURL(file), status: 'uploading' });
    const entry = (): PendingAttachment | undefined => this.attachments.find((a) => a.key === key);
    const fail = (message: string): void => {
      const a = entry();
      if (!a) return;
      a.status = 'error';
      // Messages from the server often start with the file name already: show it once.
      a.error = message.startsWith(name) ? message : `${name}: ${message}`;
    };
    if (file.size > MAX_ATTACHMENT_BYTES) return fail(`${name} is larger than ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB.`);
    if (!this.#api) return fail('Not connected.');
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const info = await this.#api.call('attachments.add', { name, bytes });
      const a = entry();
      if (!a) return; // removed while uploading
      if (this.attachments.some((o) => o.key !== key && o.info?.sha256 === info.sha256)) {
        this.remove(key);
        ui.toast(`${name} is already attached.`);
        return;
      }
      a.status = 'ready';
      a.info = info;
      // From now on the thumbnail is the stored rendition the model sees (a CMYK JPEG, say, is
      // served as the model's own pixels, not the browser's decoding of the file).
      if (a.previewUrl.startsWith('blob:')) URL.revokeObjectURL(a.previewUrl);
      a.previewUrl = info.url;
    } catch (err) {
      fail(errorMessage(err));
    }
  }

  /**
   * Attach a screenshot crop that is already stored (the desktop capture, the quick-ask window,
   * the in-page capture) and put the cursor in the question box; the placeholder shows the
   * mode's default question, which Enter on an empty box sends, and Esc on an empty box removes
   * the crop again (Composer.svelte).
   */
  attachCapture(attachment: AttachmentInfo, mode: CaptureMode): void {
    const existing = this.attachments.find((a) => a.info?.sha256 === attachment.sha256);
    if (existing) {
      // The same crop again: one thumbnail, now the newest capture.
      this.attachments.splice(this.attachments.indexOf(existing), 1);
      this.attachments.push({ ...existing, capture: mode });
    } else if (this.attachments.length >= MAX_IMAGES_PER_MESSAGE) {
      ui.toast(`At most ${MAX_IMAGES_PER_MESSAGE} images per message: remove one to attach the screenshot.`, 'error');
      return;
    } else {
      this.attachments.push({
        key: this.#key++,
        name: attachment.name || 'screenshot.png',
        previewUrl: attachment.url,
        status: 'ready',
        info: attachment,
        capture: mode,
      });
    }
    this.focus();
  }

  /** Remove the newest screenshot crop (Esc on an empty question). @returns whether one was removed. */
  removeCapture(): boolean {
    const last = lastCapture(this.attachments);
    if (!last) return false;
    this.remove(last.key);
    return true;
  }

  remove(key: number): void {
    const i = this.attachments.findIndex((a) => a.key === key);
    if (i < 0) return;
    revokePreview(this.attachments[i]!.previewUrl);
    this.attachments.splice(i, 1);
  }

  clear(): void {
    for (const a of this.attachments) revokePreview(a.previewUrl);
    this.attachments = [];
  }
}

export const composer = new ComposerState();
