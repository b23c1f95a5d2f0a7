/**
 * Long work in slices (DESIGN.md "Budgets": long work never blocks other
 * sessions). A command over many messages commits them in store transactions
 * of at most `limits.messages-per-transaction` messages and lets the event
 * loop run between them, so another session's command waits for one slice,
 * not for the whole command. Each slice is durable when its transaction
 * commits; a command answers OK only after its last slice.
 *
 * The size adapts to what a slice costs (issue 18, finding 10): the time
 * the event loop was busy (SQLite works synchronously; PostgreSQL's waits do
 * not count), but no more than the process's CPU time, so that a machine
 * where other processes take the CPU does not shrink the slices to no
 * avail (there the scheduler, not the slice, delays other sessions, and
 * small slices only add transactions). A slice that cost more than
 * SLICE_TARGET_MS halves the next one, a cheap one doubles it up to the
 * limit (starting from the smallest): a slow disk or a slow CPU gets smaller
 * transactions instead of longer stalls.
 */
import { performance } from 'node:perf_hooks';
import { yieldToLoop } from '../../store/shared/background.js';

/** What one slice should cost at most: event-loop busy time, counted up to the CPU time. */
const SLICE_TARGET_MS = 8;
/** Slices never shrink below this (or the limit, when smaller): each transaction has a fixed cost. */
const MIN_SLICE = 100;

/** Runs `run` on consecutive slices of `items`, at most `size` each, yielding to the event loop between them. */
export async function inSlices<T>(items: readonly T[], size: number, run: (slice: readonly T[]) => Promise<void>): Promise<void> {
  const smallest = Math.min(size, MIN_SLICE);
  // Slow start: the first slice is the smallest, so a machine where 500 messages cost 30 ms stalls no one to find out.
  let next = smallest;
  for (let start = 0; start < items.length; ) {
    if (start > 0) await yieldToLoop();
    const slice = items.slice(start, start + next);
    // The last slice's cost sizes nothing: measure only when another follows. Most commands are one
    // slice, and process.cpuUsage() (getrusage) cost a worker ~13 ms per 1,000 commands of the mixed workload.
    if (start + slice.length >= items.length) return run(slice);
    const loopBefore = performance.eventLoopUtilization();
    const cpuBefore = process.cpuUsage();
    await run(slice);
    const cpu = process.cpuUsage(cpuBefore);
    const busyMs = Math.min(performance.eventLoopUtilization(loopBefore).active, (cpu.user + cpu.system) / 1000);
    start += slice.length;
    if (busyMs > SLICE_TARGET_MS) next = Math.max(smallest, next >> 1);
    else if (busyMs < SLICE_TARGET_MS / 2) next = Math.min(size, next * 2);
  }
}
