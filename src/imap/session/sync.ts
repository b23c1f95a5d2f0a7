/**
 * The one sync step (DESIGN "the one idea"): after every command, and while
 * idling, ask the store what changed since the modseq this view last saw and
 * tell the client — its own changes and everybody else's alike.
 *
 * Invariants: EXPUNGE is sent only when `allowExpunge` (never during FETCH,
 * STORE or SEARCH by sequence number, RFC 9051 §7.4.1); until then an
 * expunged message keeps its sequence number and stays fetchable (RFC 2180
 * §4.1.2). EXISTS is sent before FETCH for new messages.
 */
import type { Uid } from '../../ids.js';
import { condstore, fetchHead, qresync, uidOnly, vanishedMode } from '../condstore.js';
import { formatFlags } from '../flags.js';
import { formatNumbers } from '../../search/sequence-set.js';
import type { MailboxView } from './mailbox-view.js';
import type { ImapSession } from './session.js';
import type { SessionState } from './state.js';

type Selected = Extract<SessionState, { kind: 'selected' }>;

/** The selected mailbox no longer exists as the session knew it. */
export class MailboxGone extends Error {
  constructor() {
    super('selected mailbox is gone');
  }
}

/** Applies store changes to the selected view and queues the untagged responses. */
export async function syncSelected(session: ImapSession, state: Selected, allowExpunge: boolean): Promise<void> {
  const view = state.view;
  const changes = await session.store.changesSince(state.account.id, view.mailboxId, view.modseq);
  // The mailbox was replaced (e.g. INBOX renamed away): the view is meaningless now (RFC 9051 §2.3.1.1).
  if (changes.uidValidity !== view.uidValidity) throw new MailboxGone();
  // RFC 7162 §3.2.10: a QRESYNC client must never see MODSEQs beyond an expunge it has not been
  // told about; while expunges must wait, hold back this whole batch of changes.
  if (!allowExpunge && qresync(session) && changes.expunged.some((u) => view.indexOfUid(u) >= 0)) return;
  for (const uid of changes.expunged) view.markExpunged(uid);

  const flagUpdates: number[] = [];
  const added = [];
  const maxKnown = view.maxUid;
  for (const s of changes.changed) {
    if (s.uid > maxKnown) {
      added.push(s);
      continue;
    }
    const m = view.messages[view.indexOfUid(s.uid)];
    if (!m || view.isExpunged(m.uid) || s.modseq <= m.modseq) continue;
    const changedFlags = m.flags.join(' ') !== s.flags.join(' ');
    view.update(s);
    if (changedFlags || condstore(session)) flagUpdates.push(s.uid);
  }

  if (allowExpunge) reportExpunges(session, view);

  if (added.length > 0) {
    view.addMessages(added);
    if (!state.readOnly && !session.rev2) {
      const first = await session.store.claimRecent(state.account.id, view.mailboxId);
      view.markRecent(added.filter((s) => s.uid >= first).map((s) => s.uid));
    }
    session.untagged(`${view.exists} EXISTS`);
    if (!session.rev2) session.untagged(`${view.recentCount} RECENT`);
  }

  for (const uid of flagUpdates) reportFlags(session, state, uid as Uid);
  view.modseq = changes.highestModSeq;
  view.uidNext = changes.uidNext;
}

/** Sends the owed expunges: VANISHED with QRESYNC (RFC 7162 §3.2.10), else EXPUNGE per message. */
function reportExpunges(session: ImapSession, view: MailboxView): void {
  const removed = view.removeExpunged();
  if (removed.length === 0) return;
  if (vanishedMode(session)) session.untagged(`VANISHED ${formatNumbers(removed.map((r) => r.uid).reverse())}`);
  else for (const r of removed) session.untagged(`${r.index + 1} EXPUNGE`);
}

/** Queues `* n FETCH (UID u FLAGS (...) [MODSEQ (m)])` for a message in the view. */
export function reportFlags(session: ImapSession, state: Selected, uid: Uid): void {
  const view = state.view;
  const i = view.indexOfUid(uid);
  const m = view.messages[i];
  if (!m) return;
  const modseq = condstore(session) ? ` MODSEQ (${m.modseq})` : '';
  const uidItem = uidOnly(session) ? '' : `UID ${m.uid} `;
  session.untagged(`${fetchHead(session, i + 1, m.uid)} (${uidItem}FLAGS ${formatFlags(m.flags, view.isRecent(m.uid))}${modseq})`);
}
