/**
 * FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 8474 EMAILID and
 * THREADID, RFC 8514 SAVEDATE, RFC 8970 PREVIEW).
 *
 * Invariants: messages are processed in batches (one store call for their
 * blob ids or records, their analyses together), so memory does not grow with
 * the set and there is no store round trip per message; section bytes are read
 * a window (at most WINDOW_BYTES) at a time into a pooled slab, which goes
 * back to the pool only once the socket has taken the window's responses;
 * the next window is read while the previous one drains (so at most two are
 * held), and the window's responses are written
 * as one batch, literal sizes taken from the bytes actually sent;
 * sections over STREAM_THRESHOLD stream from the blob store with backpressure;
 * a `{n}` literal never carries NUL (0x80 in its place, RFC 9051 §9), only
 * BINARY's literal8 does (RFC 3516 §4.3), and the stored bytes are never
 * written to;
 * the event loop gets a turn between batches; fetching BODY[...] (not PEEK)
 * sets \Seen first and reports the new FLAGS in the same response; no EXPUNGE
 * is sent while FETCH runs (sync 'no-expunge').
 */
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { modseq, type AccountId, type Uid } from '../../ids.js';
import { condstore, enableCondstore, fetchHead, qresync, uidOnly } from '../condstore.js';
import type { MailboxView } from '../session/mailbox-view.js';
import { formatNumbers, inRanges, resolveRanges } from '../../search/sequence-set.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import { INTERNALDATE_MAX_MS, INTERNALDATE_MIN_MS } from '../../mime/calendar-day.js';
import { findPart } from '../../mime/section.js';
import { decodeTransferEncoding } from '../../mime/transfer-encoding.js';
import type { MessageAnalysis } from '../../mime/types.js';
import type { BlobRange, MessageRecord } from '../../store/types.js';
import { no } from '../errors.js';
import { filterHeader, parseFetchItems, sectionBytes, type FetchItem } from '../fetch-items.js';
import { hasFlag } from '../../mail/flags.js';
import { formatFlags } from '../flags.js';
import type { ViewMessage } from '../session/mailbox-view.js';
import type { ImapSession } from '../session/session.js';
import { messagePreview } from '../preview.js';
import { encodeString, withoutNul } from '../../syntax/imap-string.js';
import type { ResponseBatch } from '../../net/response-batch.js';
import { SlabPool } from '../wire/slab-pool.js';
import type { SequenceSet } from '../../search/sequence-set.js';
import { resolveSet, selectedView } from './message-set.js';
import { command, PRESYNC_BY_UID } from './spec.js';

/** Messages per store round trip (records, analyses). */
const BATCH = 256;
/** Responses per write when the view alone answers (about 40 bytes each). */
const VIEW_BATCH = 1024;
/** Sections larger than this are streamed rather than read into memory. */
const STREAM_THRESHOLD = 128 * 1024;
/** Section bytes read into memory at once, for one batched write. */
const WINDOW_BYTES = 1024 * 1024;
/** What a window's sections are read into; a few slabs stay allocated between FETCHes (4 MB). */
const windowSlabs = new SlabPool(WINDOW_BYTES, 4);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 9051 `date-time` in UTC, with a 4DIGIT year: a date stored outside years 1900-9999 prints as the nearest bound. */
export function formatInternalDate(date: Date): string {
  const ms = date.getTime();
  const d = Number.isNaN(ms) ? new Date(INTERNALDATE_MIN_MS) : new Date(Math.min(INTERNALDATE_MAX_MS, Math.max(INTERNALDATE_MIN_MS, ms)));
  const p = (n: number): string => String(n).padStart(2, '0');
  const year = String(d.getUTCFullYear()).padStart(4, '0');
  return `"${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${year} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
}

interface FetchArgs {
  set: SequenceSet;
  items: FetchItem[];
  /** RFC 7162 §3.1.4 CHANGEDSINCE. */
  changedSince: number | null;
  /** RFC 7162 §3.2.6 VANISHED (UID FETCH only). */
  vanished: boolean;
}

/**
 * `fetch-modifiers` (RFC 4466 §2.4): CHANGEDSINCE and VANISHED. After a bare
 * PREVIEW, a first list of LAZY is that item's preview-mods (RFC 8970 §6).
 */
function parseModifiers(r: ArgReader, args: FetchArgs, previewMods: boolean): void {
  r.sp();
  let lazyList = false;
  let first = true;
  r.list(() => {
    const name = r.atom().toUpperCase();
    const lazy = name === 'LAZY' && previewMods && (first || lazyList);
    if (lazy !== lazyList && !first) throw new ParseError('PREVIEW modifiers and FETCH modifiers mixed');
    lazyList = lazy;
    first = false;
    if (lazy) return;
    if (name === 'CHANGEDSINCE') {
      r.sp();
      args.changedSince = r.number64();
    } else if (name === 'VANISHED') {
      args.vanished = true;
    } else {
      throw new ParseError(`Unknown FETCH modifier ${name}`);
    }
  }, false);
  if (lazyList && !r.atEnd()) parseModifiers(r, args, false);
}

/** RFC 2180 §4.1.2 / RFC 5530: data of messages expunged meanwhile could not be returned. */
const EXPUNGED_MEANWHILE = { code: 'EXPUNGEISSUED', text: 'Some messages were expunged meanwhile' } as const;

/** Items answered from the view alone. */
const VIEW_ITEMS: ReadonlySet<FetchItem['kind']> = new Set(['flags', 'uid', 'size', 'modseq', 'threadid']);
/** Items answered from the store record without the MIME analysis. */
const RECORD_ITEMS: ReadonlySet<FetchItem['kind']> = new Set(['internaldate', 'savedate', 'emailid']);

/** RFC 9051 §6.4.5 — FETCH. */
export const fetch = command({
  name: 'FETCH',
  states: ['selected'],
  uidForm: true,
  sync: 'no-expunge',
  presync: PRESYNC_BY_UID,
  parse(r, inv): FetchArgs {
    r.sp();
    const set = r.sequenceSet();
    r.sp();
    const bare = r.peekByte() !== 0x28;
    const args: FetchArgs = { set, items: parseFetchItems(r), changedSince: null, vanished: false };
    if (!r.atEnd()) parseModifiers(r, args, bare && args.items[0]?.kind === 'preview');
    // RFC 7162 §3.2.6: VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled.
    if (args.vanished && (!inv.uid || args.changedSince === null || !qresync(inv.session))) {
      throw new ParseError('VANISHED needs UID FETCH with CHANGEDSINCE after ENABLE QRESYNC');
    }
    return args;
  },
  async run(inv, { set, items, changedSince, vanished }) {
    const session = inv.session;
    const { view, readOnly, accountId } = selectedView(session);
    let indices = resolveSet(session, view, set, inv.uid);
    // UIDONLY responses start with the UID already (RFC 9586 §3.3).
    if (inv.uid && !uidOnly(session) && !items.some((i) => i.kind === 'uid')) items.unshift({ kind: 'uid' });
    const wantsModseq = changedSince !== null || items.some((i) => i.kind === 'modseq');
    if (wantsModseq) enableCondstore(session);
    // RFC 7162 §3.1.4.1: once CONDSTORE is on, FLAGS travel with MODSEQ.
    if ((wantsModseq || (condstore(session) && items.some((i) => i.kind === 'flags'))) && !items.some((i) => i.kind === 'modseq')) {
      items.push({ kind: 'modseq' });
    }
    if (changedSince !== null) {
      if (vanished && set.kind === 'ranges') await reportVanished(session, accountId, view, set, changedSince);
      indices = indices.filter((i) => view.messages[i]!.modseq > changedSince);
    }
    const viewOnly = items.every((i) => VIEW_ITEMS.has(i.kind));
    const flagsAsked = items.some((i) => i.kind === 'flags');
    let missing = false;
    if (flagsAsked || wantsModseq) {
      // RFC 2180 §4.1.2: the flags of a message expunged meanwhile may have changed before the expunge, which the
      // store no longer tells; leave it out and say so (EXPUNGEISSUED) rather than answer flags it may not have had last.
      const live = indices.filter((i) => !view.isExpunged(view.messages[i]!.uid));
      missing = live.length < indices.length;
      indices = live;
    }
    const needsRecord = items.some((i) => RECORD_ITEMS.has(i.kind));
    const needsBlob = items.some((i) => !VIEW_ITEMS.has(i.kind) && !RECORD_ITEMS.has(i.kind));
    const needsAnalysis = items.some(needsAnalysisFor);
    const planned = items.some(needsPlanning);
    const setsSeen = !readOnly && items.some((i) => (i.kind === 'section' || i.kind === 'binary') && !i.peek);
    let done = 0;

    if (viewOnly && !setsSeen) {
      // Everything comes from the view: no store, no awaits per message (UID FETCH 1:* (UID FLAGS) on big mailboxes).
      for (let b = 0; b < indices.length; b += VIEW_BATCH) {
        const end = Math.min(b + VIEW_BATCH, indices.length);
        let lines = '';
        for (let k = b; k < end; k++) {
          const i = indices[k]!;
          const m = view.messages[i]!;
          lines += `* ${fetchHead(session, i + 1, m.uid)} (`;
          for (let t = 0; t < items.length; t++) lines += (t > 0 ? ' ' : '') + viewItemText(items[t]!, m, view.isRecent(m.uid));
          if (flagsAsked) view.told(m.uid);
          lines += ')\r\n';
        }
        session.write(Buffer.from(lines));
        await session.backpressure();
        session.progress((done += end - b), indices.length);
      }
      return missing ? EXPUNGED_MEANWHILE : undefined;
    }

    for (let b = 0; b < indices.length; b += BATCH) {
      const batch = indices.slice(b, b + BATCH);
      const uids = batch.map((i) => view.messages[i]!.uid);
      // Whole records only for the items that need them; bodies and MIME items need only the blob id.
      const records = new Map<number, MessageRecord>();
      if (needsRecord) {
        for (const rec of await session.store.getRecords(accountId, view.mailboxId, uids)) records.set(rec.uid, rec);
      }
      const blobIds = needsBlob && !needsRecord ? await session.store.getBlobIds(accountId, view.mailboxId, uids) : null;
      const blobOf = (uid: Uid): string | null => records.get(uid)?.blobId ?? blobIds?.get(uid) ?? null;
      const seenChanged = setsSeen
        ? await markSeen(
            session,
            accountId,
            batch.map((i) => view.messages[i]!),
          )
        : new Set<number>();
      const analyses = needsAnalysis ? await analysesOf(session, uids.map(blobOf)) : null;
      const plans: MessagePlan[] = [];
      for (const i of batch) {
        // markSeen's sync replaced changed summaries in the view (they are immutable).
        const m = view.messages[i]!;
        const rec = records.get(m.uid) ?? null;
        const blobId = blobOf(m.uid);
        const analysis = blobId && analyses ? (analyses.get(blobId) ?? null) : null;
        if ((needsRecord && !rec) || (needsBlob && !blobId) || (needsAnalysis && !analysis)) {
          missing = true;
          continue;
        }
        const plan: MessagePlan = {
          seqNum: i + 1,
          m,
          rec,
          blobId,
          analysis,
          flagsChanged: seenChanged.has(m.uid),
          recent: view.isRecent(m.uid),
          ranges: [],
          data: [],
          bytes: 0,
          slow: false,
        };
        if (planned) planSections(plan, items);
        plans.push(plan);
      }
      for (let p = 0; p < plans.length; ) {
        const window = takeWindow(plans, p);
        await sendWindow(session, window, items);
        session.progress((done += window.length), indices.length);
        p += window.length;
      }
      // DESIGN invariant 6: the store calls resolve at once (SQLite), so let other sessions run between batches.
      await nextTurn();
    }
    if (missing) return EXPUNGED_MEANWHILE;
  },
});

/** RFC 7162 §3.2.6: `* VANISHED (EARLIER)` for UIDs in the set expunged after `since`. */
async function reportVanished(
  session: ImapSession,
  accountId: AccountId,
  view: MailboxView,
  set: Extract<SequenceSet, { kind: 'ranges' }>,
  since: number,
): Promise<void> {
  const changes = await session.store.changesSince(accountId, view.mailboxId, modseq(since));
  const ranges = resolveRanges(set.ranges, Math.max(view.maxUid, view.uidNext - 1));
  const uids = changes.expunged.filter((u) => view.indexOfUid(u) < 0 && inRanges(ranges, u));
  if (uids.length) session.untagged(`VANISHED (EARLIER) ${formatNumbers(uids)}`);
}

/**
 * Sets \Seen on messages lacking it (RFC 9051 §6.4.5) and brings the view up
 * to date through the sync step; their FETCH responses tell the new flags
 * (writeWindow), the sync after FETCH whatever is still owed. Returns the
 * UIDs whose flags changed.
 */
async function markSeen(session: ImapSession, accountId: AccountId, batch: ViewMessage[]): Promise<Set<number>> {
  const { view } = selectedView(session);
  const unseen = batch.filter((m) => !view.isExpunged(m.uid) && !hasFlag(m.flags, '\\Seen')).map((m) => m.uid);
  if (unseen.length === 0) return new Set();
  const res = await session.indexCache.storeFlags(accountId, view.mailboxId, unseen as Uid[], { op: 'add', flags: ['\\Seen'] });
  const changed = new Set<number>(res.changed.map((s) => s.uid));
  view.owe(changed);
  await session.sync('no-expunge', true);
  return changed;
}

/** The text of an item the view alone answers (UID, FLAGS, MODSEQ, RFC822.SIZE, THREADID). */
function viewItemText(item: FetchItem, m: ViewMessage, recent: boolean): string {
  switch (item.kind) {
    case 'uid':
      return `UID ${m.uid}`;
    case 'flags':
      return `FLAGS ${formatFlags(m.flags, recent)}`;
    case 'modseq':
      return `MODSEQ (${m.modseq})`;
    case 'threadid':
      // RFC 8474 §5.2: without thread computation, THREADID is NIL.
      return 'THREADID NIL';
    default:
      // Only VIEW_ITEMS reach here; 'size' is the last of them.
      return `RFC822.SIZE ${m.size}`;
  }
}

/** Whether an item needs the MIME analysis: the whole message's bytes (BODY[], RFC822, BINARY[]) do not. */
function needsAnalysisFor(item: FetchItem): boolean {
  if (VIEW_ITEMS.has(item.kind) || RECORD_ITEMS.has(item.kind)) return false;
  if (item.kind === 'section') return item.section.path.length > 0 || item.section.text.kind !== 'all';
  if (item.kind === 'binary' || item.kind === 'binary-size') return item.path.length > 0;
  return true;
}

/** The analyses of the blobs, by blob id (absent: the blob is gone). */
async function analysesOf(session: ImapSession, blobIds: ReadonlyArray<string | null>): Promise<Map<string, MessageAnalysis>> {
  const ids = [...new Set(blobIds)].filter((id) => id !== null);
  const found = await Promise.all(ids.map((id) => session.store.getAnalysis(id, { bodyText: false })));
  const out = new Map<string, MessageAnalysis>();
  ids.forEach((id, k) => {
    const a = found[k];
    if (a) out.set(id, a);
  });
  return out;
}

/** A byte range of a message; `fields` when it is a header to filter (HEADER.FIELDS). */
type SectionRange = NonNullable<ReturnType<typeof sectionBytes>>;

/** One message of a batch and what its response needs. */
interface MessagePlan {
  seqNum: number;
  m: ViewMessage;
  /** Only when an item needs more than the view and the blob (INTERNALDATE, SAVEDATE, EMAILID). */
  rec: MessageRecord | null;
  blobId: string | null;
  analysis: MessageAnalysis | null;
  /** This FETCH set \Seen: FLAGS go with the response (RFC 9051 §6.4.5). */
  flagsChanged: boolean;
  recent: boolean;
  /** Per item index: a section's byte range (partial applied unless it filters fields), null for NIL. */
  ranges: Array<SectionRange | null | undefined>;
  /** Per item index: a section's bytes, once read. */
  data: Array<Buffer | undefined>;
  /** Octets of its sections held in memory when read with the batch. */
  bytes: number;
  /** Answered one item at a time: PREVIEW, BINARY, or a section big enough to stream. */
  slow: boolean;
}

/** Items that make a message need byte ranges or I/O: sections, PREVIEW, BINARY. */
function needsPlanning(item: FetchItem): boolean {
  return item.kind === 'section' || item.kind === 'preview' || item.kind === 'binary' || item.kind === 'binary-size';
}

/** Fills in the ranges a message's sections need and whether it can be answered from memory. */
function planSections(plan: MessagePlan, items: readonly FetchItem[]): void {
  for (let k = 0; k < items.length; k++) {
    const item = items[k]!;
    if (item.kind === 'preview' || item.kind === 'binary' || item.kind === 'binary-size') plan.slow = true;
    if (item.kind !== 'section') continue;
    const range = sectionRangeOf(plan, item);
    plan.ranges[k] = range;
    if (!range) continue;
    const length = range.end - range.start;
    if (length > STREAM_THRESHOLD) plan.slow = true;
    plan.bytes += length;
  }
}

/** The bytes a section names, the whole message without the analysis; partial applied to plain ranges. */
function sectionRangeOf(plan: MessagePlan, item: Extract<FetchItem, { kind: 'section' }>): SectionRange | null {
  const range = needsAnalysisFor(item) ? sectionBytes(plan.analysis!.root, item.section) : { start: 0, end: plan.m.size };
  if (!range || range.fields || !item.partial) return range;
  // RFC 9051 §6.4.5: <origin.octets>, cut at the end of the section.
  const start = Math.min(range.end, range.start + item.partial[0]);
  return { start, end: Math.min(range.end, start + item.partial[1]) };
}

/** The plans from `from` on whose sections fit in one batch's memory budget (at least one). */
function takeWindow(plans: readonly MessagePlan[], from: number): MessagePlan[] {
  let bytes = 0;
  let to = from;
  while (to < plans.length && (to === from || bytes + plans[to]!.bytes <= WINDOW_BYTES)) bytes += plans[to++]!.bytes;
  return plans.slice(from, to);
}

/**
 * Answers a window of messages: the sections of the in-memory ones are read
 * together, every response goes into one batch written at once, and slow
 * messages are sent in their turn, so responses keep their order.
 */
async function sendWindow(session: ImapSession, window: readonly MessagePlan[], items: readonly FetchItem[]): Promise<void> {
  const wanted: BlobRange[] = [];
  const into: Array<{ plan: MessagePlan; k: number }> = [];
  for (const plan of window) {
    if (plan.slow) continue;
    for (let k = 0; k < plan.ranges.length; k++) {
      const range = plan.ranges[k];
      if (!range) continue;
      wanted.push({ blobId: plan.blobId!, start: range.start, end: range.end });
      into.push({ plan, k });
    }
  }
  const slab = wanted.length > 0 ? windowSlabs.take() : null;
  try {
    if (slab) (await session.store.blobs.readRanges(wanted, slab)).forEach((bytes, j) => (into[j]!.plan.data[into[j]!.k] = bytes));
    // Backpressure after the reads: this window is read while the previous one drains (at most two in memory).
    await session.backpressure();
    await writeWindow(session, window, items);
  } finally {
    // The responses refer to the slab until the socket has taken them.
    if (slab) void session.whenWritten().then(() => windowSlabs.give(slab));
  }
}

/** Renders and sends a window's responses, the sections of in-memory messages already read. */
async function writeWindow(session: ImapSession, window: readonly MessagePlan[], items: readonly FetchItem[]): Promise<void> {
  const out = session.responseBatch();
  const flagsAsked = items.some((i) => i.kind === 'flags');
  const { view } = selectedView(session);
  for (const plan of window) {
    // What is complete goes out first: a slow message may fail (NO) after its first bytes.
    if (plan.slow) sendBatch(session, out);
    out.add(`* ${fetchHead(session, plan.seqNum, plan.m.uid)} (`);
    for (let k = 0; k < items.length; k++) {
      if (k > 0) out.add(' ');
      if (!renderItem(out, plan, items[k]!, k)) await writeSlowItem(session, out, plan, items[k]!, k);
    }
    // RFC 9051 §6.4.5: a \Seen set by this FETCH is reported in the same response.
    if (plan.flagsChanged && !flagsAsked) out.add(`${items.length > 0 ? ' ' : ''}FLAGS ${formatFlags(plan.m.flags, plan.recent)}`);
    if (plan.flagsChanged || flagsAsked) view.told(plan.m.uid);
    out.add(')\r\n');
    plan.data = []; // the batch holds the bytes now; the plan outlives this window
  }
  sendBatch(session, out);
}

/** Hands what is batched to the session, large values uncopied. */
function sendBatch(session: ImapSession, out: ResponseBatch): void {
  session.writeBatch(out);
}

/** Adds an item answered from memory; false when it needs reading or computing first (writeSlowItem). */
function renderItem(out: ResponseBatch, plan: MessagePlan, item: FetchItem, k: number): boolean {
  const rec = plan.rec;
  switch (item.kind) {
    case 'internaldate':
      out.add(`INTERNALDATE ${formatInternalDate(rec!.internalDate)}`);
      return true;
    case 'savedate':
      // RFC 8514 §4.2: every message has a save date here, so never NIL.
      out.add(`SAVEDATE ${formatInternalDate(rec!.saveDate)}`);
      return true;
    case 'emailid':
      out.add(`EMAILID (${rec!.emailId})`);
      return true;
    case 'envelope':
      out.add('ENVELOPE ');
      out.addBytes(plan.analysis!.envelope);
      return true;
    case 'body':
      out.add('BODY ');
      out.addBytes(plan.analysis!.body);
      return true;
    case 'bodystructure':
      out.add('BODYSTRUCTURE ');
      out.addBytes(plan.analysis!.bodyStructure);
      return true;
    case 'section': {
      const range = plan.ranges[k];
      if (range === null) {
        out.add(`${sectionName(item)} NIL`);
        return true;
      }
      const data = plan.data[k];
      if (data === undefined) return false;
      // The one exception to serving stored bytes as they are: a NUL becomes 0x80 in a
      // non-BINARY literal (RFC 9051 §9, CHAR8); same size, so RFC822.SIZE and <origin> hold.
      // withoutNul copies, never writes into `data`: it may be the window's slab or a shared buffer.
      const bytes = withoutNul(range!.fields ? slicePartial(filterHeader(data, range!.fields.names, range!.fields.not), item.partial) : data);
      out.add(`${sectionName(item)} {${bytes.length}}\r\n`);
      out.addMessageData(bytes);
      return true;
    }
    case 'preview':
    case 'binary':
    case 'binary-size':
      return false;
    default:
      out.add(viewItemText(item, plan.m, plan.recent));
      return true;
  }
}

/** `BODY[section]<origin>` (or RFC822*), as the response names a section. */
function sectionName(item: Extract<FetchItem, { kind: 'section' }>): string {
  return item.name === 'BODY' ? `BODY[${item.section.label}]${item.partial ? `<${item.partial[0]}>` : ''}` : item.name;
}

/** Adds an item that needs I/O first: PREVIEW, BINARY, or a section too big for memory (streamed). */
async function writeSlowItem(session: ImapSession, out: ResponseBatch, plan: MessagePlan, item: FetchItem, k: number): Promise<void> {
  const blobId = plan.blobId!;
  if (item.kind === 'preview') {
    // RFC 8970 §3.2: a string (never NIL without LAZY; computing it is cheap, so never NIL at all).
    const preview = await messagePreview(plan.analysis!.root, (start, end) => session.store.blobs.read(blobId, start, end));
    out.add('PREVIEW ');
    // Message text: the trace shows only its size.
    out.addMessageData(encodeString(preview, session.encodeMode));
  } else if (item.kind === 'binary' || item.kind === 'binary-size') {
    await writeBinary(session, out, plan, item);
  } else if (item.kind === 'section') {
    const range = plan.ranges[k]!;
    if (range.fields || range.end - range.start <= STREAM_THRESHOLD) {
      plan.data[k] = await session.store.blobs.read(blobId, range.start, range.end);
      renderItem(out, plan, item, k);
    } else {
      await streamLiteral(session, out, `${sectionName(item)} `, blobId, range.start, range.end, false);
    }
  }
}

/**
 * Sends what is batched, then the blob bytes [start, end) streamed with
 * backpressure: as literal8 `~{n}` with the bytes as stored (BINARY), or as
 * `{n}` with each NUL made 0x80 like renderItem does.
 */
async function streamLiteral(
  session: ImapSession,
  out: ResponseBatch,
  prefix: string,
  blobId: string,
  start: number,
  end: number,
  binary: boolean,
): Promise<void> {
  // RFC 3516 §4.3 prefers {n} for BINARY content without NUL, but only reading it twice would tell.
  out.add(`${prefix}${binary ? '~' : ''}{${end - start}}\r\n`);
  sendBatch(session, out);
  const source = session.store.blobs.createReadStream(blobId, start, end);
  await session.pipeFrom(binary ? source : Readable.from(chunksWithoutNul(source), { objectMode: false }), end - start);
}

/** A stream's chunks with NUL made 0x80 (withoutNul), pulled one at a time so backpressure still holds. */
async function* chunksWithoutNul(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of source) yield withoutNul(chunk);
}

function slicePartial(bytes: Buffer, partial: [number, number] | null): Buffer {
  if (!partial) return bytes;
  const start = Math.min(bytes.length, partial[0]);
  return bytes.subarray(start, Math.min(bytes.length, start + partial[1]));
}

/** RFC 3516 §4.2 — BINARY[part] (decoded content) and BINARY.SIZE[part]. */
async function writeBinary(
  session: ImapSession,
  out: ResponseBatch,
  plan: MessagePlan,
  item: Extract<FetchItem, { kind: 'binary' | 'binary-size' }>,
): Promise<void> {
  const blobId = plan.blobId!;
  const size = plan.m.size;
  const label = item.path.join('.');
  const origin = item.kind === 'binary' && item.partial ? `<${item.partial[0]}>` : '';
  if (!item.path.length) {
    // BINARY[] is the whole message, undecoded.
    if (item.kind === 'binary-size') {
      out.add(`BINARY.SIZE[] ${size}`);
      return;
    }
    const start = Math.min(size, item.partial?.[0] ?? 0);
    const end = item.partial ? Math.min(size, start + item.partial[1]) : size;
    if (end - start > STREAM_THRESHOLD) return streamLiteral(session, out, `BINARY[]${origin} `, blobId, start, end, true);
    addBinary(out, `BINARY[]${origin}`, await session.store.blobs.read(blobId, start, end));
    return;
  }
  const part = findPart(plan.analysis!.root, item.path);
  if (!part) throw no('NONEXISTENT', 'No such body part');
  if (part.parts && part.type === 'multipart') throw no('UNKNOWN-CTE', 'BINARY cannot decode a multipart');
  const raw = await session.store.blobs.read(blobId, part.bs, part.be);
  const decoded = decodeTransferEncoding(part.encoding, raw);
  if (!decoded) throw no('UNKNOWN-CTE', `Cannot decode content-transfer-encoding ${part.encoding}`);
  if (item.kind === 'binary-size') {
    out.add(`BINARY.SIZE[${label}] ${decoded.length}`);
    return;
  }
  addBinary(out, `BINARY[${label}]${origin}`, slicePartial(decoded, item.partial));
}

/** A BINARY item's content as it is: literal8 (~{n}) when it holds NUL, else a plain literal (RFC 3516 §4.3). */
function addBinary(out: ResponseBatch, name: string, bytes: Buffer): void {
  out.add(`${name} ${bytes.includes(0) ? '~' : ''}{${bytes.length}}\r\n`);
  out.addMessageData(bytes);
}
