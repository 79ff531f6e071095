/**
 * Where an in-page capture comes from: one frame of the screen (getDisplayMedia, the system
 * picker) or an image file. Either way the result is decoded once into an ImageBitmap (the pixels
 * the crop is cut from) plus an object URL the overlay displays.
 */

/** A decoded image the overlay shows and the crop is cut from. Call close() when done. */
export interface CaptureSource {
  /** The pixels, decoded without colour conversion, EXIF orientation applied. */
  bitmap: ImageBitmap;
  /** blob: URL of the same image for the overlay's <img>. */
  url: string;
  width: number;
  height: number;
  close(): void;
}

/** Options that keep the decoded pixels equal to the file's (no colour management). */
const DECODE: ImageBitmapOptions = { colorSpaceConversion: 'none', imageOrientation: 'from-image' };

/** True where the page may ask for a screen frame (a secure context in a browser that has it). */
export function screenCaptureAvailable(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
}

function sourceOf(bitmap: ImageBitmap, blob: Blob): CaptureSource {
  const url = URL.createObjectURL(blob);
  return {
    bitmap,
    url,
    width: bitmap.width,
    height: bitmap.height,
    close() {
      bitmap.close();
      URL.revokeObjectURL(url);
    },
  };
}

/**
 * An image file as a capture source.
 * @throws Error with a message for the user when the file is not an image the browser decodes.
 */
export async function sourceFromFile(file: Blob): Promise<CaptureSource> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, DECODE);
  } catch {
    throw new Error('That file is not an image this browser can open.');
  }
  if (bitmap.width === 0 || bitmap.height === 0) {
    bitmap.close();
    throw new Error('That image is empty.');
  }
  return sourceOf(bitmap, file);
}

/** Wait until `video` has a frame to draw (requestVideoFrameCallback where present). */
function firstFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The screen capture sent no picture.')), 10_000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    if (typeof video.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(() => done());
    else if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) done();
    else video.addEventListener('loadeddata', done, { once: true });
  });
}

/**
 * One frame of a screen, window or tab the user picks in the system's picker, at the resolution
 * the browser captures (physical pixels for a screen). The stream is stopped as soon as the frame
 * is taken, so the "sharing" indicator goes away at once.
 * @returns null when the user closed the picker without choosing.
 * @throws Error with a message for the user when capture is impossible here.
 */
export async function sourceFromScreen(): Promise<CaptureSource | null> {
  if (!screenCaptureAvailable()) throw new Error('Screen capture is not available in this browser (it needs https or localhost).');
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    const name = (err as { name?: string })?.name;
    if (name === 'NotAllowedError' || name === 'AbortError') return null;
    throw new Error(`The screen could not be captured: ${(err as Error)?.message ?? String(err)}`);
  }
  const video = document.createElement('video');
  const stop = (): void => {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  try {
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play();
    await firstFrame(video);
    if (video.videoWidth === 0 || video.videoHeight === 0) throw new Error('The screen capture sent an empty picture.');
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('The screen capture could not be drawn.');
    ctx.drawImage(video, 0, 0);
    stop(); // the frame is taken: end the sharing now, before the (slow) PNG encode
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
    if (!blob) throw new Error('The screen capture could not be encoded.');
    const bitmap = await createImageBitmap(canvas);
    return sourceOf(bitmap, blob);
  } finally {
    stop();
  }
}
