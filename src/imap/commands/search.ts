/**
 * SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with ESEARCH result
 * options (RFC 4731), SEARCHRES (RFC 5182: RETURN (SAVE) and `$`), PARTIAL
 * results (RFC 9394) and the MODSEQ key's response data (RFC 7162 §3.1.5,
 * RFC 4731 §3.2). SORT and THREAD (sort.ts, thread.ts) share the searching and
 * the result writing here.
 *
 * Invariants: no EXPUNGE is sent while a SEARCH by sequence number runs (sync
 * 'no-expunge'); results are written in bounded pieces with backpressure,
 * never as one string per result; a SEARCH with SAVE that ends in NO empties
 * the saved result, one that ends in BAD leaves it alone (RFC 9051 §6.4.4.1).
 */
import { enableCondstore, uidOnly } from '../condstore.js';
import type { Uid } from '../../ids.js';
import { REQUIRED_CHARSETS } from '../../search/charset.js';
import { evaluateSearch, type ContentSource } from '../../search/evaluate.js';
import { loadFacts, type FactsSource } from '../../search/message-facts.js';
import { parseSearchCommand, type PartialRange, type ReturnOptions, type SearchArgs } from './search-keys.js';
import { queryNeeds, type SearchKey } from '../../search/query.js';
import { ImapError, no } from '../errors.js';
import type { ViewMessage } from '../session/mailbox-view.js';
import type { ImapSession } from '../session/session.js';
import { encodeString } from '../../syntax/imap-string.js';
import { selectedView } from './message-set.js';
import { command, type Invocation, PRESYNC_NO_EXPUNGE } from './spec.js';

/** Result text is flushed to the client in pieces of about this many characters. */
const PIECE = 16 * 1024;

/** RFC 9051 §6.4.4 — SEARCH. */
export const search = command({
  name: 'SEARCH',
  states: ['selected'],
  uidForm: true,
  sync: 'no-expunge',
  presync: PRESYNC_NO_EXPUNGE,
  parse(r, inv): SearchArgs {
    r.sp();
    return parseSearchCommand(r, inv.session.rev2);
  },
  async run(inv, args) {
    const session = inv.session;
    await keepingSaved(session, args.returnOptions?.save ?? false, async () => {
      const indices = await searchSelected(session, args.query, args.charsetSupported ? null : args.charset);
      const { view } = selectedView(session);
      const opts = args.returnOptions ?? (session.rev2 ? ALL_ONLY : null);
      await sendResult(
        inv,
        'SEARCH',
        opts,
        indices,
        indices.map((i) => view.messages[i]!),
        queryNeeds(args.query).modseq,
      );
    });
  },
});

/** IMAP4rev2 always answers with ESEARCH; no RETURN means ALL (RFC 9051 §6.4.4). */
const ALL_ONLY: ReturnOptions = { min: false, max: false, all: true, count: false, save: false };

/**
 * Runs a query against the selected mailbox and returns the matching view
 * indices, ascending. `badCharset` is the CHARSET the command named when it
 * cannot be decoded: the answer is then NO [BADCHARSET] (RFC 9051 §6.4.4).
 */
export async function searchSelected(session: ImapSession, query: SearchKey, badCharset: string | null): Promise<number[]> {
  if (uidOnly(session) && queryNeeds(query).seqNumbers) {
    throw new ImapError('BAD', 'UIDREQUIRED', 'Message numbers are not allowed once UIDONLY is enabled');
  }
  const { view } = selectedView(session);
  if (badCharset !== null) throw no(`BADCHARSET (${REQUIRED_CHARSETS.join(' ')})`, `Charset ${badCharset} is not supported`);
  const facts = selectedFacts(session);
  return evaluateSearch(query, {
    messages: view.messages,
    isRecent: (uid) => view.isRecent(uid),
    isExpunged: (uid) => view.isExpunged(uid),
    saved: session.savedSearch,
    source: selectedSource(session, queryNeeds(query).bodyText),
    facts: (uids) => loadFacts(facts, uids),
  });
}

/** The store scoped to the selected mailbox, as searching, sorting and threading read message content. */
export function selectedSource(session: ImapSession, bodyText: boolean): ContentSource {
  const { view, accountId } = selectedView(session);
  return {
    getRecords: (uids) => session.store.getRecords(accountId, view.mailboxId, uids),
    getAnalysis: (blobId) => session.store.getAnalysis(blobId, { bodyText }),
    readBlob: (blobId, start, end) => session.store.blobs.read(blobId, start, end),
  };
}

/** The selected mailbox as the hot SORT/THREAD/SEARCH facts are read from it (message-facts.ts). */
export function selectedFacts(session: ImapSession): FactsSource {
  const { view } = selectedView(session);
  const store = session.store;
  return {
    ...selectedSource(session, false),
    getHeaderFacts: (blobIds: readonly string[]) => store.getHeaderFacts(blobIds),
    saveHeaderFacts: (facts: ReadonlyMap<string, string>, version: number) => store.saveHeaderFacts(facts, version),
    store,
    mailboxId: view.mailboxId,
    uidValidity: view.uidValidity,
    liveCount: view.messages.length,
    isLive: (uid: Uid) => view.indexOfUid(uid) >= 0 && !view.isExpunged(uid),
  };
}

/** Runs a command that may SAVE its result: if it fails with NO, `$` is left empty; a BAD leaves `$` alone (RFC 9051 §6.4.4.1). */
export async function keepingSaved(session: ImapSession, save: boolean, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (save && !(e instanceof ImapError && e.status === 'BAD')) session.savedSearch = [];
    throw e;
  }
}

/**
 * Answers a SEARCH or SORT whose result is `indices` (view indices) and
 * `found` (their messages), both in result order: without RETURN options the
 * plain `* SEARCH` / `* SORT` response, else an ESEARCH response (RFC 4731,
 * RFC 5267 §3 ESORT, RFC 9394 PARTIAL). Also saves `$` (RFC 5182) and reports
 * the highest MODSEQ when a MODSEQ key was used (RFC 7162 §3.1.5, §3.1.9).
 */
export async function sendResult(
  inv: Invocation,
  kind: 'SEARCH' | 'SORT',
  opts: ReturnOptions | null,
  indices: readonly number[],
  found: readonly ViewMessage[],
  withModseq: boolean,
): Promise<void> {
  const session = inv.session;
  if (opts?.save) session.savedSearch = savedResult(found, opts);
  // RFC 7162 §3.1.5: SEARCH MODSEQ (and SORT MODSEQ) is a CONDSTORE-enabling command.
  if (withModseq) enableCondstore(session);
  if (opts === null) await writePlain(session, inv, kind, indices, found, withModseq);
  else if (opts.min || opts.max || opts.all || opts.count || opts.partial) await writeEsearch(session, inv, opts, indices, found, withModseq);
}

/** The positions [start, end) a PARTIAL range selects in a result list of `count` (RFC 9394 §3.1). */
function partialSlice(p: PartialRange, count: number): [start: number, end: number] {
  const lo = Math.min(Math.abs(p.first), Math.abs(p.last));
  const hi = Math.max(Math.abs(p.first), Math.abs(p.last));
  if (p.first > 0) return [Math.min(lo - 1, count), Math.min(hi, count)];
  return [Math.max(count - hi, 0), Math.max(count - lo + 1, 0)];
}

/** The messages MIN, MAX and PARTIAL return (RFC 4731 §3.1, RFC 9394 §3.2), in result order, each once. */
function returnedBy(found: readonly ViewMessage[], o: ReturnOptions): ViewMessage[] {
  const n = found.length;
  const picked = new Set<number>();
  if (n > 0 && o.min) picked.add(0);
  if (o.partial) {
    const [start, end] = partialSlice(o.partial, n);
    for (let p = start; p < end; p++) picked.add(p);
  }
  if (n > 0 && o.max) picked.add(n - 1);
  return [...picked].sort((x, y) => x - y).map((p) => found[p]!);
}

/**
 * What `$` holds after SAVE, as ascending UIDs: with ALL or COUNT (or SAVE
 * alone) every found message, else just those MIN, MAX and PARTIAL return
 * (RFC 9051 §6.4.4.1 table 4, RFC 9394 §3.2 table 1).
 */
function savedResult(found: readonly ViewMessage[], o: ReturnOptions): Uid[] {
  const every = o.all || o.count || !(o.min || o.max || o.partial);
  return (every ? found : returnedBy(found, o)).map((m) => m.uid).sort((a, b) => a - b);
}

/** The number the client sees for a found message. */
function numbersOf(inv: Invocation, indices: readonly number[], found: readonly ViewMessage[]): number[] {
  return inv.uid ? found.map((m) => m.uid) : indices.map((i) => i + 1);
}

const highestModseq = (ms: readonly ViewMessage[]): number => ms.reduce((hi, m) => Math.max(hi, m.modseq), 0);

/**
 * RFC 3501 §7.2.5 `* SEARCH n…` or RFC 5256 §4 `* SORT n…`, plus `(MODSEQ m)`
 * when a MODSEQ key was used and something matched (RFC 7162 §3.1.6, §3.1.9).
 */
async function writePlain(
  session: ImapSession,
  inv: Invocation,
  kind: 'SEARCH' | 'SORT',
  indices: readonly number[],
  found: readonly ViewMessage[],
  withModseq: boolean,
): Promise<void> {
  const tail = withModseq && found.length > 0 ? ` (MODSEQ ${highestModseq(found)})` : '';
  await writePieces(
    session,
    `* ${kind}`,
    numbersOf(inv, indices, found).map((n) => ` ${n}`),
    `${tail}\r\n`,
  );
}

/** RFC 4731 §3.1 / RFC 9051 §7.3.4 `* ESEARCH (TAG "t") [UID] MIN MAX COUNT ALL|PARTIAL [MODSEQ]`. */
async function writeEsearch(
  session: ImapSession,
  inv: Invocation,
  o: ReturnOptions,
  indices: readonly number[],
  found: readonly ViewMessage[],
  withModseq: boolean,
): Promise<void> {
  const nums = numbersOf(inv, indices, found);
  let head = `* ESEARCH (TAG ${encodeString(inv.tag).toString('latin1')})${inv.uid ? ' UID' : ''}`;
  // MIN, MAX and ALL are left out when nothing matched; COUNT and PARTIAL never are.
  if (nums.length > 0 && o.min) head += ` MIN ${nums[0]}`;
  if (nums.length > 0 && o.max) head += ` MAX ${nums[nums.length - 1]}`;
  if (o.count) head += ` COUNT ${nums.length}`;
  let pieces: Iterable<string> = o.all && nums.length > 0 ? setPieces(nums, ' ALL ') : [];
  if (o.partial) pieces = partialPieces(o.partial, nums);
  let tail = '';
  if (withModseq && found.length > 0) {
    // RFC 4731 §3.2: without ALL and COUNT, the modseq of just the returned messages.
    const returned = o.all || o.count ? found : returnedBy(found, o);
    if (returned.length > 0) tail = ` MODSEQ ${highestModseq(returned)}`;
  }
  await writePieces(session, head, pieces, `${tail}\r\n`);
}

/** RFC 9394 `ret-data-partial`: " PARTIAL (range set)", or NIL for the set when the range holds no result. */
function* partialPieces(p: PartialRange, nums: readonly number[]): Generator<string> {
  const [start, end] = partialSlice(p, nums.length);
  const range = ` PARTIAL (${p.first}:${p.last} `;
  if (start >= end) yield `${range}NIL`;
  else yield* setPieces(nums.slice(start, end), range);
  yield ')';
}

/**
 * `lead` then the numbers as a sequence set, one range per piece. Only
 * ascending runs become ranges, so a set in SORT order keeps that order when
 * expanded (RFC 5267 §3.2).
 */
function* setPieces(nums: readonly number[], lead: string): Generator<string> {
  let sep = lead;
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    yield j === i ? `${sep}${nums[i]}` : `${sep}${nums[i]}:${nums[j]}`;
    sep = ',';
    i = j + 1;
  }
}

/** Writes head, the pieces and tail as one response line, flushing every PIECE characters (backpressure). */
export async function writePieces(session: ImapSession, head: string, pieces: Iterable<string>, tail: string): Promise<void> {
  let buf = head;
  for (const p of pieces) {
    buf += p;
    if (buf.length >= PIECE) {
      session.write(Buffer.from(buf, 'latin1'));
      buf = '';
      await session.backpressure();
    }
  }
  session.write(Buffer.from(buf + tail, 'latin1'));
}
