/**
 * SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with ESEARCH result
 * options (RFC 4731), SEARCHRES (RFC 5182: RETURN (SAVE) and `$`) and the
 * MODSEQ key's response data (RFC 7162 §3.1.5, RFC 4731 §3.2).
 *
 * Invariants: no EXPUNGE is sent while a SEARCH by sequence number runs (sync
 * 'no-expunge'); results are written in bounded pieces with backpressure,
 * never as one string per result; a SEARCH with SAVE that ends in NO empties
 * the saved result, one that ends in BAD leaves it alone (RFC 9051 §6.4.4.1).
 */
import { enableCondstore, uidOnly } from '../condstore.js';
import type { Uid } from '../../ids.js';
import { REQUIRED_CHARSETS } from '../../search/charset.js';
import { evaluateSearch } from '../../search/evaluate.js';
import { parseSearchCommand, type ReturnOptions, type SearchArgs } from '../../search/parse.js';
import { queryNeeds } from '../../search/query.js';
import { ImapError, no } from '../errors.js';
import type { ViewMessage } from '../session/mailbox-view.js';
import type { ImapSession } from '../session/session.js';
import { encodeString } from '../wire/encode.js';
import { selectedView } from './message-set.js';
import { command, type Invocation } from './spec.js';

/** Result text is flushed to the client in pieces of about this many characters. */
const PIECE = 16 * 1024;

/** RFC 9051 §6.4.4 — SEARCH. */
export const search = command({
  name: 'SEARCH',
  states: ['selected'],
  uidForm: true,
  sync: 'no-expunge',
  parse(r, inv): SearchArgs {
    r.sp();
    return parseSearchCommand(r, inv.session.rev2);
  },
  async run(inv, args) {
    const session = inv.session;
    const save = args.returnOptions?.save ?? false;
    try {
      if (uidOnly(session) && queryNeeds(args.query).seqNumbers) {
        throw new ImapError('BAD', 'UIDREQUIRED', 'Message numbers are not allowed once UIDONLY is enabled');
      }
      const { view, accountId } = selectedView(session);
      if (!args.charsetSupported) {
        throw no(`BADCHARSET (${REQUIRED_CHARSETS.join(' ')})`, `Charset ${args.charset} is not supported`);
      }
      const indices = await evaluateSearch(args.query, {
        messages: view.messages,
        isRecent: (uid) => view.isRecent(uid),
        isExpunged: (uid) => view.isExpunged(uid),
        saved: session.savedSearch,
        source: {
          getRecords: (uids) => session.store.getRecords(accountId, view.mailboxId, uids),
          getAnalysis: (blobId) => session.store.getAnalysis(blobId),
        },
      });
      const found = indices.map((i) => view.messages[i]!);
      const opts = args.returnOptions ?? (session.rev2 ? ALL_ONLY : null);
      if (args.returnOptions?.save) session.savedSearch = savedResult(found, args.returnOptions);
      const withModseq = queryNeeds(args.query).modseq;
      // RFC 7162 §3.1.5: SEARCH MODSEQ is a CONDSTORE-enabling command.
      if (withModseq) enableCondstore(session);
      if (opts === null) await writeSearch(session, inv, indices, found, withModseq);
      else if (opts.min || opts.max || opts.all || opts.count) await writeEsearch(session, inv, opts, indices, found, withModseq);
    } catch (e) {
      // RFC 9051 §6.4.4.1: a failed SEARCH with SAVE (NO, not BAD) leaves `$` empty.
      if (save && !(e instanceof ImapError && e.status === 'BAD')) session.savedSearch = [];
      throw e;
    }
  },
});

/** IMAP4rev2 always answers with ESEARCH; no RETURN means ALL (RFC 9051 §6.4.4). */
const ALL_ONLY: ReturnOptions = { min: false, max: false, all: true, count: false, save: false };

/** What `$` holds after SAVE: just MIN and/or MAX when they come without ALL and COUNT (RFC 9051 §6.4.4.1, table 4). */
function savedResult(found: readonly ViewMessage[], o: ReturnOptions): Uid[] {
  if (found.length === 0 || o.all || o.count || !(o.min || o.max)) return found.map((m) => m.uid);
  const first = found[0]!.uid;
  const last = found[found.length - 1]!.uid;
  if (o.min && o.max && first !== last) return [first, last];
  return [o.min ? first : last];
}

/** The number the client sees for a found message. */
function numbersOf(inv: Invocation, indices: readonly number[], found: readonly ViewMessage[]): number[] {
  return inv.uid ? found.map((m) => m.uid) : indices.map((i) => i + 1);
}

const highestModseq = (ms: readonly ViewMessage[]): number => ms.reduce((hi, m) => Math.max(hi, m.modseq), 0);

/** RFC 3501 §7.2.5 `* SEARCH n…`, plus `(MODSEQ m)` when a MODSEQ key was used and something matched (RFC 7162 §3.1.6). */
async function writeSearch(session: ImapSession, inv: Invocation, indices: readonly number[], found: readonly ViewMessage[], withModseq: boolean): Promise<void> {
  const tail = withModseq && found.length > 0 ? ` (MODSEQ ${highestModseq(found)})` : '';
  await writePieces(session, '* SEARCH', numbersOf(inv, indices, found).map((n) => ` ${n}`), `${tail}\r\n`);
}

/** RFC 4731 §3.1 / RFC 9051 §7.3.4 `* ESEARCH (TAG "t") [UID] MIN MAX COUNT ALL [MODSEQ]`. */
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
  // MIN, MAX and ALL are left out when nothing matched; COUNT never is.
  if (nums.length > 0 && o.min) head += ` MIN ${nums[0]}`;
  if (nums.length > 0 && o.max) head += ` MAX ${nums[nums.length - 1]}`;
  if (o.count) head += ` COUNT ${nums.length}`;
  const pieces = o.all && nums.length > 0 ? allPieces(nums) : [];
  let tail = '';
  if (withModseq && found.length > 0) {
    // RFC 4731 §3.2: with only MIN/MAX, the modseq of just the returned messages.
    const returned = o.all || o.count ? found : [o.min ? found[0]! : null, o.max ? found[found.length - 1]! : null].filter((m) => m !== null);
    tail = ` MODSEQ ${highestModseq(returned)}`;
  }
  await writePieces(session, head, pieces, `${tail}\r\n`);
}

/** " ALL " then the ascending numbers as a compact sequence set, one range per piece. */
function* allPieces(nums: readonly number[]): Generator<string> {
  let sep = ' ALL ';
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    yield j === i ? `${sep}${nums[i]}` : `${sep}${nums[i]}:${nums[j]}`;
    sep = ',';
    i = j + 1;
  }
}

/** Writes head, the pieces and tail as one response line, flushing every PIECE characters (backpressure). */
async function writePieces(session: ImapSession, head: string, pieces: Iterable<string>, tail: string): Promise<void> {
  let buf = head;
  for (const p of pieces) {
    buf += p;
    if (buf.length >= PIECE) {
      session.write(Buffer.from(buf, 'latin1'));
      buf = '';
      await session.flush();
    }
  }
  session.write(Buffer.from(buf + tail, 'latin1'));
}
