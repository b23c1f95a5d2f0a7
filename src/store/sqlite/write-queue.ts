/**
 * The SQLite store's one way to write: a FIFO of transaction bodies that
 * commit together (group commit for every kind of write) and that wait for
 * another process's write lock without blocking the event loop (issue 21).
 *
 * Invariants:
 * - The connection never sleeps inside SQLite for the write lock: BEGIN
 *   IMMEDIATE runs with busy_timeout 0 and SQLITE_BUSY is retried on a timer
 *   with backoff, so a `mailkeep deliver` or an import holding the lock for
 *   seconds leaves every session of this process answering. A sibling
 *   worker's commit, relayed right after its COMMIT, retries at once
 *   (`lockReleased`): the timer is the fallback for processes that relay
 *   nothing (deliver, import) and for a relay message that comes late.
 * - A body waits at most `maxWaitMs` for the lock; then its promise rejects
 *   with StoreError UNAVAILABLE (RFC 5530 §3) and the body never runs.
 * - Bodies are synchronous (better-sqlite3), so the lock is never held across
 *   the event loop (DESIGN invariant 5). They run in the order queued, each in
 *   its own SAVEPOINT: a failure undoes only that body's changes.
 * - Every promise settles only after the shared COMMIT (DESIGN invariant 1).
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../types.js';
import { timeCommit } from '../../metrics/metrics.js';

/** Options of a WriteQueue. */
export interface WriteQueueOptions {
  /** How long a body may wait for another process's write lock before UNAVAILABLE, in ms. */
  maxWaitMs: number;
  /** How long SQLite itself may wait for a lock outside the queue (a reader meeting WAL recovery), in ms. */
  readBusyTimeoutMs: number;
  /** Bodies committed in one transaction at most; the rest follow in the next turn (default 256). */
  maxBatch?: number;
}

interface Pending {
  fn: () => unknown;
  /** Date.now() after which the body gives up waiting for the lock. */
  deadline: number;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const DEFAULT_MAX_BATCH = 256;
/** Backoff between BEGIN IMMEDIATE attempts while another process holds the lock: 1, 2, 4, 8, 10, 10 … ms. */
const MAX_RETRY_MS = 10;

/** Whether err is SQLite's "the lock is held by another connection" (any SQLITE_BUSY_* variant). */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Runs write transaction bodies in order, in group commits, waiting for the lock asynchronously. */
export class WriteQueue {
  private readonly queue: Pending[] = [];
  /** A drain is scheduled (setImmediate) or waiting for the lock (timer). */
  private scheduled = false;
  /** The backoff timer while waiting for another connection's lock. */
  private retryTimer: NodeJS.Timeout | null = null;
  /** lockReleased() tried in this synchronous run: a relayed batch of several commits retries once. */
  private retriedOnRelay = false;
  private retryMs = 0;
  private readonly maxBatch: number;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly noWait: Database.Statement;
  private readonly readWait: Database.Statement;
  /** A nested better-sqlite3 transaction is a SAVEPOINT inside ours. */
  private readonly savepoint: (fn: () => unknown) => unknown;
  private idleWaiters: Array<() => void> = [];

  /** Prepares the statements on `db` and sets its SQLite busy timeout to `readBusyTimeoutMs`. */
  constructor(
    private readonly db: Database.Database,
    private readonly opts: WriteQueueOptions,
  ) {
    this.maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.noWait = db.prepare('PRAGMA busy_timeout = 0');
    this.readWait = db.prepare(`PRAGMA busy_timeout = ${Math.trunc(opts.readBusyTimeoutMs)}`);
    this.readWait.get();
    const tx = db.transaction((fn: () => unknown) => fn());
    this.savepoint = (fn) => tx.deferred(fn);
  }

  /** Queues fn for the next write transaction; resolves with its result once that transaction committed. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, deadline: Date.now() + this.opts.maxWaitMs, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // The next turn: the writes queued in this one share the commit (one fsync).
        setImmediate(() => this.drain());
      }
    });
  }

  /** Another process released the write lock (a sibling's commit arrived): a waiting queue tries again now. */
  lockReleased(): void {
    if (this.retryTimer === null || this.retriedOnRelay) return;
    this.retriedOnRelay = true;
    queueMicrotask(() => {
      this.retriedOnRelay = false;
    });
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.drain();
  }

  /** Resolves once nothing is queued (every body committed, failed or gave up: at most maxWaitMs). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    this.scheduled = false;
    this.retryTimer = null;
    if (!this.db.open) {
      for (const p of this.queue.splice(0)) p.reject(new Error('the store is closed'));
    }
    if (this.queue.length === 0) return this.settleIdle();
    let locked: boolean;
    try {
      locked = this.tryBegin();
    } catch (err) {
      // Not a lock wait (disk, closed connection): every waiting body fails with it.
      for (const p of this.queue.splice(0)) p.reject(err);
      return this.settleIdle();
    }
    if (!locked) return this.waitForLock();
    this.retryMs = 0;
    this.runBatch(this.queue.splice(0, this.maxBatch));
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    } else {
      this.settleIdle();
    }
  }

  /** BEGIN IMMEDIATE without letting SQLite sleep: false when another connection holds the lock. */
  private tryBegin(): boolean {
    this.noWait.get();
    try {
      this.begin.run();
      return true;
    } catch (err) {
      if (isBusyError(err)) return false;
      throw err;
    } finally {
      this.readWait.get();
    }
  }

  /** Gives up on the bodies whose wait ran out, and tries again after the backoff. */
  private waitForLock(): void {
    const now = Date.now();
    // Deadlines grow along the queue (one maxWaitMs for all): the expired ones are at its head.
    let expired = 0;
    while (expired < this.queue.length && this.queue[expired]!.deadline <= now) expired++;
    for (const p of this.queue.splice(0, expired)) {
      p.reject(new StoreError('UNAVAILABLE', 'the mail store is locked by another process; try again later'));
    }
    if (this.queue.length === 0) return this.settleIdle();
    this.retryMs = Math.min(MAX_RETRY_MS, Math.max(1, this.retryMs * 2));
    this.scheduled = true;
    this.retryTimer = setTimeout(() => this.drain(), this.retryMs);
  }

  /** Runs the bodies inside the open transaction, commits, then settles their promises. */
  private runBatch(batch: readonly Pending[]): void {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const started = performance.now();
    try {
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, value: this.savepoint(item.fn) });
        } catch (error) {
          // Some errors (disk full, I/O) make SQLite roll back the whole transaction: then nothing here committed.
          if (!this.db.inTransaction) throw error;
          outcomes.push({ ok: false, error });
        }
      }
      this.commit.run();
      timeCommit('sqlite', started);
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  }

  private settleIdle(): void {
    if (this.queue.length > 0 || this.scheduled) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
