/**
 * The one sync step (DESIGN "the one idea"): the only place where store
 * changes become untagged responses and the session's view changes. Before
 * a command that answers from message state (FETCH, STORE, SEARCH, SORT,
 * THREAD), after every command, and while idling, it asks what changed since
 * the modseq this view last saw and tells the client — its own changes and
 * everybody else's alike. A command never edits the view: it commits, records
 * what it must report (MailboxView.owe: a STORE's set, even .SILENT with
 * UNCHANGEDSINCE), and this step reports (changed since the view's modseq) ∪
 * (owed). The answer comes from the process's shared mailbox index (one store
 * query per change however many sessions follow the mailbox), and identical
 * lines are framed once and written to every session as the same bytes.
 *
 * Invariants: EXPUNGE is sent only when `allowExpunge` (never during FETCH,
 * STORE or SEARCH by sequence number, RFC 9051 §7.4.1); until then an
 * expunged message keeps its sequence number and stays fetchable (RFC 2180
 * §4.1.2). EXISTS is sent before FETCH for new messages. Every keyword in the
 * view was announced in a FLAGS response before any FETCH shows it.
 */
import { condstore, fetchHead, qresync, uidOnly, vanishedMode } from '../condstore.js';
import { formatFlags } from '../flags.js';
import { SYSTEM_FLAGS } from '../../mail/flags.js';
import { formatNumbers } from '../../search/sequence-set.js';
import { eachStep, runNow, runSliced, WorkSlice, type Steps } from '../../store/shared/background.js';
import type { MailboxChanges, MessageSummary } from '../../store/types.js';
import type { IndexChanges } from './mailbox-index.js';
import type { MailboxView, OwedFlags } from './mailbox-view.js';
import type { ImapSession } from './session.js';
import type { SessionState } from './state.js';

type Selected = Extract<SessionState, { kind: 'selected' }>;

/** The selected mailbox no longer exists as the session knew it. */
export class MailboxGone extends Error {
  constructor() {
    super('selected mailbox is gone');
  }
}

/** Flag lines up to this many are framed to share; more (a big STORE's own) go in batches with backpressure. */
const SHARED_FLAG_LINES = 64;
/**
 * A change of at most this many messages is reported in one go, without a
 * promise step (an idler's wake-up); a bigger one (a big STORE or EXPUNGE)
 * in steps that let other sessions run between them (issue 18, finding 10).
 */
const REPORT_AT_ONCE = 1024;

/**
 * Applies store changes to the selected view and queues the untagged
 * responses. `deferFlags` (the sync before and inside a command that answers
 * from message state): the changed flags are owed, not sent, so a FETCH that
 * shows a message's flags tells them once and the sync after the command
 * sends the rest.
 *
 * Returns nothing when it finished at once: the index answered from memory
 * and nothing was owed (every idler after a change's first syncs and writes
 * without a promise step); otherwise the promise of the rest.
 */
export function syncSelected(session: ImapSession, state: Selected, allowExpunge: boolean, deferFlags = false): Promise<void> | undefined {
  const view = state.view;
  const index = session.indexCache;
  if (!deferFlags && !view.owesFlags) {
    const changes = index.changesSinceNow(state.account.id, view.mailboxId, view.modseq);
    if (changes && changes.changed.length + changes.expunged.length <= REPORT_AT_ONCE) {
      const upTo = claimBound(session, state, changes, allowExpunge);
      const first = upTo === null ? null : index.claimedNow(state.account.id, view.mailboxId, upTo);
      if (upTo === null || first !== null) {
        for (const i of runNow(report(session, state, changes, allowExpunge, first, false))) sendShared(session, flagsLine(session, view, i));
        return undefined;
      }
    }
  }
  return syncFromStore(session, state, allowExpunge, deferFlags);
}

/** syncSelected when the index must ask the store first (a refresh, a \Recent claim), or flags are owed. */
async function syncFromStore(session: ImapSession, state: Selected, allowExpunge: boolean, deferFlags: boolean): Promise<void> {
  const view = state.view;
  const index = session.indexCache;
  const changes = await index.changesSince(state.account.id, view.mailboxId, view.modseq);
  const upTo = claimBound(session, state, changes, allowExpunge);
  const first = upTo === null ? null : await index.recentFor(state.account.id, view.mailboxId, upTo, state.readOnly);
  // The view is this session's: while the report pauses, other sessions run, but no command of this one.
  const lines = await runSliced(report(session, state, changes, allowExpunge, first, deferFlags));
  if (lines.length <= SHARED_FLAG_LINES) for (const i of lines) sendShared(session, flagsLine(session, view, i));
  else await sendFlags(session, view, lines);
}

/**
 * The UID below which a rev1 session must learn which new messages are
 * \Recent for it (a read-write one claims them, a read-only one sees the
 * unclaimed ones) before it reports these changes: one above the highest
 * new message, or null when there is nothing to learn (no new message,
 * IMAP4rev2, or the changes are not reported now).
 */
function claimBound(session: ImapSession, state: Selected, changes: MailboxChanges, allowExpunge: boolean): number | null {
  const view = state.view;
  if (session.rev2 || changes.uidValidity !== view.uidValidity || heldBack(session, view, changes, allowExpunge)) return null;
  const known = view.maxUid;
  let newest = known;
  for (const s of changes.changed) if (s.uid > newest) newest = s.uid;
  return newest > known ? newest + 1 : null;
}

/**
 * RFC 7162 §3.2.10: a QRESYNC client must never see MODSEQs beyond an
 * expunge it has not been told about; while expunges must wait, the whole
 * batch of changes waits (but for the command's own messages, see reportOwn).
 */
function heldBack(session: ImapSession, view: MailboxView, changes: MailboxChanges, allowExpunge: boolean): boolean {
  return !allowExpunge && qresync(session) && changes.expunged.some((u) => view.indexOfUid(u) >= 0);
}

/**
 * Applies the changes to the view and queues every response but the flag
 * lines, whose view indices it returns, ascending: the changed flags (every
 * change with CONDSTORE, RFC 7162 §3.1.4.1) and the flags the command owes
 * (its STORE set), each once. `first`: the first UID recent for this
 * session (null: no claim).
 */
function* report(
  session: ImapSession,
  state: Selected,
  changes: IndexChanges,
  allowExpunge: boolean,
  first: number | null,
  deferFlags: boolean,
): Steps<number[]> {
  const view = state.view;
  // The mailbox was replaced (e.g. INBOX renamed away): the view is meaningless now (RFC 9051 §2.3.1.1).
  if (changes.uidValidity !== view.uidValidity) throw new MailboxGone();
  const owed = deferFlags ? view.peekOwed() : view.takeOwed();
  if (heldBack(session, view, changes, allowExpunge)) {
    yield* applyOwn(session, state, changes, owed);
    return deferFlags ? [] : yield* linesFor(view, [], owed.report);
  }
  yield* eachStep(changes.expunged, (uid) => view.markExpunged(uid));

  // The view holds exactly the array these changes apply to: take the index's result rather than copy.
  const indexResult = changes.result?.appliedTo === view.messages && !view.hasExpunged ? changes.result.summaries : null;
  const flagUpdates: number[] = [];
  const added: MessageSummary[] = [];
  const maxKnown = view.maxUid;
  const everyChange = condstore(session);
  yield* eachStep(changes.changed, (s) => {
    if (s.uid > maxKnown) {
      added.push(s);
      return;
    }
    const m = view.messages[view.indexOfUid(s.uid)];
    if (!m || view.isExpunged(m.uid) || s.modseq <= m.modseq) return;
    const changedFlags = !sameFlags(m.flags, s.flags);
    if (!indexResult) view.update(s);
    // `flagUpdates` leaves out the UIDs owed anyway, so linesFor never sees one twice.
    if ((changedFlags || everyChange) && !owed.report.has(s.uid) && owed.silenced.get(s.uid) !== s.modseq) flagUpdates.push(s.uid);
  });
  if (indexResult) view.takeIndexArray(indexResult);
  // Before any FETCH that shows a new keyword, including those the command itself sends.
  announceKeywords(session, state, yield* keywordsIn(changes));

  if (allowExpunge) yield* reportExpunges(session, view);

  if (added.length > 0) {
    if (!indexResult) view.addMessages(added);
    if (first !== null) view.markRecent(added.filter((s) => s.uid >= first).map((s) => s.uid));
    // One shared buffer for both lines: an idler's whole wake-up is one write of bytes framed once.
    sendShared(session, session.rev2 ? `${view.exists} EXISTS` : [`${view.exists} EXISTS`, `${view.recentCount} RECENT`]);
  }
  view.modseq = changes.highestModSeq;
  view.uidNext = changes.uidNext;
  if (!deferFlags) return yield* linesFor(view, flagUpdates, owed.report);
  view.owe(flagUpdates);
  return [];
}

/** Whether two flag lists are the same, in the same order (the store's order). */
function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A held-back sync (heldBack) still applies the command's own messages (those
 * it owes or silenced): a STORE answers with its flags, a FETCH shows the
 * \Seen it set. The view's modseq stays, so the rest arrives once expunges
 * may be sent.
 */
function* applyOwn(session: ImapSession, state: Selected, changes: IndexChanges, owed: OwedFlags): Steps<void> {
  const view = state.view;
  const mine: MessageSummary[] = [];
  yield* eachStep(changes.changed, (s) => {
    if (owed.report.has(s.uid) || owed.silenced.has(s.uid)) mine.push(s);
  });
  yield* eachStep(mine, (s) => {
    const m = view.messages[view.indexOfUid(s.uid)];
    if (m && s.modseq > m.modseq) view.update(s);
  });
  announceKeywords(session, state, yield* keywordsOf(mine));
}

/**
 * View indices of the flag lines to send, ascending, each once; owed UIDs no
 * longer in the view are left out. `changed` holds none of the `owed` UIDs.
 */
function* linesFor(view: MailboxView, changed: readonly number[], owed: ReadonlySet<number>): Steps<number[]> {
  const out: number[] = [];
  const add = (uid: number): void => {
    const i = view.indexOfUid(uid);
    if (i >= 0 && !view.isExpunged(uid)) out.push(i);
  };
  yield* eachStep(changed, add);
  if (owed.size === 0) return out;
  yield* eachStep([...owed], add);
  // A typed array sorts numerically without a comparator call per pair.
  return Array.from(Uint32Array.from(out).sort());
}

/** Keywords in a change set (shared by every session that syncs the same answer). */
const keywordsByChanges = new WeakMap<IndexChanges, readonly string[]>();

function* keywordsIn(changes: IndexChanges): Steps<readonly string[]> {
  let kw = keywordsByChanges.get(changes);
  if (!kw) keywordsByChanges.set(changes, (kw = yield* keywordsOf(changes.changed)));
  return kw;
}

/** The keywords (not system flags) the summaries carry, each once. */
function* keywordsOf(summaries: readonly MessageSummary[]): Steps<string[]> {
  const out = new Set<string>();
  yield* eachStep(summaries, (s) => {
    for (const f of s.flags) if (!f.startsWith('\\')) out.add(f);
  });
  return [...out];
}

/**
 * RFC 9051 §7.3.5 / RFC 3501 §7.2.6: FLAGS tells the client which flags
 * apply in the mailbox, and the client records every update; a keyword it
 * was never told of must not appear in a FETCH. So a keyword new to the view
 * sends FLAGS and PERMANENTFLAGS again first (as SELECT does).
 */
function announceKeywords(session: ImapSession, state: Selected, keywords: readonly string[]): void {
  const announced = state.view.keywordsInFlags;
  let grew = false;
  for (const k of keywords) {
    if (announced.has(k)) continue;
    announced.add(k);
    grew = true;
  }
  if (grew) for (const line of flagsAnnouncement(announced, state.readOnly, session.config.limits.maxKeywordsPerMailbox)) session.untagged(line);
}

/**
 * The FLAGS and PERMANENTFLAGS responses for a mailbox whose keywords are
 * `keywords` (RFC 9051 §7.3.5, §7.1). `\*` (new keywords may be created)
 * only while the mailbox defines fewer than `keywordLimit` (0: no limit);
 * the store refuses one more with NO [LIMIT].
 */
export function flagsAnnouncement(keywords: Iterable<string>, readOnly: boolean, keywordLimit: number): string[] {
  const list = [...keywords];
  const flags = [...SYSTEM_FLAGS, ...list].join(' ');
  if (readOnly) return [`FLAGS (${flags})`, 'OK [PERMANENTFLAGS ()] Read-only mailbox'];
  const full = keywordLimit > 0 && new Set(list.map((k) => k.toLowerCase())).size >= keywordLimit;
  return [`FLAGS (${flags})`, full ? `OK [PERMANENTFLAGS (${flags})] No new keywords: limit reached` : `OK [PERMANENTFLAGS (${flags} \\*)] Flags permitted`];
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

/** EXPUNGE lines up to this many are framed to share (an idler's wake-up); more go out in batches of EXPUNGE_BATCH. */
const SHARED_EXPUNGES = 8;
const EXPUNGE_BATCH = 4096;

/** Sends the owed expunges: VANISHED with QRESYNC (RFC 7162 §3.2.10), else EXPUNGE per message. */
function* reportExpunges(session: ImapSession, view: MailboxView): Steps<void> {
  const removed = yield* view.removeExpunged();
  if (removed.length === 0) return;
  if (vanishedMode(session)) sendShared(session, `VANISHED ${formatNumbers(removed.map((r) => r.uid).reverse())}`);
  else if (removed.length <= SHARED_EXPUNGES)
    sendShared(
      session,
      removed.map((r) => `${r.index + 1} EXPUNGE`),
    );
  // A big EXPUNGE's lines are this session's alone: one buffer per batch, not one framing per line.
  else
    for (let b = 0; b < removed.length; b += EXPUNGE_BATCH) {
      session.write(
        Buffer.from(
          removed
            .slice(b, b + EXPUNGE_BATCH)
            .map((r) => `* ${r.index + 1} EXPUNGE\r\n`)
            .join(''),
        ),
      );
      yield;
    }
}

/** Responses written at once by sendFlags. */
const FLAGS_BATCH = 256;

/**
 * The flags of many messages of the view (a STORE's own responses, a
 * QRESYNC SELECT's changes), as batched writes with backpressure: these
 * lines are this session's alone, so framing them to share would only cost.
 */
export async function sendFlags(session: ImapSession, view: MailboxView, indices: readonly number[]): Promise<void> {
  const slice = new WorkSlice();
  for (let b = 0; b < indices.length; b += FLAGS_BATCH) {
    let text = '';
    for (const i of indices.slice(b, b + FLAGS_BATCH)) text += `* ${flagsLine(session, view, i)}\r\n`;
    session.write(Buffer.from(text));
    await session.backpressure();
    if (slice.spent()) await slice.yield();
  }
}

/** `n FETCH (UID u FLAGS (...) [MODSEQ (m)])` for the message at index `i` of the view. */
function flagsLine(session: ImapSession, view: MailboxView, i: number): string {
  const m = view.messages[i]!;
  const modseq = condstore(session) ? ` MODSEQ (${m.modseq})` : '';
  const uidItem = uidOnly(session) ? '' : `UID ${m.uid} `;
  return `${fetchHead(session, i + 1, m.uid)} (${uidItem}FLAGS ${formatFlags(m.flags, view.isRecent(m.uid))}${modseq})`;
}
