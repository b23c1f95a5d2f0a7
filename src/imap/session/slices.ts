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
 * limit: a slow disk or a slow CPU gets smaller transactions instead of
 * longer stalls. The size is learned per kind of work (a SliceSize each) and
 * kept from one command to the next: only the first command starts from the
 * smallest (a machine where 500 messages cost 30 ms stalls no one to find
 * out), later ones start where the last left off. Each slice is a commit
 * (an fsync on SQLite): a 3,000-message STORE that slow-started every time
 * took 8 of them instead of 6, at 1–5 ms each on a busy disk (issue 21).
 */
import { performance } from 'node:perf_hooks';
import { yieldToLoop } from '../../store/shared/background.js';

/** What one slice should cost at most: event-loop busy time, counted up to the CPU time. */
const SLICE_TARGET_MS = 8;
/** Slices never shrink below this (or the limit, when smaller): each transaction has a fixed cost. */
const MIN_SLICE = 100;

/** The slice size of one kind of long work (flag changes, expunges, copies), learned across its commands. */
export class SliceSize {
  /** The size the last command ended with; 0 before the first. */
  private learned = 0;

  /** Runs `run` on consecutive slices of `items`, at most `limit` each, yielding to the event loop between them. */
  async inSlices<T>(items: readonly T[], limit: number, run: (slice: readonly T[]) => Promise<void>): Promise<void> {
    const smallest = Math.min(limit, MIN_SLICE);
    // Slow start on the first command only; the limit may have changed since (configuration).
    let next = Math.min(limit, Math.max(smallest, this.learned));
    for (let start = 0; start < items.length; ) {
      if (start > 0) await yieldToLoop();
      const slice = items.slice(start, start + next);
      // A short last slice is not measured: it says little about a full one, and most commands are one short
      // slice, where two process.cpuUsage() calls (getrusage) cost a worker ~13 ms per 1,000 mixed-workload commands.
      if (start + slice.length >= items.length && slice.length < next) {
        await run(slice);
        break;
      }
      const loopBefore = performance.eventLoopUtilization();
      const cpuBefore = process.cpuUsage();
      await run(slice);
      const cpu = process.cpuUsage(cpuBefore);
      const busyMs = Math.min(performance.eventLoopUtilization(loopBefore).active, (cpu.user + cpu.system) / 1000);
      start += slice.length;
      if (busyMs > SLICE_TARGET_MS) next = Math.max(smallest, next >> 1);
      else if (busyMs < SLICE_TARGET_MS / 2) next = Math.min(limit, next * 2);
    }
    this.learned = next;
  }
}
