/**
 * The one sync step (DESIGN "the one idea"): after every command, and while
 * idling, ask what changed since the modseq this view last saw and tell the
 * client — its own changes and everybody else's alike. The answer comes from
 * the process's shared mailbox index (one store query per change however
 * many sessions follow the mailbox), and identical lines are framed once and
 * written to every session as the same bytes.
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
import type { MailboxChanges } from '../../store/types.js';
import type { IndexChanges } from './mailbox-index.js';
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
  if (syncSelectedNow(session, state, allowExpunge)) return;
  const view = state.view;
  const index = session.indexCache;
  const changes = await index.changesSince(state.account.id, view.mailboxId, view.modseq);
  const upTo = claimBound(session, state, changes, allowExpunge);
  const first = upTo === null ? null : await index.claimRecent(state.account.id, view.mailboxId, upTo);
  report(session, state, changes, allowExpunge, first);
}

/**
 * syncSelected without a promise step, when the index answers from memory
 * (every idler after a change's first): false, having done nothing, when
 * only the async path can.
 */
export function syncSelectedNow(session: ImapSession, state: Selected, allowExpunge: boolean): boolean {
  const view = state.view;
  const index = session.indexCache;
  const changes = index.changesSinceNow(state.account.id, view.mailboxId, view.modseq);
  if (!changes) return false;
  const upTo = claimBound(session, state, changes, allowExpunge);
  const first = upTo === null ? null : index.claimedNow(state.account.id, view.mailboxId, upTo);
  if (upTo !== null && first === null) return false;
  report(session, state, changes, allowExpunge, first);
  return true;
}

/**
 * The UID below which a rev1 read-write session must claim \Recent before
 * it reports these changes (one above the highest new message), or null when
 * there is nothing to claim (no new message, read-only, IMAP4rev2, or the
 * changes are not reported now).
 */
function claimBound(session: ImapSession, state: Selected, changes: MailboxChanges, allowExpunge: boolean): number | null {
  const view = state.view;
  if (state.readOnly || session.rev2 || changes.uidValidity !== view.uidValidity || heldBack(session, view, changes, allowExpunge)) return null;
  const known = view.maxUid;
  let newest = known;
  for (const s of changes.changed) if (s.uid > newest) newest = s.uid;
  return newest > known ? newest + 1 : null;
}

/**
 * RFC 7162 §3.2.10: a QRESYNC client must never see MODSEQs beyond an
 * expunge it has not been told about; while expunges must wait, the whole
 * batch of changes waits.
 */
function heldBack(session: ImapSession, view: MailboxView, changes: MailboxChanges, allowExpunge: boolean): boolean {
  return !allowExpunge && qresync(session) && changes.expunged.some((u) => view.indexOfUid(u) >= 0);
}

/** Applies the changes to the view and queues the responses; `first`: the first UID recent for this session (null: no claim). */
function report(session: ImapSession, state: Selected, changes: IndexChanges, allowExpunge: boolean, first: number | null): void {
  const view = state.view;
  // The mailbox was replaced (e.g. INBOX renamed away): the view is meaningless now (RFC 9051 §2.3.1.1).
  if (changes.uidValidity !== view.uidValidity) throw new MailboxGone();
  if (heldBack(session, view, changes, allowExpunge)) return;
  for (const uid of changes.expunged) view.markExpunged(uid);

  // The view holds exactly the array these changes apply to: take the index's result rather than copy.
  const successor = changes.successor?.basis === view.messages && !view.hasExpunged ? changes.successor.summaries : null;
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
    if (!successor) view.update(s);
    if (changedFlags || condstore(session)) flagUpdates.push(s.uid);
  }
  if (successor) view.adopt(successor);

  if (allowExpunge) reportExpunges(session, view);

  if (added.length > 0) {
    if (!successor) view.addMessages(added);
    if (first !== null) view.markRecent(added.filter((s) => s.uid >= first).map((s) => s.uid));
    // One shared buffer for both lines: an idler's whole wake-up is one write of bytes framed once.
    sendShared(session, session.rev2 ? `${view.exists} EXISTS` : [`${view.exists} EXISTS`, `${view.recentCount} RECENT`]);
  }

  for (const uid of flagUpdates) reportFlags(session, view, uid as Uid);
  view.modseq = changes.highestModSeq;
  view.uidNext = changes.uidNext;
}

/** Framed lines recently sent, shared by sessions that send the same one. */
const framed = new Map<string, Buffer>();
const MAX_FRAMED = 1024;
/** Longer lines (a big VANISHED) are rarely shared and not worth keeping. */
const MAX_FRAMED_LENGTH = 200;

/**
 * Queues `* line` for each line as bytes framed once per distinct list of
 * lines: after a change every session of the mailbox at the same state sends
 * the same `* n EXISTS`, and a socket write of a shared Buffer copies nothing.
 */
function sendShared(session: ImapSession, lines: string | readonly string[]): void {
  const list = typeof lines === 'string' ? [lines] : lines;
  const key = list.join('\n');
  if (key.length > MAX_FRAMED_LENGTH) {
    for (const line of list) session.untagged(line);
    return;
  }
  let bytes = framed.get(key);
  if (!bytes) {
    if (framed.size >= MAX_FRAMED) framed.clear();
    bytes = Buffer.from(list.map((l) => `* ${l}\r\n`).join(''));
    framed.set(key, bytes);
  }
  session.write(bytes);
}

/** Sends the owed expunges: VANISHED with QRESYNC (RFC 7162 §3.2.10), else EXPUNGE per message. */
function reportExpunges(session: ImapSession, view: MailboxView): void {
  const removed = view.removeExpunged();
  if (removed.length === 0) return;
  if (vanishedMode(session)) sendShared(session, `VANISHED ${formatNumbers(removed.map((r) => r.uid).reverse())}`);
  else for (const r of removed) sendShared(session, `${r.index + 1} EXPUNGE`);
}

/** Queues a changed message's flags, framed once for every session that sends the same line. */
function reportFlags(session: ImapSession, view: MailboxView, uid: Uid): void {
  const i = view.indexOfUid(uid);
  if (i >= 0) sendShared(session, flagsLine(session, view, i));
}

/** Responses written at once by sendFlags. */
const FLAGS_BATCH = 256;

/**
 * The flags of many messages of the view (a STORE's own responses, a
 * QRESYNC SELECT's changes), as batched writes with backpressure: these
 * lines are this session's alone, so framing them to share would only cost.
 */
export async function sendFlags(session: ImapSession, view: MailboxView, indices: readonly number[]): Promise<void> {
  for (let b = 0; b < indices.length; b += FLAGS_BATCH) {
    let text = '';
    for (const i of indices.slice(b, b + FLAGS_BATCH)) text += `* ${flagsLine(session, view, i)}\r\n`;
    session.write(Buffer.from(text));
    await session.backpressure();
  }
}

/** `n FETCH (UID u FLAGS (...) [MODSEQ (m)])` for the message at index `i` of the view. */
function flagsLine(session: ImapSession, view: MailboxView, i: number): string {
  const m = view.messages[i]!;
  const modseq = condstore(session) ? ` MODSEQ (${m.modseq})` : '';
  const uidItem = uidOnly(session) ? '' : `UID ${m.uid} `;
  return `${fetchHead(session, i + 1, m.uid)} (${uidItem}FLAGS ${formatFlags(m.flags, view.isRecent(m.uid))}${modseq})`;
}
