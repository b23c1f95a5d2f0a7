/**
 * Resolving a sequence set against the selected view (RFC 9051 §6.4.9 for UID
 * sets, §9 `sequence-set`, RFC 5182 for `$`). Results are view indices in
 * ascending order; nothing scans the whole view except an explicit `1:*`.
 */
import type { AccountId } from '../../ids.js';
import { bad } from '../errors.js';
import type { MailboxView } from '../session/mailbox-view.js';
import type { ImapSession } from '../session/session.js';
import { resolveRanges, type SequenceSet } from '../../search/sequence-set.js';

/** The selected state's view, or a protocol error. */
export function selectedView(session: ImapSession): { view: MailboxView; readOnly: boolean; accountId: AccountId } {
  const st = session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  return { view: st.view, readOnly: st.readOnly, accountId: st.account.id };
}

/**
 * View indices named by a set. By sequence number, a number above EXISTS is an
 * error (BAD); by UID, absent UIDs are simply not there.
 */
export function resolveSet(session: ImapSession, view: MailboxView, set: SequenceSet, byUid: boolean): number[] {
  if (set.kind === 'saved') {
    const saved = session.savedSearch ?? [];
    const out: number[] = [];
    for (const uid of saved) {
      const i = view.indexOfUid(uid);
      if (i >= 0) out.push(i);
    }
    return out.sort((a, b) => a - b);
  }
  const out: number[] = [];
  if (byUid) {
    for (const [lo, hi] of resolveRanges(set.ranges, view.maxUid)) {
      for (let i = view.lowerBound(lo); i < view.messages.length && view.messages[i]!.uid <= hi; i++) out.push(i);
    }
    return out;
  }
  if (view.exists === 0) throw bad('No messages in the mailbox');
  for (const [lo, hi] of resolveRanges(set.ranges, view.exists)) {
    if (hi > view.exists) throw bad('Invalid message sequence number');
    for (let s = lo; s <= hi; s++) out.push(s - 1);
  }
  return out;
}
