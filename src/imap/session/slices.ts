/**
 * Long work in slices (DESIGN.md "Budgets": long work never blocks other
 * sessions). A command over many messages commits them in store transactions
 * of at most `limits.messages-per-transaction` messages and lets the event
 * loop run between them, so another session's command waits for one slice,
 * not for the whole command. Each slice is durable when its transaction
 * commits; a command answers OK only after its last slice.
 *
 * The size adapts to what a slice costs the event loop (SQLite works
 * synchronously; PostgreSQL's waits do not count): a slice that kept the loop
 * busy longer than SLICE_TARGET_MS halves the next one, a cheap one doubles
 * it back up to the limit, so a slow disk or a busy machine gets smaller
 * transactions instead of longer stalls (issue 18, finding 10).
 */
import { performance } from 'node:perf_hooks';
import { yieldToLoop } from '../../store/shared/background.js';

/** Event-loop time one slice should take at most. */
const SLICE_TARGET_MS = 8;
/** Slices never shrink below this (or the limit, when smaller): each transaction has a fixed cost. */
const MIN_SLICE = 100;

/** Runs `run` on consecutive slices of `items`, at most `size` each, yielding to the event loop between them. */
export async function inSlices<T>(items: readonly T[], size: number, run: (slice: readonly T[]) => Promise<void>): Promise<void> {
  const smallest = Math.min(size, MIN_SLICE);
  let next = size;
  for (let start = 0; start < items.length; ) {
    if (start > 0) await yieldToLoop();
    const slice = items.slice(start, start + next);
    const before = performance.eventLoopUtilization();
    await run(slice);
    const busyMs = performance.eventLoopUtilization(before).active;
    start += slice.length;
    if (busyMs > SLICE_TARGET_MS) next = Math.max(smallest, next >> 1);
    else if (busyMs < SLICE_TARGET_MS / 2) next = Math.min(size, next * 2);
  }
}
