/**
 * Incremental, I/O-free command framer (RFC 9051 §2.2, §4.3; RFC 7888).
 *
 * Splits the client byte stream into commands: text lines plus literals,
 * wherever the chunks happen to break. It does not parse arguments (the
 * argument reader does); it only finds CRLF, tracks quoting so that `{n}`
 * inside a quoted string is not mistaken for a literal, and announces each
 * literal so the session can accept, stream or refuse it *before* any of its
 * bytes are read.
 *
 * Invariants: every buffer is bounded (maxLineLength per text line,
 * maxCommandSize for a buffered command); a refused literal is skipped, never
 * stored; after any error the framer resynchronises at the next command.
 * Dropping the rest of a command (refused literal, line too long, command too
 * large) never buffers it, but still follows its non-synchronizing literals
 * (RFC 7888 §4): their bytes are data, and must never be framed as commands.
 */
import { isAtomChar } from '../../syntax/imap-string.js';

/** A piece of a framed command. */
export type Segment =
  | { kind: 'text'; bytes: Buffer }
  | { kind: 'literal'; bytes: Buffer; binary: boolean }
  /** A literal whose bytes went to a sink instead of memory (APPEND message data). */
  | { kind: 'stream'; size: number; binary: boolean; id: number };

/** A literal header seen at the end of a line, waiting for the session's decision. */
export interface LiteralAnnounce {
  size: number;
  nonSync: boolean;
  binary: boolean;
  /** Segments of the command so far; the last is the text line ending in the literal header. */
  segments: readonly Segment[];
}

/** What the framer hands the session. */
export type FrameEvent =
  | { type: 'command'; segments: Segment[] }
  | { type: 'literal'; announce: LiteralAnnounce }
  | { type: 'literal-chunk'; data: Buffer }
  | { type: 'literal-end'; id: number }
  | { type: 'error'; reason: 'line-too-long' | 'command-too-large'; tag: string | null }
  /** SKIP_BATCH literals of a dropped command were skipped in one call: let other work run before the rest. */
  | { type: 'skipped' };

/** Framer limits. */
export interface FramerLimits {
  maxLineLength: number;
  maxCommandSize: number;
}

type Mode =
  | { m: 'line' }
  | { m: 'await-decision'; announce: LiteralAnnounce }
  | { m: 'literal'; remaining: number; binary: boolean; chunks: Buffer[]; size: number }
  | { m: 'stream'; remaining: number; id: number; size: number; binary: boolean }
  /** Skipping a literal of a command being dropped; the rest of its line follows. */
  | { m: 'skip-literal'; remaining: number }
  /** Dropping one line of a command unstored; only the quote state and the last bytes are kept. */
  | { m: 'discard-line'; quote: Quote; tail: string };

const LITERAL_HEADER = /(~?)\{(\d{1,10})(\+?)\}$/;
/** Longest line tail that can hold a literal header (`~{4294967295+}`), with room to spare. */
const HEADER_TAIL = 16;
const EMPTY = Buffer.alloc(0);
/** Literals of a dropped command skipped per next() call (40,000 tiny ones must not hold the event loop). */
const SKIP_BATCH = 256;

/** Where a line scan stands relative to quoted strings (a quoted string never spans lines). */
enum Quote {
  Outside,
  Inside,
  Escaped,
}

/** Advances the quote state over bytes, so a `{n}` inside a quoted string is not taken for a literal header. */
function scanQuotes(state: Quote, bytes: Buffer): Quote {
  for (const c of bytes) {
    if (state === Quote.Escaped) state = Quote.Inside;
    else if (c === 0x22) state = state === Quote.Outside ? Quote.Inside : Quote.Outside;
    else if (c === 0x5c && state === Quote.Inside) state = Quote.Escaped;
  }
  return state;
}

interface LiteralHeader {
  length: number;
  size: number;
  nonSync: boolean;
  binary: boolean;
}

/** Parses the literal header `{n}`, `{n+}`, `~{n}` ending a line (given its last bytes, CR removed). */
function literalHeader(tail: string): LiteralHeader | null {
  const m = LITERAL_HEADER.exec(tail);
  return m ? { length: m[0].length, size: Number(m[2]), nonSync: m[3] === '+', binary: m[1] === '~' } : null;
}

/** Extracts a plausible tag from the start of a line, for error replies. */
export function tagOf(line: Buffer): string | null {
  // Same alphabet as ArgReader.tag(): ASTRING-CHAR except "+" (RFC 9051 §9 `tag`).
  let n = 0;
  while (n < line.length && n <= 64 && (isAtomChar(line[n]!) || line[n] === 0x5d) && line[n] !== 0x2b) n++;
  const next = line[n];
  if (n === 0 || n > 64 || (next !== 0x20 && next !== 0x0d && next !== 0x0a)) return null;
  return line.subarray(0, n).toString('latin1');
}

/** Splits incoming bytes into IMAP commands; see the module comment. */
export class CommandFramer {
  private buf: Buffer = Buffer.alloc(0);
  private segments: Segment[] = [];
  private commandBytes = 0;
  private mode: Mode = { m: 'line' };
  /** Bytes at the start of buf already searched for LF, so a line arriving in small chunks is scanned once. */
  private scanned = 0;
  /** Memory buf lives in when push() had to join chunks, with room to append more. */
  private spare: Buffer | null = null;
  private nextStreamId = 1;

  constructor(private limits: FramerLimits) {}

  /** Changes the limits (tighter before login); they apply from the next line. */
  setLimits(limits: FramerLimits): void {
    this.limits = limits;
  }

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    if (this.buf.length === 0) {
      this.buf = chunk;
      this.spare = null;
      return;
    }
    const end = this.buf.byteOffset + this.buf.length;
    const spare = this.spare;
    if (spare && this.buf.buffer === spare.buffer && end + chunk.length <= spare.length) {
      // Append in place: only bytes past buf's end are written, and nothing handed out lies there.
      chunk.copy(spare, end);
      this.buf = spare.subarray(this.buf.byteOffset, end + chunk.length);
      return;
    }
    // Grow geometrically, so a line trickling in byte by byte costs linear, not quadratic, copying.
    // allocUnsafeSlow: an unpooled buffer, so no other Buffer shares its memory.
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * (this.buf.length + chunk.length), 4096));
    this.buf.copy(grown, 0);
    chunk.copy(grown, this.buf.length);
    this.buf = grown.subarray(0, this.buf.length + chunk.length);
    this.spare = grown;
  }

  /** Bytes received but not yet framed (the session pauses the socket when this grows). */
  get buffered(): number {
    return this.buf.length;
  }

  /** Whether the framer waits for acceptLiteral/rejectLiteral. */
  get awaitingDecision(): boolean {
    return this.mode.m === 'await-decision';
  }

  /** Accepts the announced literal: buffer it in memory, or stream it as literal-chunk events. */
  acceptLiteral(how: 'buffer' | 'stream'): void {
    const mode = this.mode;
    if (mode.m !== 'await-decision') throw new Error('no literal awaits a decision');
    const { size, binary } = mode.announce;
    if (how === 'buffer') {
      this.mode = { m: 'literal', remaining: size, binary, chunks: [], size };
    } else {
      const id = this.nextStreamId++;
      this.segments.push({ kind: 'stream', size, binary, id });
      this.mode = { m: 'stream', remaining: size, id, size, binary };
    }
  }

  /**
   * Refuses the announced literal. The command is dropped; a non-synchronizing
   * literal's bytes (which the client sends anyway) and the rest of its command
   * are skipped without being stored (RFC 7888 §4, choice 1).
   */
  rejectLiteral(): void {
    const mode = this.mode;
    if (mode.m !== 'await-decision') throw new Error('no literal awaits a decision');
    this.resetCommand();
    this.dropRest(mode.announce);
  }

  /** Returns the next event, or null when more input (or a literal decision) is needed. */
  next(): FrameEvent | null {
    const ev = this.nextEvent();
    // An empty view would keep the whole chunk it was cut from alive while the connection waits.
    if (this.buf.length === 0 && this.buf !== EMPTY) {
      this.buf = EMPTY;
      this.spare = null;
    }
    return ev;
  }

  private nextEvent(): FrameEvent | null {
    let skipped = 0;
    for (;;) {
      const mode = this.mode;
      switch (mode.m) {
        case 'await-decision':
          return null;
        case 'literal': {
          if (this.buf.length === 0) return null;
          const take = Math.min(mode.remaining, this.buf.length);
          mode.chunks.push(this.buf.subarray(0, take));
          this.buf = this.buf.subarray(take);
          mode.remaining -= take;
          if (mode.remaining > 0) return null;
          this.segments.push({ kind: 'literal', bytes: Buffer.concat(mode.chunks), binary: mode.binary });
          this.commandBytes += mode.size;
          this.mode = { m: 'line' };
          continue;
        }
        case 'stream': {
          if (mode.remaining === 0) {
            this.mode = { m: 'line' };
            return { type: 'literal-end', id: mode.id };
          }
          if (this.buf.length === 0) return null;
          const take = Math.min(mode.remaining, this.buf.length);
          const data = this.buf.subarray(0, take);
          this.buf = this.buf.subarray(take);
          mode.remaining -= take;
          return { type: 'literal-chunk', data };
        }
        case 'skip-literal': {
          const take = Math.min(mode.remaining, this.buf.length);
          this.buf = this.buf.subarray(take);
          mode.remaining -= take;
          if (mode.remaining > 0) return null;
          this.mode = { m: 'discard-line', quote: Quote.Outside, tail: '' };
          if (++skipped >= SKIP_BATCH) return { type: 'skipped' };
          continue;
        }
        case 'discard-line': {
          const lf = this.buf.indexOf(0x0a);
          const part = lf < 0 ? this.buf : this.buf.subarray(0, lf);
          mode.quote = scanQuotes(mode.quote, part);
          // One byte more than HEADER_TAIL: the line's CR, if any.
          mode.tail = (mode.tail + part.subarray(-(HEADER_TAIL + 1)).toString('latin1')).slice(-(HEADER_TAIL + 1));
          if (lf < 0) {
            this.buf = EMPTY;
            return null;
          }
          this.buf = this.buf.subarray(lf + 1);
          const tail = mode.tail.endsWith('\r') ? mode.tail.slice(0, -1) : mode.tail;
          this.dropRest(mode.quote === Quote.Outside ? literalHeader(tail.slice(-HEADER_TAIL)) : null);
          continue;
        }
        case 'line': {
          const event = this.readLine();
          if (event === 'more') return null;
          if (event) return event;
          continue;
        }
      }
    }
  }

  /** Reads one text line; returns an event, 'more' when incomplete, or undefined to continue. */
  private readLine(): FrameEvent | 'more' | undefined {
    const lf = this.buf.indexOf(0x0a, this.scanned);
    if (lf < 0) {
      if (this.buf.length > this.limits.maxLineLength) return this.fail('line-too-long', this.buf);
      this.scanned = this.buf.length;
      return 'more';
    }
    if (lf > this.limits.maxLineLength) return this.fail('line-too-long', this.buf);
    // Be liberal: accept a bare LF as line end too (RFC 9051 requires CRLF).
    const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = this.buf.subarray(0, end);
    this.buf = this.buf.subarray(lf + 1);
    this.scanned = 0;
    this.commandBytes += lf + 1;

    const header = scanQuotes(Quote.Outside, line) === Quote.Outside ? literalHeader(line.subarray(-HEADER_TAIL).toString('latin1')) : null;
    if (this.commandBytes > this.limits.maxCommandSize) {
      const first = this.firstText() ?? line;
      this.resetCommand();
      this.dropRest(header);
      return { type: 'error', reason: 'command-too-large', tag: tagOf(Buffer.concat([first, Buffer.from(' ')])) };
    }
    if (header) {
      const textPart = line.subarray(0, line.length - header.length);
      this.segments.push({ kind: 'text', bytes: Buffer.from(textPart) });
      const announce: LiteralAnnounce = { size: header.size, nonSync: header.nonSync, binary: header.binary, segments: this.segments };
      this.mode = { m: 'await-decision', announce };
      return { type: 'literal', announce };
    }
    this.segments.push({ kind: 'text', bytes: Buffer.from(line) });
    const segments = this.segments;
    this.resetCommand();
    return { type: 'command', segments };
  }

  private firstText(): Buffer | null {
    const first = this.segments[0];
    return first && first.kind === 'text' ? first.bytes : null;
  }

  private fail(reason: 'line-too-long', pending: Buffer): FrameEvent {
    const tag = tagOf(this.firstText() ? Buffer.concat([this.firstText()!, Buffer.from(' ')]) : pending);
    this.resetCommand();
    // The line is still at the start of buf: drop it from its first byte, tracking quotes.
    this.scanned = 0;
    this.mode = { m: 'discard-line', quote: Quote.Outside, tail: '' };
    return { type: 'error', reason, tag };
  }

  /**
   * After the line just ended, the current command is being dropped: a client
   * that sent a non-synchronizing literal sends its bytes and the rest of the
   * command anyway, so skip them; after a synchronizing literal it waits for a
   * continuation that never comes, so the next line is a new command.
   */
  private dropRest(header: { size: number; nonSync: boolean } | null): void {
    this.mode = header?.nonSync ? { m: 'skip-literal', remaining: header.size } : { m: 'line' };
  }

  private resetCommand(): void {
    this.segments = [];
    this.commandBytes = 0;
  }

  /** Accounts literal bytes against the command size limit (called for buffered literals). */
  literalFits(size: number): boolean {
    return this.commandBytes + size <= this.limits.maxCommandSize;
  }
}
