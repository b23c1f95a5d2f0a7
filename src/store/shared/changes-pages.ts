/**
 * changesSince in pages, for both backends (issue 18, finding 10): a session
 * catching up on a huge change (the sync after a 64,000-message STORE or
 * EXPUNGE) reads the changed rows and the tombstones in pages of
 * CHANGES_PAGE by (modseq, uid), yielding to the event loop between pages,
 * so no single read holds the process (better-sqlite3 is synchronous) or
 * builds one huge result (PostgreSQL).
 *
 * Consistency: each page reads both lists after their cursors and the
 * mailbox row in one snapshot (one transaction, one statement). The answer
 * is complete once a page finds both lists short: a change committed while
 * paging gets a modseq above both cursors, so that last page (or an earlier
 * one after it) sees it, and the answer's modseq is that snapshot's. A row
 * read twice keeps its later state; a row expunged after it was read is
 * left out (UIDs are never reused, RFC 9051 §2.3.1.1).
 */
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { MailboxChanges, MessageSummary } from '../types.js';
import { yieldToLoop } from './background.js';
import { toSummary, type FlagRow } from './rows.js';

/** Rows per list per page: a page is a few milliseconds of work. */
export const CHANGES_PAGE = 2000;
/** Above every UID (RFC 9051 §2.3.1.1: UIDs are 32-bit). */
const MAX_UID = 2 ** 32;

/** A position in (modseq, uid) order: the page after it starts past it. */
export interface ChangeCursor {
  modseq: number;
  uid: number;
}

/** One page: up to `limit` rows of each list, (modseq, uid) ascending, and the mailbox as of the same snapshot. */
export interface ChangesPage {
  changed: readonly FlagRow[];
  expunged: readonly ChangeCursor[];
  mailbox: { uidValidity: number; uidNext: number; highestModSeq: number };
}

/** Reads one page in one snapshot; throws NONEXISTENT when the mailbox is gone. */
export type ReadChangesPage = (changedAfter: ChangeCursor, expungedAfter: ChangeCursor, limit: number) => ChangesPage | Promise<ChangesPage>;

/** Everything changed or expunged after `since`, UIDs ascending, read page by page. */
export async function changesInPages(since: number, readPage: ReadChangesPage): Promise<MailboxChanges> {
  const changed = new Map<number, MessageSummary>();
  const gone = new Set<number>();
  let changedAfter: ChangeCursor = { modseq: since, uid: MAX_UID };
  let expungedAfter: ChangeCursor = { modseq: since, uid: MAX_UID };
  for (let page = 0; ; page++) {
    if (page > 0) await yieldToLoop();
    const read = await readPage(changedAfter, expungedAfter, CHANGES_PAGE);
    for (const r of read.changed) changed.set(r.uid, toSummary(r));
    for (const t of read.expunged) gone.add(t.uid);
    changedAfter = read.changed[read.changed.length - 1] ?? changedAfter;
    expungedAfter = read.expunged[read.expunged.length - 1] ?? expungedAfter;
    if (read.changed.length >= CHANGES_PAGE || read.expunged.length >= CHANGES_PAGE) continue;
    // Typed arrays sort numerically without a comparator call per pair.
    const changedUids = Float64Array.from(changed.keys()).sort();
    const out: MessageSummary[] = [];
    for (const uid of changedUids) if (!gone.has(uid)) out.push(changed.get(uid)!);
    return {
      uidValidity: read.mailbox.uidValidity,
      uidNext: toUid(read.mailbox.uidNext),
      highestModSeq: toModSeq(read.mailbox.highestModSeq),
      changed: out,
      expunged: Array.from(Float64Array.from(gone).sort(), toUid),
    };
  }
}
