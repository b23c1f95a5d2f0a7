/**
 * Long work in slices (DESIGN.md "Budgets": long work never blocks other
 * sessions). A command over many messages commits them in store transactions
 * of at most `limits.messages-per-transaction` messages and lets the event
 * loop run between them, so another session's command waits for one slice,
 * not for the whole command. Each slice is durable when its transaction
 * commits; a command answers OK only after its last slice.
 */
import { yieldToLoop } from '../../store/shared/background.js';

/** Runs `run` on consecutive slices of `items`, at most `size` each, yielding to the event loop between them. */
export async function inSlices<T>(items: readonly T[], size: number, run: (slice: readonly T[]) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    if (start > 0) await yieldToLoop();
    await run(items.slice(start, start + size));
  }
}
