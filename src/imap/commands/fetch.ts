/**
 * FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 8474 EMAILID and
 * THREADID, RFC 8514 SAVEDATE, RFC 8970 PREVIEW).
 *
 * Invariants: messages are processed in batches so memory does not grow with
 * the set; large sections stream from the blob store with backpressure;
 * fetching BODY[...] (not PEEK) sets \Seen first and reports the new FLAGS in
 * the same response; no EXPUNGE is sent while FETCH runs (sync 'no-expunge').
 */
import { modseq, type AccountId, type Uid } from '../../ids.js';
import { condstore, enableCondstore, fetchHead, qresync, uidOnly } from '../condstore.js';
import type { MailboxView } from '../session/mailbox-view.js';
import { formatNumbers, inRanges, resolveRanges } from '../../search/sequence-set.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import { findPart } from '../../mime/section.js';
import { decodeTransferEncoding } from '../../mime/transfer-encoding.js';
import type { MessageAnalysis } from '../../mime/types.js';
import type { MessageRecord } from '../../store/types.js';
import { no } from '../errors.js';
import { filterHeader, parseFetchItems, sectionBytes, type FetchItem } from '../fetch-items.js';
import { formatFlags, hasFlag } from '../flags.js';
import type { ViewMessage } from '../session/mailbox-view.js';
import type { ImapSession } from '../session/session.js';
import { messagePreview } from '../preview.js';
import { encodeString, literal } from '../wire/encode.js';
import type { SequenceSet } from '../../search/sequence-set.js';
import { resolveSet, selectedView } from './message-set.js';
import { command } from './spec.js';

/** Messages per store round trip. */
const BATCH = 500;
/** Sections larger than this are streamed rather than read into memory. */
const STREAM_THRESHOLD = 128 * 1024;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 9051 `date-time` in UTC. */
export function formatInternalDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `"${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
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
    const needsRecord = items.some((i) => !VIEW_ITEMS.has(i.kind));
    const needsAnalysis = items.some((i) => !VIEW_ITEMS.has(i.kind) && !RECORD_ITEMS.has(i.kind));
    const setsSeen = !readOnly && items.some((i) => (i.kind === 'section' || i.kind === 'binary') && !i.peek);
    let missing = false;
    let done = 0;

    if (!needsRecord && !setsSeen) {
      // Everything comes from the view: no store, no awaits per message (UID FETCH 1:* (UID FLAGS) on big mailboxes).
      for (let b = 0; b < indices.length; b += BATCH) {
        let lines = '';
        for (const i of indices.slice(b, b + BATCH)) lines += viewOnlyResponse(session, i + 1, view.messages[i]!, items, view.isRecent(view.messages[i]!.uid));
        session.write(Buffer.from(lines));
        await session.backpressure();
        session.progress((done += Math.min(BATCH, indices.length - b)), indices.length);
      }
      return;
    }

    for (let b = 0; b < indices.length; b += BATCH) {
      const batch = indices.slice(b, b + BATCH).map((i) => view.messages[i]!);
      const uids = batch.map((m) => m.uid);
      const records = new Map<number, MessageRecord>();
      if (needsRecord) {
        for (const rec of await session.store.getRecords(accountId, view.mailboxId, uids)) records.set(rec.uid, rec);
      }
      const seenChanged = setsSeen ? await markSeen(session, accountId, batch) : new Set<number>();
      for (const old of batch) {
        // markSeen replaced changed summaries in the view (they are immutable).
        const m = seenChanged.has(old.uid) ? (view.messages[view.indexOfUid(old.uid)] ?? old) : old;
        const rec = records.get(m.uid);
        if (needsRecord && !rec) {
          missing = true;
          continue;
        }
        const analysis = needsAnalysis && rec ? await session.store.getAnalysis(rec.blobId, { bodyText: false }) : null;
        if (needsAnalysis && !analysis) {
          missing = true;
          continue;
        }
        await writeMessage(session, view.seqOf(m.uid), m, rec ?? null, analysis, items, seenChanged.has(m.uid), view.isRecent(m.uid));
        session.progress(++done, indices.length);
      }
    }
    // RFC 2180 §4.1.2 / RFC 5530: data of messages expunged meanwhile could not be returned.
    if (missing) return { code: 'EXPUNGEISSUED', text: 'Some messages were expunged meanwhile' };
  },
});

/** RFC 7162 §3.2.6: `* VANISHED (EARLIER)` for UIDs in the set expunged after `since`. */
async function reportVanished(session: ImapSession, accountId: AccountId, view: MailboxView, set: Extract<SequenceSet, { kind: 'ranges' }>, since: number): Promise<void> {
  const changes = await session.store.changesSince(accountId, view.mailboxId, modseq(since));
  const ranges = resolveRanges(set.ranges, Math.max(view.maxUid, view.uidNext - 1));
  const uids = changes.expunged.filter((u) => view.indexOfUid(u) < 0 && inRanges(ranges, u));
  if (uids.length) session.untagged(`VANISHED (EARLIER) ${formatNumbers(uids)}`);
}

/** Sets \Seen on messages lacking it; returns the UIDs whose flags changed. */
async function markSeen(session: ImapSession, accountId: AccountId, batch: ViewMessage[]): Promise<Set<number>> {
  const { view } = selectedView(session);
  const unseen = batch.filter((m) => !view.isExpunged(m.uid) && !hasFlag(m.flags, '\\Seen')).map((m) => m.uid);
  const changed = new Set<number>();
  if (unseen.length === 0) return changed;
  const res = await session.store.storeFlags(accountId, view.mailboxId, unseen as Uid[], 'add', ['\\Seen']);
  for (const s of res.changed) if (view.update(s)) changed.add(s.uid);
  return changed;
}

/** A whole `* n FETCH (...)` line for items the view alone answers (UID, FLAGS, MODSEQ, RFC822.SIZE). */
function viewOnlyResponse(session: ImapSession, seqNum: number, m: ViewMessage, items: readonly FetchItem[], recent: boolean): string {
  const parts = items.map((item) => {
    switch (item.kind) {
      case 'uid':
        return `UID ${m.uid}`;
      case 'flags':
        return `FLAGS ${formatFlags(m.flags, recent)}`;
      case 'modseq':
        return `MODSEQ (${m.modseq})`;
      case 'threadid':
        return 'THREADID NIL';
      default:
        // Only VIEW_ITEMS reach here; 'size' is the last of them.
        return `RFC822.SIZE ${m.size}`;
    }
  });
  return `* ${fetchHead(session, seqNum, m.uid)} (${parts.join(' ')})\r\n`;
}

/** Writes one `* n FETCH (...)` response, streaming large sections. */
async function writeMessage(
  session: ImapSession,
  seqNum: number,
  m: ViewMessage,
  rec: MessageRecord | null,
  analysis: MessageAnalysis | null,
  items: FetchItem[],
  flagsChanged: boolean,
  recent: boolean,
): Promise<void> {
  // Plain items accumulate in one string; only literals and stored values go out as their own buffers.
  let text = `* ${fetchHead(session, seqNum, m.uid)} (`;
  const emit = (bytes?: Buffer): void => {
    if (text) session.write(Buffer.from(text));
    text = '';
    if (bytes) session.write(bytes);
  };
  let first = true;
  let flagsSent = false;
  for (const item of items) {
    if (!first) text += ' ';
    first = false;
    switch (item.kind) {
      case 'uid':
        text += `UID ${m.uid}`;
        break;
      case 'flags':
        text += `FLAGS ${formatFlags(m.flags, recent)}`;
        flagsSent = true;
        break;
      case 'modseq':
        text += `MODSEQ (${m.modseq})`;
        break;
      case 'size':
        text += `RFC822.SIZE ${m.size}`;
        break;
      case 'internaldate':
        text += `INTERNALDATE ${formatInternalDate(rec!.internalDate)}`;
        break;
      case 'savedate':
        // RFC 8514 §4.2: every message has a save date here, so never NIL.
        text += `SAVEDATE ${formatInternalDate(rec!.saveDate)}`;
        break;
      case 'emailid':
        text += `EMAILID (${rec!.emailId})`;
        break;
      case 'threadid':
        // RFC 8474 §5.2: without thread computation, THREADID is NIL.
        text += 'THREADID NIL';
        break;
      case 'preview': {
        // RFC 8970 §3.2: a string (never NIL without LAZY; computing it is cheap, so never NIL at all).
        const preview = await messagePreview(analysis!.root, (start, end) => session.store.blobs.read(rec!.blobId, start, end));
        text += 'PREVIEW ';
        emit(encodeString(preview, session.encodeMode));
        break;
      }
      case 'envelope':
        text += 'ENVELOPE ';
        emit(analysis!.envelope);
        break;
      case 'body':
        text += 'BODY ';
        emit(analysis!.body);
        break;
      case 'bodystructure':
        text += 'BODYSTRUCTURE ';
        emit(analysis!.bodyStructure);
        break;
      case 'section':
        emit();
        await writeSection(session, rec!, analysis!, item);
        break;
      case 'binary':
      case 'binary-size':
        emit();
        await writeBinary(session, rec!, analysis!, item);
        break;
    }
  }
  // RFC 9051 §6.4.5: a \Seen set by this FETCH is reported in the same response.
  if (flagsChanged && !flagsSent) text += `${first ? '' : ' '}FLAGS ${formatFlags(m.flags, recent)}`;
  text += ')\r\n';
  emit();
  await session.backpressure();
}

/** Writes `BODY[section]<origin> value` (or RFC822*). */
async function writeSection(session: ImapSession, rec: MessageRecord, analysis: MessageAnalysis, item: Extract<FetchItem, { kind: 'section' }>): Promise<void> {
  const origin = item.partial ? `<${item.partial[0]}>` : '';
  const name = item.name === 'BODY' ? `BODY[${item.section.label}]${origin}` : item.name;
  const range = sectionBytes(analysis.root, item.section);
  if (!range) {
    session.write(Buffer.from(`${name} NIL`));
    return;
  }
  if (range.fields) {
    const header = await session.store.blobs.read(rec.blobId, range.start, range.end);
    const bytes = slicePartial(filterHeader(header, range.fields.names, range.fields.not), item.partial);
    session.write(Buffer.concat([Buffer.from(`${name} `), literal(bytes)]));
    return;
  }
  let { start, end } = range;
  if (item.partial) {
    start = Math.min(end, start + item.partial[0]);
    end = Math.min(end, start + item.partial[1]);
  }
  await writeBlobLiteral(session, `${name} `, rec.blobId, start, end);
}

/** Writes "<prefix>{n}\r\n" and the blob bytes [start, end), streaming when large. */
async function writeBlobLiteral(session: ImapSession, prefix: string, blobId: string, start: number, end: number): Promise<void> {
  const length = end - start;
  session.write(Buffer.from(`${prefix}{${length}}\r\n`));
  if (length === 0) return;
  if (length <= STREAM_THRESHOLD) {
    session.write(await session.store.blobs.read(blobId, start, end));
  } else {
    await session.pipeFrom(session.store.blobs.createReadStream(blobId, start, end));
  }
}

function slicePartial(bytes: Buffer, partial: [number, number] | null): Buffer {
  if (!partial) return bytes;
  const start = Math.min(bytes.length, partial[0]);
  return bytes.subarray(start, Math.min(bytes.length, start + partial[1]));
}

/** RFC 3516 §4.2 — BINARY[part] (decoded content) and BINARY.SIZE[part]. */
async function writeBinary(session: ImapSession, rec: MessageRecord, analysis: MessageAnalysis, item: Extract<FetchItem, { kind: 'binary' | 'binary-size' }>): Promise<void> {
  const label = item.path.join('.');
  const part = item.path.length ? findPart(analysis.root, item.path) : analysis.root;
  if (!part) throw no('NONEXISTENT', 'No such body part');
  if (item.path.length && part.parts && part.type === 'multipart') throw no('UNKNOWN-CTE', 'BINARY cannot decode a multipart');
  const origin = item.kind === 'binary' && item.partial ? `<${item.partial[0]}>` : '';
  if (!item.path.length) {
    // BINARY[] is the whole message, undecoded.
    if (item.kind === 'binary-size') session.write(Buffer.from(`BINARY.SIZE[] ${rec.size}`));
    else {
      const start = Math.min(rec.size, item.partial?.[0] ?? 0);
      const end = item.partial ? Math.min(rec.size, start + item.partial[1]) : rec.size;
      await writeBlobLiteral(session, `BINARY[]${origin} `, rec.blobId, start, end);
    }
    return;
  }
  const raw = await session.store.blobs.read(rec.blobId, part.bs, part.be);
  const decoded = decodeTransferEncoding(part.encoding, raw);
  if (!decoded) throw no('UNKNOWN-CTE', `Cannot decode content-transfer-encoding ${part.encoding}`);
  if (item.kind === 'binary-size') {
    session.write(Buffer.from(`BINARY.SIZE[${label}] ${decoded.length}`));
    return;
  }
  const bytes = slicePartial(decoded, item.partial);
  session.write(Buffer.concat([Buffer.from(`BINARY[${label}]${origin} `), literal(bytes, bytes.includes(0))]));
}

