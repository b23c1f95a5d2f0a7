/**
 * Noticing that certificate files changed, e.g. certbot's renewal, which
 * swaps the symlinks in live/<name>/ for new ones. Polling stat (fs.watchFile)
 * follows symlinks and survives the file being replaced, where inotify on the
 * old file would not; a few files every two seconds cost nothing.
 *
 * Invariants: several changes close together (certificate, then key) give one
 * call, after they have settled; watching never keeps the process alive.
 */
import { type Stats, unwatchFile, watchFile } from 'node:fs';

/** How often each file is checked. */
export const WATCH_INTERVAL_MS = 2000;
/** Quiet time after the last change before `onChange` runs, so a pair replaced file by file is read once. */
export const WATCH_SETTLE_MS = 1000;

/** Calls `onChange` after any of `files` changed (content, inode, appearance); returns the function that stops watching. */
export function watchFiles(files: readonly string[], onChange: () => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  const listener = (current: Stats, before: Stats): void => {
    if (current.mtimeMs === before.mtimeMs && current.ino === before.ino && current.size === before.size) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange();
    }, WATCH_SETTLE_MS);
    timer.unref();
  };
  const unique = [...new Set(files)];
  for (const file of unique) watchFile(file, { persistent: false, interval: WATCH_INTERVAL_MS }, listener);
  return () => {
    if (timer) clearTimeout(timer);
    for (const file of unique) unwatchFile(file, listener);
  };
}
