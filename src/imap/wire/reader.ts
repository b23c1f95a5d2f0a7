/**
 * Argument reader: a cursor over a framed command (text segments and literals)
 * with one method per ABNF production of RFC 9051 §9. Command parsers call it
 * in grammar order; any mismatch throws ParseError, which becomes a tagged BAD.
 * The reader never allocates more than the framed command already holds.
 */
import type { Segment } from './framer.js';
import { isAtomChar } from '../../syntax/imap-string.js';
import { parseSequenceSet, type SequenceSet } from '../../search/sequence-set.js';
import { isInternalDateInRange } from '../../mime/calendar-day.js';

/** A syntax error in client input: answered with BAD. */
export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

/** Bound on parenthesized-list nesting in any argument. */
export const MAX_NESTING = 32;

/** A string value read from the client, remembering whether it came as a literal. */
export interface StringArg {
  bytes: Buffer;
  literal: boolean;
}

/** Where a reader stands: a segment of the command and an offset in it. */
export interface ReaderPosition {
  seg: number;
  pos: number;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Cursor over one command's segments. */
export class ArgReader {
  private seg = 0;
  private pos = 0;
  private depth = 0;

  constructor(private readonly segments: readonly Segment[]) {}

  /** Where the cursor stands (the trace splits a command there: session/command-trace.ts). */
  get position(): ReaderPosition {
    return { seg: this.seg, pos: this.pos };
  }

  private current(): Segment | undefined {
    return this.segments[this.seg];
  }

  /** The next byte of text, or -1 at a literal or the end. */
  peekByte(): number {
    const s = this.current();
    if (s?.kind !== 'text') return -1;
    if (this.pos >= s.bytes.length) {
      // A text segment is exhausted only right before a literal (or at the end).
      return -1;
    }
    return s.bytes[this.pos]!;
  }

  /** Whether the cursor is at a literal. */
  atLiteral(): boolean {
    const s = this.current();
    if (s && s.kind === 'text' && this.pos >= s.bytes.length) {
      const next = this.segments[this.seg + 1];
      return !!next && next.kind !== 'text';
    }
    return !!s && s.kind !== 'text';
  }

  /** Whether all input is consumed. */
  atEnd(): boolean {
    const s = this.current();
    if (!s) return true;
    return s.kind === 'text' && this.pos >= s.bytes.length && this.seg === this.segments.length - 1;
  }

  /** Requires the end of the command. */
  end(): void {
    if (!this.atEnd()) throw this.unexpected('Unexpected extra arguments');
  }

  /** Requires one SP. */
  sp(): void {
    if (this.peekByte() !== 0x20) throw this.unexpected('Expected a space');
    this.pos++;
  }

  /** An 8-bit byte where an atom ended is the usual cause (an unquoted `café`): say so. */
  private unexpected(message: string): ParseError {
    // RFC 9051 §4.1: atoms are ASCII; 8-bit text goes in a quoted string or a literal.
    if (this.peekByte() >= 0x80) return new ParseError('8-bit data in an atom (send it as a quoted string or a literal)');
    return new ParseError(message);
  }

  /** Consumes `c` if next; returns whether it did. */
  skip(c: string): boolean {
    if (this.peekByte() !== c.charCodeAt(0)) return false;
    this.pos++;
    return true;
  }

  /** Requires the character c. */
  expect(c: string): void {
    if (!this.skip(c)) throw new ParseError(`Expected "${c}"`);
  }

  /** Reads bytes while pred holds (within the current text segment). */
  private take(pred: (c: number) => boolean, max = 65536): Buffer {
    const s = this.current();
    if (s?.kind !== 'text') return Buffer.alloc(0);
    const start = this.pos;
    while (this.pos < s.bytes.length && pred(s.bytes[this.pos]!) && this.pos - start < max) this.pos++;
    return s.bytes.subarray(start, this.pos);
  }

  /** `tag`: 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9). */
  tag(): string {
    const t = this.take((c) => (isAtomChar(c) || c === 0x5d) && c !== 0x2b, 64);
    if (t.length === 0) throw new ParseError('Missing or invalid tag');
    return t.toString('latin1');
  }

  /** `atom`: 1*ATOM-CHAR. */
  atom(): string {
    const t = this.take(isAtomChar);
    if (t.length === 0) throw new ParseError('Expected an atom');
    return t.toString('latin1');
  }

  /** An atom that may contain `]` (astring's ASTRING-CHAR), e.g. a command name or keyword. */
  astringAtom(): string {
    const t = this.take((c) => isAtomChar(c) || c === 0x5d);
    if (t.length === 0) throw new ParseError('Expected an atom');
    return t.toString('latin1');
  }

  /** Like atom(), but stops at any of `stops` too (for section specs such as `BODY[1.MIME]`). */
  atomUntil(stops: string): string {
    const t = this.take((c) => isAtomChar(c) && !stops.includes(String.fromCharCode(c)));
    if (t.length === 0) throw new ParseError('Expected an atom');
    return t.toString('latin1');
  }

  /** `number` (32-bit unsigned). */
  number(): number {
    const n = this.number64();
    if (n > 0xffffffff) throw new ParseError('Number out of range');
    return n;
  }

  /** `nz-number`. */
  nzNumber(): number {
    const n = this.number();
    if (n === 0) throw new ParseError('Number must be non-zero');
    return n;
  }

  /** `number64` (RFC 9051): up to 2^63-1; we keep JS-safe integers. */
  number64(): number {
    const t = this.take((c) => c >= 0x30 && c <= 0x39, 20).toString('latin1');
    if (t.length === 0) throw new ParseError('Expected a number');
    const n = Number(t);
    if (!Number.isSafeInteger(n)) throw new ParseError('Number out of range');
    return n;
  }

  /**
   * `quoted`: DQUOTE *QUOTED-CHAR DQUOTE. Liberal: any escaped char is taken
   * literally; 8-bit accepted. NUL and CR are refused, escaped or not: they are
   * not TEXT-CHAR, and a bare-LF line end lets a lone CR reach this far.
   */
  private quoted(): Buffer {
    this.expect('"');
    const s = this.current();
    if (s?.kind !== 'text') throw new ParseError('Unterminated quoted string');
    const out: number[] = [];
    for (;;) {
      if (this.pos >= s.bytes.length) throw new ParseError('Unterminated quoted string');
      let c = s.bytes[this.pos++]!;
      if (c === 0x22) break;
      if (c === 0x5c) {
        if (this.pos >= s.bytes.length) throw new ParseError('Unterminated quoted string');
        c = s.bytes[this.pos++]!;
      }
      if (c === 0x00 || c === 0x0d || c === 0x0a) throw new ParseError('NUL, CR or LF in quoted string');
      out.push(c);
    }
    return Buffer.from(out);
  }

  /** Consumes the literal at the cursor. */
  private literalSegment(): Segment & { kind: 'literal' | 'stream' } {
    if (!this.atLiteral()) throw new ParseError('Expected a literal');
    const s0 = this.current();
    if (s0 && s0.kind === 'text') this.seg++;
    const s = this.current() as Segment & { kind: 'literal' | 'stream' };
    this.seg++;
    this.pos = 0;
    return s;
  }

  /** `string`: quoted or literal. */
  string(): StringArg {
    if (this.atLiteral()) {
      const s = this.literalSegment();
      if (s.kind !== 'literal') throw new ParseError('Unexpected message literal');
      // literal8 (`~{n}`, RFC 3516 §4.2) belongs to APPEND only; a string's literal is CHAR8, never NUL.
      if (s.binary) throw new ParseError('Unexpected literal8');
      if (s.bytes.includes(0)) throw new ParseError('NUL in literal');
      return { bytes: s.bytes, literal: true };
    }
    if (this.peekByte() === 0x22) return { bytes: this.quoted(), literal: false };
    throw new ParseError('Expected a string');
  }

  /** `astring`: 1*ASTRING-CHAR or string. */
  astring(): StringArg {
    if (this.atLiteral() || this.peekByte() === 0x22) return this.string();
    const t = this.take((c) => isAtomChar(c) || c === 0x5d);
    if (t.length === 0) throw new ParseError('Expected a string or atom');
    return { bytes: Buffer.from(t), literal: false };
  }

  /** `list-mailbox`: 1*list-char / string (RFC 9051 §9); wildcards % and * allowed. */
  listMailbox(): StringArg {
    if (this.atLiteral() || this.peekByte() === 0x22) return this.string();
    const t = this.take((c) => isAtomChar(c) || c === 0x25 || c === 0x2a || c === 0x5d);
    if (t.length === 0) throw new ParseError('Expected a mailbox pattern');
    return { bytes: Buffer.from(t), literal: false };
  }

  /** `nstring`: NIL or string. */
  nstring(): StringArg | null {
    if (!this.atLiteral() && this.peekByte() !== 0x22) {
      const a = this.atom();
      if (a.toUpperCase() !== 'NIL') throw new ParseError('Expected a string or NIL');
      return null;
    }
    return this.string();
  }

  /** A message literal (APPEND): the streamed segment, or a buffered literal. */
  messageLiteral(): Segment & { kind: 'literal' | 'stream' } {
    return this.literalSegment();
  }

  /** `sequence-set` (or `$`). */
  sequenceSet(): SequenceSet {
    const t = this.take((c) => (c >= 0x30 && c <= 0x39) || c === 0x3a || c === 0x2c || c === 0x2a || c === 0x24, 1 << 20);
    const set = parseSequenceSet(t.toString('latin1'));
    if (!set) throw new ParseError('Invalid sequence set');
    return set;
  }

  /** Whether the next text starts a sequence set. */
  atSequenceSet(): boolean {
    const c = this.peekByte();
    return (c >= 0x31 && c <= 0x39) || c === 0x2a || c === 0x24;
  }

  /** `(` item *(SP item) `)` with nesting bounded; an empty list `()` is allowed when allowEmpty. */
  list<T>(item: () => T, allowEmpty = true): T[] {
    this.expect('(');
    if (++this.depth > MAX_NESTING) throw new ParseError('Lists nested too deeply');
    const out: T[] = [];
    if (!this.skip(')')) {
      for (;;) {
        out.push(item());
        if (out.length > 10_000) throw new ParseError('List too long');
        if (this.skip(')')) break;
        this.sp();
      }
    } else if (!allowEmpty) {
      throw new ParseError('Empty list');
    }
    this.depth--;
    return out;
  }

  /** `flag`: "\" atom, or a keyword atom (RFC 9051 §9). */
  flag(): string {
    if (this.skip('\\')) return `\\${this.atom()}`;
    return this.atom();
  }

  /** `flag-list`. */
  flagList(): string[] {
    return this.list(() => this.flag());
  }

  /** `date-time` (RFC 9051 §9): DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE. */
  dateTime(): Date {
    const q = this.quoted().toString('latin1');
    const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(q);
    if (!m) throw new ParseError('Invalid date-time');
    const [year, month, day] = calendarDate(m[1]!, m[2]!, m[3]!, 'Invalid date-time');
    const [hh, mm, ss, zh, zm] = [m[4], m[5], m[6], m[8], m[9]].map(Number) as number[];
    if (hh! > 23 || mm! > 59 || ss! > 60 || zm! > 59) throw new ParseError('Invalid date-time');
    const offset = (m[7] === '-' ? -1 : 1) * (zh! * 60 + zm!);
    const ms = utc(year, month, day) + ((hh! * 60 + mm! - offset) * 60 + ss!) * 1000;
    // The UTC date must print back as a 4DIGIT year (RFC 9051 §9 date-year); years before 1900 are no mail date.
    if (!isInternalDateInRange(ms)) throw new ParseError('date-time out of range (years 1900-9999 in UTC)');
    return new Date(ms);
  }

  /** `date` (SEARCH): date-text or quoted date-text, "d-Mon-yyyy"; returns [y, m0, d]. */
  date(): [number, number, number] {
    const raw = this.peekByte() === 0x22 ? this.quoted().toString('latin1') : this.atom();
    const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(raw);
    if (!m) throw new ParseError('Invalid date');
    return calendarDate(m[1]!, m[2]!, m[3]!, 'Invalid date');
  }
}

/** Midnight UTC of a day, in ms; unlike Date.UTC, years 0–99 are not taken as 1900–1999. */
function utc(year: number, month0: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0, day);
  return d.getTime();
}

/** Checks a day that must exist in the calendar (no 31-Feb rolling over into March); returns [y, m0, d]. */
function calendarDate(dayText: string, monthText: string, yearText: string, what: string): [number, number, number] {
  const month = MONTHS.indexOf(monthText.toLowerCase());
  const [day, year] = [Number(dayText), Number(yearText)];
  if (month < 0 || day < 1 || new Date(utc(year, month, day)).getUTCDate() !== day) throw new ParseError(what);
  return [year, month, day];
}
