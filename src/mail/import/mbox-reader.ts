/**
 * Reading mbox files (RFC 4155 `application/mbox`), streaming, one message at a time.
 *
 * A message starts at a `From ` line (the "From_" line: envelope sender and
 * asctime date) at the start of the file, after an empty line, or anywhere
 * when the line carries a valid date (writers that leave no empty line). The
 * empty line that precedes the next From_ line belongs to the file format
 * and is removed, as is the one at the end of the file.
 *
 * Body lines that looked like From_ lines were quoted by the writer:
 * - mboxrd: every line matching `>*From ` got one more `>`; reading removes one
 *   `>` from every line matching `>+From ` — lossless.
 * - mboxo: only `From ` lines got a `>`; reading removes the `>` of lines
 *   matching `>From ` exactly — lossy by design of the format (a body line
 *   that was `>From ` in the original comes out as `From `).
 *
 * Invariants: lines are never joined or split; line ends are left as they
 * are (the importer converts bare LF to CRLF); memory is bounded by the
 * message size limit (an oversized message is counted, not kept) and
 * MAX_LINE_HEAD per line.
 */
import { createReadStream } from 'node:fs';

/** How body lines that start with "From " were quoted. */
export type MboxFormat = 'mboxrd' | 'mboxo';

/** One message of an mbox file. */
export interface MboxMessage {
  /** The From_ line without "From " and without its line end. */
  fromLine: string;
  /** The message bytes, unquoted; empty when `oversize`. */
  bytes: Buffer;
  /** Size of the unquoted message in bytes (also when oversize). */
  size: number;
  /** The message exceeded the size limit and its bytes were not kept. */
  oversize: boolean;
}

/** A From_ line's first bytes are kept whole up to this length; longer lines stream in pieces. */
const MAX_LINE_HEAD = 64 * 1024;
const CHUNK = 256 * 1024;
const FROM = Buffer.from('From ');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** asctime with optional seconds and a zone before or after the year: `Thu Jan  1 00:00:00 1970 [+0000]`. */
const ASCTIME =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? +(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) +(\d{1,2}):(\d{2})(?::(\d{2}))?(?: +([A-Za-z]{1,5}|[+-]\d{4}))? +(\d{4})(?: +([+-]\d{4}))?\s*$/;

/** A piece of a line: `start` when it begins a line, `end` when it ends one (with its LF). */
interface LinePiece {
  data: Buffer;
  start: boolean;
  end: boolean;
}

/**
 * Splits a file into line pieces. The first piece of a line holds the whole
 * line or at least MAX_LINE_HEAD bytes of it, so line starts can be inspected.
 */
async function* linePieces(path: string): AsyncGenerator<LinePiece> {
  let carry: Buffer | null = null;
  let atStart = true;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    carry = null;
    let pos = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl >= 0) {
        yield { data: buf.subarray(pos, nl + 1), start: atStart, end: true };
        atStart = true;
        pos = nl + 1;
      } else if (atStart && buf.length - pos < MAX_LINE_HEAD) {
        carry = Buffer.from(buf.subarray(pos)); // a copy: the chunk is not retained
        break;
      } else {
        yield { data: buf.subarray(pos), start: atStart, end: false };
        atStart = false;
        break;
      }
    }
  }
  if (carry) yield { data: carry, start: true, end: false };
}

/** The date of a From_ line (the part after the sender), or null when it has none. RFC 4155 App. A: asctime, UTC unless a zone is given. */
export function parseFromLineDate(fromLine: string): Date | null {
  const m = ASCTIME.exec(fromLine.replace(/^\S*\s+/, ''));
  if (!m) return null;
  const [, mon, day, hh, mm, ss, zoneBefore, year, zoneAfter] = m;
  const zone = zoneAfter ?? zoneBefore ?? '';
  const offset = /^[+-]\d{4}$/.test(zone) ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) : 0;
  const ms = Date.UTC(Number(year), MONTHS.indexOf(mon!), Number(day), Number(hh), Number(mm), Number(ss ?? 0)) - offset * 60_000;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) || Number(day) > 31 || Number(hh) > 23 || Number(mm) > 59 ? null : date;
}

function startsWithFrom(data: Buffer, at: number): boolean {
  return data.length - at >= FROM.length && data.compare(FROM, 0, FROM.length, at, at + FROM.length) === 0;
}

/** Bytes of the line without its line end, as latin1 text (From_ lines are ASCII). */
function lineText(data: Buffer): string {
  return data.toString('latin1').replace(/\r?\n$/, '');
}

/** A line's bytes with one quoting `>` removed, when it is a quoted From line in the given format. */
function unquote(data: Buffer, format: MboxFormat): Buffer {
  if (data[0] !== 0x3e) return data;
  let i = 1;
  if (format === 'mboxrd') while (data[i] === 0x3e) i++;
  return startsWithFrom(data, i) ? data.subarray(1) : data;
}

function isBlank(data: Buffer): boolean {
  return (data.length === 1 && data[0] === 0x0a) || (data.length === 2 && data[0] === 0x0d && data[1] === 0x0a);
}

/** A message being collected. */
interface Collecting {
  fromLine: string;
  chunks: Buffer[];
  size: number;
  oversize: boolean;
}

function finish(cur: Collecting, trailingBlank: number): MboxMessage {
  let bytes = cur.oversize ? Buffer.alloc(0) : Buffer.concat(cur.chunks);
  if (!cur.oversize && trailingBlank > 0) bytes = bytes.subarray(0, bytes.length - trailingBlank);
  return { fromLine: cur.fromLine, bytes, size: cur.size - trailingBlank, oversize: cur.oversize };
}

/**
 * Reads the messages of an mbox file in order. Messages larger than
 * `maxMessageSize` come back with `oversize` set and no bytes. Throws when
 * the file does not start with a From_ line (after optional empty lines).
 */
export async function* readMbox(path: string, format: MboxFormat, maxMessageSize: number): AsyncGenerator<MboxMessage> {
  let cur: Collecting | null = null;
  let prevBlank = true; // the start of the file counts as a separator position
  let lastBlank = 0; // length of the current message's last line when it is empty
  let inFromLine = false; // skipping the rest of an overlong From_ line
  for await (const piece of linePieces(path)) {
    if (inFromLine) {
      inFromLine = !piece.end;
      continue;
    }
    let data = piece.data;
    if (piece.start && startsWithFrom(data, 0)) {
      const text = lineText(data).slice(FROM.length);
      if (prevBlank || cur === null || parseFromLineDate(text) !== null) {
        if (cur) yield finish(cur, prevBlank ? lastBlank : 0);
        cur = { fromLine: text, chunks: [], size: 0, oversize: false };
        prevBlank = false;
        lastBlank = 0;
        inFromLine = !piece.end;
        continue;
      }
    }
    if (cur === null) {
      if (piece.start && piece.end && isBlank(data)) continue;
      throw new Error(`${path} is not an mbox file: it does not start with a "From " line`);
    }
    if (piece.start) data = unquote(data, format);
    const blank = piece.start && piece.end && isBlank(data);
    prevBlank = blank;
    lastBlank = blank ? data.length : 0;
    cur.size += data.length;
    if (cur.size > maxMessageSize) {
      cur.oversize = true;
      cur.chunks = [];
    }
    // A copy: pieces are views of the read chunk, which must not be retained whole.
    if (!cur.oversize) cur.chunks.push(Buffer.from(data));
  }
  if (cur) yield finish(cur, prevBlank ? lastBlank : 0);
}

/**
 * Quickly counts the From_ lines that start messages (at the start of the
 * file or after an empty line), for progress; the reader may find a few more.
 */
export async function countMboxMessages(path: string): Promise<number> {
  const marker = Buffer.from('\n\nFrom ');
  const crlfMarker = Buffer.from('\n\r\nFrom ');
  let count = 0;
  let tail = Buffer.alloc(0);
  let first = true;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>) {
    const buf = Buffer.concat([tail, chunk]);
    if (first && startsWithFrom(buf, 0)) count++;
    first = false;
    for (const m of [marker, crlfMarker]) {
      for (let i = buf.indexOf(m); i >= 0; i = buf.indexOf(m, i + 1)) if (i + m.length > tail.length) count++;
    }
    tail = Buffer.from(buf.subarray(Math.max(0, buf.length - crlfMarker.length + 1)));
  }
  return count;
}
