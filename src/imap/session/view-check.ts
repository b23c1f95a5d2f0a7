/**
 * The view check (MAILKEEP_CHECK_VIEWS=1, on in the whole test suite, off in
 * production): after every command, the selected view must equal the store
 * as of the view's own modseq. A view may lag other sessions' commits, but
 * every message it claims to know must be exactly what the store held at
 * that modseq, and every keyword it shows must have been announced.
 *
 * Reads the current summaries first and the messages gone since second
 * (recently expunged ones keep their expunge's modseq, RFC 2180 §4.1), so a
 * commit between the two reads shows up as "changed later", never as a false
 * divergence. It asks the store nothing a sync would (no changesSince, no
 * settle), so tests that count those see the same numbers with it on.
 */
import { CHECK_VIEWS_ENV } from '../../config/load.js';
import type { AccountId } from '../../ids.js';
import type { MailStore } from '../../store/types.js';
import { ImapError } from '../errors.js';
import type { MailboxView } from './mailbox-view.js';

/** Whether views are checked after every command. */
export const CHECK_VIEWS = process.env[CHECK_VIEWS_ENV] === '1';

/** Expunged messages looked up per check, at most. */
const MAX_GONE = 10_000;
/** Divergences listed in one error, at most. */
const MAX_REPORTED = 5;

/** Throws NO [SERVERBUG] naming each divergence of the view from the store as of its modseq. */
export async function checkView(store: MailStore, accountId: AccountId, view: MailboxView): Promise<void> {
  const current = await store.listSummaries(accountId, view.mailboxId);
  const mailbox = await store.getMailboxById(accountId, view.mailboxId);
  // Gone or replaced (UIDVALIDITY changed): the next sync ends the session instead.
  if (!mailbox || mailbox.uidValidity !== view.uidValidity) return;
  const present = new Set<number>(current.map((s) => s.uid));
  const gone = view.messages.filter((m) => !present.has(m.uid) && !view.isExpunged(m.uid)).map((m) => m.uid);
  // Expunged messages stay readable for a while with the expunge's modseq; past that, nothing to compare.
  const expungedAt = new Map<number, number>();
  for (let b = 0; b < gone.length && b < MAX_GONE; b += 1000) {
    for (const r of await store.getRecords(accountId, view.mailboxId, gone.slice(b, Math.min(b + 1000, MAX_GONE)))) expungedAt.set(r.uid, r.modseq);
  }
  const byUid = new Map(current.map((s) => [s.uid as number, s]));
  const problems: string[] = [];
  const flagText = (flags: readonly string[]): string => [...flags].sort().join(' ');

  for (const m of view.messages) {
    const s = byUid.get(m.uid);
    for (const f of m.flags) if (!f.startsWith('\\') && !view.keywordsInFlags.has(f)) problems.push(`UID ${m.uid} shows keyword ${f} never announced in FLAGS`);
    if (view.isExpunged(m.uid)) {
      if (s) problems.push(`UID ${m.uid} is marked expunged but is in the store`);
    } else if (!s) {
      const at = expungedAt.get(m.uid);
      if (at !== undefined && at <= view.modseq) problems.push(`UID ${m.uid} is in the view but was expunged at modseq ${at}, not after ${view.modseq}`);
    } else if (s.modseq <= view.modseq) {
      if (s.modseq !== m.modseq || flagText(s.flags) !== flagText(m.flags)) {
        problems.push(`UID ${m.uid}: view has modseq ${m.modseq} (${flagText(m.flags)}), store has ${s.modseq} (${flagText(s.flags)})`);
      }
    } else if (m.modseq > view.modseq) {
      problems.push(`UID ${m.uid}: view shows modseq ${m.modseq} beyond its own ${view.modseq}`);
    }
  }
  for (const s of current) {
    // UIDs grow with commits: one below the view's highest was there before it, whatever changed it since.
    if ((s.modseq <= view.modseq || s.uid < view.maxUid) && view.indexOfUid(s.uid) < 0)
      problems.push(`UID ${s.uid} (modseq ${s.modseq}) is missing from the view at modseq ${view.modseq}`);
  }
  if (problems.length === 0) return;
  const text = `View check failed for ${view.name} at modseq ${view.modseq}: ${problems.slice(0, MAX_REPORTED).join('; ')}${problems.length > MAX_REPORTED ? ` (+${problems.length - MAX_REPORTED} more)` : ''}`;
  // Loud in tests whatever the log level.
  console.error(text);
  throw new ImapError('NO', 'SERVERBUG', text);
}
