/**
 * REPLACE and UID REPLACE (RFC 8508): APPEND of a new message and UID
 * EXPUNGE of one message of the selected mailbox as a single store
 * transaction. The message literal was streamed and analysed while it
 * arrived, exactly as for APPEND.
 *
 * Invariants: nothing changes unless everything does (§3.4); the quota sees
 * only the net change; APPENDUID goes out in an untagged OK before the
 * EXPUNGE (or VANISHED) that the sync step reports (§4.3).
 */
import type { Uid } from '../../ids.js';
import { qresync } from '../condstore.js';
import { no } from '../errors.js';
import { ParseError } from '../wire/reader.js';
import type { SequenceSet } from '../../search/sequence-set.js';
import { parseAppendItem, stageItem, type AppendItem } from './append.js';
import { readMailbox, requireTarget } from './mailboxes.js';
import { resolveSet, selectedView } from './message-set.js';
import { command } from './spec.js';

interface ReplaceArgs {
  /** One message number or UID (possibly `*`). */
  target: SequenceSet;
  mailbox: string;
  item: AppendItem;
}

/** RFC 8508 §3.2, §3.3 — REPLACE and UID REPLACE (selected state only, §3.5). */
export const replace = command({
  name: 'REPLACE',
  states: ['selected'],
  uidForm: true,
  // The message number and the mailbox, then message data (RFC 8508 §5).
  messageDataAfter(r) {
    r.sp();
    r.sequenceSet();
    r.sp();
    r.astring();
  },
  parse(r, inv): ReplaceArgs {
    r.sp();
    // `seq-number` / `uid`: one number or "*", not a set (§5).
    const target = r.sequenceSet();
    if (target.kind !== 'ranges' || target.ranges.length !== 1 || target.ranges[0]![0] !== target.ranges[0]![1]) {
      throw new ParseError('REPLACE takes one message number');
    }
    const mailbox = readMailbox(r, inv);
    return { target, mailbox, item: parseAppendItem(r) };
  },
  async run(inv, { target, mailbox, item }) {
    const session = inv.session;
    const { view, readOnly, accountId } = selectedView(session);
    if (readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
    const [index] = resolveSet(session, view, target, inv.uid);
    const old = index === undefined ? undefined : view.messages[index];
    if (!old) throw no('NONEXISTENT', 'No such message');
    if (view.isExpunged(old.uid)) throw no('EXPUNGEISSUED', 'The message was expunged meanwhile');
    const dest = await requireTarget(session, mailbox);
    // A streamed literal not taken by now is discarded by the connection.
    const message = await stageItem(session, item);
    const res = await session.store.replaceMessage(accountId, view.mailboxId, old.uid as Uid, dest.id, message);
    session.notifier.ownCommit(dest.id, [res.uid]);
    // §4.3: APPENDUID before the EXPUNGE, so the client can pair the two.
    session.untagged(`OK [APPENDUID ${res.uidValidity} ${res.uid}] Replacement message ready`);
    // §4.5 with RFC 7162 §3.2.7: the old message goes as by UID EXPUNGE.
    if (qresync(session)) return { code: `HIGHESTMODSEQ ${res.modseq}`, text: 'REPLACE completed' };
    return { text: 'REPLACE completed' };
  },
});
