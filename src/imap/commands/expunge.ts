/**
 * EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1). The EXPUNGE
 * responses come from the sync step, like every other change.
 */
import type { Uid } from '../../ids.js';
import { qresync } from '../condstore.js';
import { no } from '../errors.js';
import type { SequenceSet } from '../../search/sequence-set.js';
import { resolveSet, selectedView } from './message-set.js';
import { command } from './spec.js';

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
    const res = await session.store.expunge(accountId, view.mailboxId, uids);
    // RFC 7162 §3.2.7: with QRESYNC the tagged OK carries the new HIGHESTMODSEQ.
    if (qresync(session) && res.expunged.length > 0) return { code: `HIGHESTMODSEQ ${res.modseq}` };
  },
});
