/**
 * Entering and leaving the selected state: SELECT and EXAMINE (RFC 9051
 * §6.3.2, §6.3.3; RFC 3501 §6.3.1 for the rev1 RECENT/UNSEEN responses),
 * CLOSE (§6.4.1), UNSELECT (§6.4.2) and CHECK (RFC 3501 §6.4.1).
 */
import { modseq } from '../../ids.js';
import { condstore, qresync } from '../condstore.js';
import { flagsAnnouncement, sendFlags } from '../session/sync.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import { formatNumbers, inRanges, resolveRanges, type SequenceSet } from '../../search/sequence-set.js';
import { MailboxView } from '../session/mailbox-view.js';
import { mailboxObjectId } from '../object-id.js';
import type { ImapSession } from '../session/session.js';
import { no } from '../errors.js';
import { canonicalName } from '../../mail/mailbox-name.js';
import { accountOf, readMailboxAsSent } from './mailboxes.js';
import { expungeInSlices } from './expunge.js';
import { listLine, oldNameIfNormalized } from '../responses.js';
import { command, type Invocation } from './spec.js';

const AUTHED = ['authenticated', 'selected'] as const;

/** Leaves the selected state; RFC 9051 §7.1: tells the client with [CLOSED] when it selects anew. */
function deselect(session: ImapSession, announce: boolean): void {
  const st = session.state;
  if (st.kind !== 'selected') return;
  session.state = { kind: 'authenticated', account: st.account };
  // RFC 7162 §3.2.11 asks the same of QRESYNC clients.
  if (announce && (session.rev2 || qresync(session))) session.untagged('OK [CLOSED] Previous mailbox closed');
}

/** UIDs at or above `first` (binary search: the tail of the view). */
function recentFrom(view: MailboxView, first: number): number[] {
  const out: number[] = [];
  for (let i = view.lowerBound(first); i < view.messages.length; i++) out.push(view.messages[i]!.uid);
  return out;
}

/** RFC 7162 §3.2.5 `QRESYNC (uidvalidity modseq [known-uids] [seq-match-data])`. */
interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
}

interface SelectArgs {
  /** The mailbox name as sent (announced with OLDNAME when it is not NFC). */
  name: string;
  condstore: boolean;
  qresync: QresyncParams | null;
}

/** `select-params` (RFC 4466 §2.1): CONDSTORE (RFC 7162 §3.1.8) and QRESYNC (§3.2.5). */
function parseSelect(r: ArgReader, inv: Invocation): SelectArgs {
  const args: SelectArgs = { name: readMailboxAsSent(r, inv), condstore: false, qresync: null };
  if (r.atEnd()) return args;
  r.sp();
  r.list(() => {
    const param = r.atom().toUpperCase();
    if (param === 'CONDSTORE') {
      args.condstore = true;
      return;
    }
    if (param !== 'QRESYNC') throw new ParseError(`Unknown SELECT parameter ${param}`);
    if (!qresync(inv.session)) throw new ParseError('QRESYNC must be enabled first');
    r.sp();
    r.expect('(');
    const uidValidity = r.nzNumber();
    r.sp();
    const modseq = r.number64();
    let knownUids: SequenceSet | null = null;
    if (r.skip(' ')) {
      if (r.peekByte() !== 0x28) {
        knownUids = r.sequenceSet();
        r.skip(' ');
      }
      // seq-match-data helps servers that forget expunges; we keep every tombstone, so it is read and unused.
      if (r.peekByte() === 0x28) r.list(() => r.sequenceSet(), false);
    }
    r.expect(')');
    args.qresync = { uidValidity, modseq, knownUids };
  }, false);
  return args;
}

/** RFC 7162 §3.2.5.2: VANISHED (EARLIER) and FETCH for what changed since the client's modseq. */
async function resync(session: ImapSession, view: MailboxView, q: QresyncParams): Promise<void> {
  const st = session.state;
  if (st.kind !== 'selected' || q.uidValidity !== view.uidValidity) return;
  const changes = await session.store.changesSince(st.account.id, view.mailboxId, modseq(q.modseq));
  const known = q.knownUids?.kind === 'ranges' ? resolveRanges(q.knownUids.ranges, Math.max(view.maxUid, view.uidNext - 1)) : null;
  // Expunges after the snapshot are still in the view: the next sync reports them.
  const vanished = changes.expunged.filter((u) => view.indexOfUid(u) < 0 && (!known || inRanges(known, u)));
  if (vanished.length) session.untagged(`VANISHED (EARLIER) ${formatNumbers(vanished)}`);
  const changed: number[] = [];
  view.messages.forEach((m, i) => m.modseq > q.modseq && changed.push(i));
  await sendFlags(session, view, changed);
}

async function open(inv: Invocation, args: SelectArgs, readOnly: boolean): Promise<{ code: string }> {
  const session = inv.session;
  const name = canonicalName(args.name);
  deselect(session, true);
  if (args.condstore || args.qresync) session.enabled.add('CONDSTORE');
  const account = accountOf(session);
  // The lookup settles the bus after this command arrived, usually for the mailbox too.
  const found = await session.mailboxNames.lookup(account, name);
  if (!found) throw no('NONEXISTENT', 'Mailbox does not exist');
  const mb = found.ref;
  // Current via the change bus: no store query when nothing changed since the last SELECT.
  const snap = await session.indexCache.snapshot(account, mb.id, found.settled);
  const { keywords, firstUnseen } = snap.facts;
  const view = new MailboxView(mb.id, mb.name, snap.uidValidity, snap.uidNext, snap.modseq, snap.summaries, keywords);
  if (!session.rev2) {
    // RFC 3501 §2.3.2: \Recent belongs to the first session told of a message; "if the session is
    // read-write, subsequent sessions will not see \Recent set". So EXAMINE (§6.3.2, read-only)
    // sees the unclaimed messages as recent (RECENT, FETCH FLAGS, SEARCH RECENT) without claiming
    // them: EXAMINE again shows them too, and so does the next SELECT, which claims them. Dovecot
    // does the same.
    const first = await session.indexCache.recentFor(account, mb.id, view.maxUid + 1, readOnly);
    view.markRecent(recentFrom(view, first));
  }
  const st = session.state;
  if (st.kind !== 'authenticated') throw new Error('unexpected state');

  session.untagged(`${view.exists} EXISTS`);
  if (!session.rev2) {
    session.untagged(`${view.recentCount} RECENT`);
    if (firstUnseen >= 0) session.untagged(`OK [UNSEEN ${firstUnseen + 1}] First unseen`);
  }
  session.untagged(`OK [UIDVALIDITY ${view.uidValidity}] UIDs valid`);
  session.untagged(`OK [UIDNEXT ${view.uidNext}] Predicted next UID`);
  // RFC 8474 §4.2.
  session.untagged(`OK [MAILBOXID (${mailboxObjectId({ id: mb.id, uidValidity: view.uidValidity, objectId: mb.objectId })})] Mailbox id`);
  for (const line of flagsAnnouncement(keywords, readOnly, session.config.limits.maxKeywordsPerMailbox)) session.untagged(line);
  if (condstore(session)) session.untagged(`OK [HIGHESTMODSEQ ${view.modseq}] Highest`);
  // RFC 9051 §7.3.1 / §6.3.2: IMAP4rev2 gets the LIST of the selected mailbox, with OLDNAME when the name sent was not NFC.
  if (session.rev2) listLine(session, 'LIST', [], mb.name, oldNameIfNormalized(session, args.name));
  session.state = { kind: 'selected', account: st.account, view, readOnly };
  session.savedSearch = null;
  if (args.qresync) await resync(session, view, args.qresync);
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE' };
}

/**
 * SELECT and EXAMINE need no sync step after them: the view is a snapshot
 * taken after the command arrived, and the sync of the next command (or
 * IDLE's first) reports anything newer.
 */
const SELECT_SYNC = 'none';

/** RFC 9051 §6.3.2 — SELECT. */
export const select = command({
  name: 'SELECT',
  states: AUTHED,
  sync: SELECT_SYNC,
  parse: parseSelect,
  run: (inv, args) => open(inv, args, false),
});

/** RFC 9051 §6.3.3 — EXAMINE. */
export const examine = command({
  name: 'EXAMINE',
  states: AUTHED,
  sync: SELECT_SYNC,
  parse: parseSelect,
  run: (inv, args) => open(inv, args, true),
});

/** RFC 9051 §6.4.1 — CLOSE: silently expunges \Deleted messages when read-write. */
export const close = command({
  name: 'CLOSE',
  states: ['selected'],
  sync: 'none',
  parse: () => undefined,
  async run(inv) {
    const st = inv.session.state;
    if (st.kind !== 'selected') return;
    if (!st.readOnly) await expungeInSlices(inv.session, st.account.id, st.view);
    deselect(inv.session, false);
  },
});

/** RFC 9051 §6.4.2 — UNSELECT. */
export const unselect = command({
  name: 'UNSELECT',
  states: ['selected'],
  sync: 'none',
  parse: () => undefined,
  async run(inv) {
    deselect(inv.session, false);
  },
});

/** RFC 3501 §6.4.1 — CHECK: every change is already durable; acts as NOOP. */
export const check = command({
  name: 'CHECK',
  states: ['selected'],
  parse: () => undefined,
  async run() {},
});
