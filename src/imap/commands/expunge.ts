/**
 * EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1). The EXPUNGE
 * responses come from the sync step, like every other change.
 */
import type { AccountId, ModSeq, Uid } from '../../ids.js';
import { qresync } from '../condstore.js';
import { no } from '../errors.js';
import type { SequenceSet } from '../../search/sequence-set.js';
import type { MailboxView } from '../session/mailbox-view.js';
import type { ImapSession } from '../session/session.js';
import { SliceSize } from '../session/slices.js';
import { resolveSet, selectedView } from './message-set.js';
import { command } from './spec.js';

/** The slice size of EXPUNGE learned in this process (session/slices.ts). */
const expungeSlices = new SliceSize();

/**
 * Expunges the \Deleted messages among `uids` (UID EXPUNGE), or all of them,
 * in slices (session/slices.ts): first those the view knows as \Deleted, then
 * whatever else carries \Deleted by now, so every one goes (RFC 9051 §6.4.3).
 * Each slice is its own transaction; clients see one EXPUNGE per message
 * either way. Returns how many went and the mailbox's modseq after the last.
 */
export async function expungeInSlices(
  session: ImapSession,
  accountId: AccountId,
  view: MailboxView,
  uids?: readonly Uid[],
): Promise<{ count: number; modseq: ModSeq | null }> {
  const store = session.store;
  const out: { count: number; modseq: ModSeq | null } = { count: 0, modseq: null };
  const known = uids ?? view.messages.filter((m) => m.flags.includes('\\Deleted') && !view.isExpunged(m.uid)).map((m) => m.uid);
  await expungeSlices.inSlices(known, session.config.limits.messagesPerTransaction, async (slice) => {
    const res = await store.expunge(accountId, view.mailboxId, slice);
    out.count += res.expunged.length;
    out.modseq = res.modseq;
  });
  if (!uids) {
    const rest = await store.expunge(accountId, view.mailboxId);
    out.count += rest.expunged.length;
    out.modseq = rest.modseq;
  }
  return out;
}

/** RFC 9051 §6.4.3 — EXPUNGE; with UID, only the named messages (RFC 4315). */
export const expunge = command({
  name: 'EXPUNGE',
  states: ['selected'],
  uidForm: true,
  parse(r, inv): SequenceSet | null {
    if (!inv.uid) return null;
    r.sp();
    return r.sequenceSet();
  },
  async run(inv, set) {
    const session = inv.session;
    const { view, readOnly, accountId } = selectedView(session);
    if (readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
    const uids = set ? resolveSet(session, view, set, true).map((i) => view.messages[i]!.uid as Uid) : undefined;
    if (uids && uids.length === 0) return;
    const res = await expungeInSlices(session, accountId, view, uids);
    // RFC 7162 §3.2.7: with QRESYNC the tagged OK carries the new HIGHESTMODSEQ.
    if (qresync(session) && res.count > 0) return { code: `HIGHESTMODSEQ ${res.modseq}` };
  },
});
