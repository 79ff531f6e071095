// Saving an export: a blob download through `<a download>`, which the browser saves (or
// asks where to) and Electron answers with its save dialog.

/**
 * Offers `content` as a download named `fileName`. Works in the browser served by
 * `omnifusion serve` and in the Electron window (which shows its save dialog for downloads).
 */
export function downloadText(fileName: string, content: string, mime: string): void {
  downloadBlob(fileName, new Blob([content], { type: mime }));
}

/** Offers `blob` as a download named `fileName` (see {@link downloadText}). */
export function downloadBlob(fileName: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.append(link);
  try {
    link.click();
  } finally {
    link.remove();
    // The download has started from the URL by now; keep it a while for slow save dialogs.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}
