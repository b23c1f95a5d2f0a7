/**
 * WAL checkpoints off the event loop (issue 21). SQLite's default runs a
 * checkpoint inside whichever COMMIT grows the WAL past 1000 pages: it copies
 * those pages into the database file and fsyncs it, 10–30 ms on this
 * project's test machine, on the thread that committed. A server instead
 * turns autocheckpoint off on its connection and lets a worker thread with
 * its own connection run a PASSIVE checkpoint every interval
 * (checkpoint-worker.ts).
 *
 * Invariants: PASSIVE checkpoints never take the write lock or wait, so
 * writers and readers of every process go on meanwhile; durability does not
 * depend on them (a commit is durable once in the WAL, synchronous=FULL). If
 * the thread fails, the connection's autocheckpoint is switched back on, so
 * the WAL never grows without bound.
 */
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** What the thread is started with. */
export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

/** One checkpoint's outcome, as the thread reports it. */
export interface CheckpointReport {
  /** How long it took, in ms. */
  ms: number;
  /** Frames in the WAL, and how many of them are now in the database file. */
  walFrames: number;
  checkpointed: number;
}

/** Totals since the start, for metrics and tests. */
export interface CheckpointStats {
  runs: number;
  /** The slowest checkpoint, in ms (off the event loop). */
  maxMs: number;
  /** WAL frames in the database file after the last run. */
  lastCheckpointed: number;
  /** Whether the thread has failed and the connection checkpoints itself again. */
  fallback: boolean;
}

/** SQLite's default threshold, restored when the thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;
/** How long close() waits for the thread to finish its checkpoint before terminating it. */
const STOP_WAIT_MS = 5000;

/** Runs the WAL checkpoints of `db` (the file at `path`) in a worker thread; see the module comment. */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private stopping = false;
  private readonly stats: CheckpointStats = { runs: 0, maxMs: 0, lastCheckpointed: 0, fallback: false };

  /** Starts the thread and turns the connection's own checkpoints off. */
  constructor(
    private readonly db: Database.Database,
    path: string,
    intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {
    const data: CheckpointWorkerData = { path, intervalMs };
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: data });
    // The thread alone must not keep the process alive.
    this.worker.unref();
    db.pragma('wal_autocheckpoint = 0');
    this.worker.on('message', (msg: CheckpointReport | { error: string }) => {
      if ('error' in msg) return this.onError(new Error(`WAL checkpoint: ${msg.error}`));
      this.stats.runs++;
      this.stats.maxMs = Math.max(this.stats.maxMs, msg.ms);
      this.stats.lastCheckpointed = msg.checkpointed;
    });
    this.worker.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        if (!this.stopping) this.fail(new Error(`WAL checkpoint thread exited with ${code}`));
        resolve();
      }),
    );
  }

  /** Totals so far. */
  current(): CheckpointStats {
    return { ...this.stats };
  }

  /** Stops the thread (after its checkpoint under way); the connection checkpoints itself again. */
  async close(): Promise<void> {
    this.stopping = true;
    this.worker.postMessage('stop');
    const timer = setTimeout(() => void this.worker.terminate(), STOP_WAIT_MS);
    await this.exited;
    clearTimeout(timer);
    this.restoreAutocheckpoint();
  }

  private fail(err: unknown): void {
    if (this.stats.fallback) return;
    this.stats.fallback = true;
    this.restoreAutocheckpoint();
    this.onError(err);
  }

  private restoreAutocheckpoint(): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}
