/**
 * Noticing that certificate files changed, e.g. certbot's renewal, which
 * swaps the symlinks in live/<name>/ for new ones, or a certificate the ACME
 * client of another process wrote into the data directory. Polling stat
 * (fs.watchFile) follows symlinks, survives the file being replaced and sees
 * a path appear, where inotify on the old file would not; a few paths every
 * two seconds cost nothing.
 *
 * Invariants: several changes close together (certificate, then key) give one
 * call, after they have settled; a path watched already keeps its baseline
 * when the list is updated, so no change is lost in between; watching never
 * keeps the process alive.
 */
import { type Stats, unwatchFile, watchFile } from 'node:fs';

/** How often each path is checked. */
export const WATCH_INTERVAL_MS = 2000;
/** Quiet time after the last change before `onChange` runs, so a pair replaced file by file is read once. */
export const WATCH_SETTLE_MS = 1000;

/** Calls `onChange` once changes to the watched paths (content, inode, appearance, entries of a directory) have settled. */
export class FileWatch {
  private readonly watched = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly listener = (current: Stats, before: Stats): void => {
    if (current.mtimeMs === before.mtimeMs && current.ino === before.ino && current.size === before.size) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onChange();
    }, WATCH_SETTLE_MS);
    this.timer.unref();
  };

  constructor(private readonly onChange: () => void) {}

  /** Watches exactly `paths` from now on: new ones are added, others dropped, the rest untouched. */
  update(paths: readonly string[]): void {
    const wanted = new Set(paths);
    for (const path of this.watched) {
      if (wanted.has(path)) continue;
      unwatchFile(path, this.listener);
      this.watched.delete(path);
    }
    for (const path of wanted) {
      if (this.watched.has(path)) continue;
      watchFile(path, { persistent: false, interval: WATCH_INTERVAL_MS }, this.listener);
      this.watched.add(path);
    }
  }

  close(): void {
    this.update([]);
    if (this.timer) clearTimeout(this.timer);
  }
}
