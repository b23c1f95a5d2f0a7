/**
 * Row shapes of the PostgreSQL store (../shared/rows.ts with T = Date: bigint
 * columns arrive as numbers (pool.ts), timestamptz as Date) and count deltas.
 */
import { DELETED, SEEN } from '../shared/flags.js';
import type { AccountRow as SharedAccountRow, NewRow as SharedNewRow, RecordRow as SharedRecordRow } from '../shared/rows.js';

/** An accounts row as PostgreSQL returns it. */
export type AccountRow = SharedAccountRow<Date>;
/** A messages row as PostgreSQL returns it. */
export type RecordRow = SharedRecordRow<Date>;
/** A message row about to be inserted. */
export type NewRow = SharedNewRow<Date>;

/** Changes to a mailbox's aggregate columns. */
export interface CountDelta {
  messages: number;
  size: number;
  unseen: number;
  deleted: number;
  recent: number;
}

/**
 * Count deltas of adding (sign 1) or removing (sign -1) rows. A row counts as
 * recent when its UID is at or above `firstRecent`; rows without a UID are
 * new, and new UIDs are never below first_recent_uid (it never exceeds uid_next).
 */
export function countDelta(rows: readonly { uid?: number; system_flags: number; size: number }[], sign: 1 | -1, firstRecent: number): CountDelta {
  const d: CountDelta = { messages: 0, size: 0, unseen: 0, deleted: 0, recent: 0 };
  for (const r of rows) {
    d.messages += sign;
    d.size += sign * r.size;
    if ((r.system_flags & SEEN) === 0) d.unseen += sign;
    if ((r.system_flags & DELETED) !== 0) d.deleted += sign;
    if (r.uid === undefined || r.uid >= firstRecent) d.recent += sign;
  }
  return d;
}
