/**
 * Pacing and bookkeeping of the background jobs both backends run: blob GC
 * and the release of expunged messages after their retention (RFC 2180 §4.1).
 */

/** Blob rows (and files) removed per GC round; the loop yields between batches. */
export const GC_BATCH = 200;
/** Tombstones released per write transaction; the loop yields between batches. */
export const RELEASE_BATCH = 500;
/** How long expunged messages stay fetchable by default. */
export const DEFAULT_RETENTION_MS = 60 * 60 * 1000;
/** The retention sweep runs this often, or once per retention period when that is shorter (but not below a second). */
const RELEASE_PERIOD_MS = 5 * 60 * 1000;
const MIN_RELEASE_PERIOD_MS = 1000;

/** The period of the retention sweep for a retention of `retentionMs`. */
export function releasePeriodMs(retentionMs: number): number {
  return Math.max(MIN_RELEASE_PERIOD_MS, Math.min(RELEASE_PERIOD_MS, retentionMs));
}

/** Lets other work run between the batches of a long background job. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Event-loop time a stretch of in-memory work over client input (SEARCH, LIST matching) takes before it yields. */
const WORK_SLICE_MS = 4;

/** Tells a long in-memory loop when its slice of the event loop is spent: `if (slice.spent()) await slice.yield()`. */
export class WorkSlice {
  private start = performance.now();

  spent(): boolean {
    return performance.now() - this.start >= WORK_SLICE_MS;
  }

  async yield(): Promise<void> {
    await yieldToLoop();
    this.start = performance.now();
  }
}

/**
 * Work written once for two callers: a generator that yields (nothing) at
 * points where it may pause, every few hundred items of a long loop. runNow
 * runs it to the end in one go (a small change, where a promise step would
 * only cost); runSliced lets the event loop run whenever a WorkSlice is spent.
 */
export type Steps<T> = Generator<void, T, void>;

/** Items a step loop handles between two pause points (a check of the clock costs more than one item). */
export const ITEMS_PER_STEP = 256;

/** Calls `fn` on each item, with a pause point after every ITEMS_PER_STEP items. */
export function* eachStep<T>(items: readonly T[], fn: (item: T) => void): Steps<void> {
  for (let i = 0; i < items.length; i++) {
    fn(items[i]!);
    if (i % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield;
  }
}

/** Runs the steps to the end without pausing. */
export function runNow<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs the steps, yielding to the event loop whenever a WorkSlice is spent. */
export async function runSliced<T>(steps: Steps<T>): Promise<T> {
  const slice = new WorkSlice();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (slice.spent()) await slice.yield();
  }
}

/** The default receiver of background errors: a process warning. */
export function warnBackgroundError(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'MailStoreBackgroundError');
}

/** Background runs (GC, release) whose failures go to onError and that close() waits for. */
export class BackgroundJobs {
  private readonly pending = new Set<Promise<void>>();

  /** Sends every failure to `onError`. */
  constructor(private readonly onError: (err: unknown) => void) {}

  /** Runs a task; a failure goes to onError, never to the caller whose change committed. */
  async run(task: () => Promise<unknown>): Promise<void> {
    const run = task().then(() => undefined, this.onError);
    this.pending.add(run);
    try {
      await run;
    } finally {
      this.pending.delete(run);
    }
  }

  /** Resolves once every run started so far has ended. */
  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }
}
