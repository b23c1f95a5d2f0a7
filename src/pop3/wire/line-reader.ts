/**
 * Incremental, I/O-free line splitter for POP3 commands (RFC 1939 §3,
 * RFC 2449 §4): the client byte stream in, one command line at a time out,
 * wherever the chunks happen to break.
 *
 * Invariants: a line is at most `maxLine` octets (without its CRLF); a longer
 * one is reported once as 'too-long' and then skipped up to its end without
 * being buffered, so memory stays bounded by maxLine plus one chunk. A bare LF
 * also ends a line (liberal in what we accept); the CR before LF is dropped.
 */

/** What the reader hands the session. */
export type LineEvent = { type: 'line'; bytes: Buffer } | { type: 'too-long' };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** Splits input into command lines with a length limit. */
export class LineReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Inside a line already reported as too long: drop bytes up to its LF. */
  private skipping = false;

  constructor(private readonly maxLine: number) {}

  /** Adds bytes read from the client. */
  push(chunk: Buffer): void {
    if (this.skipping) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) return;
      this.skipping = false;
      chunk = chunk.subarray(lf + 1);
    }
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
  }

  /** Octets received and not yet handed out. */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** Whether a complete line is waiting (a pipelined command). */
  get hasLine(): boolean {
    return this.buf.indexOf(LF, this.pos) >= 0 || this.buffered > this.maxLine;
  }

  /** The next line or error, or null when more input is needed. */
  next(): LineEvent | null {
    const lf = this.buf.indexOf(LF, this.pos);
    if (lf < 0) {
      if (this.buffered <= this.maxLine) return null;
      // No end in sight: report now, drop what we have and skip to the LF.
      this.buf = EMPTY;
      this.pos = 0;
      this.skipping = true;
      return { type: 'too-long' };
    }
    const start = this.pos;
    this.pos = lf + 1;
    const end = lf > start && this.buf[lf - 1] === CR ? lf - 1 : lf;
    if (end - start > this.maxLine) return { type: 'too-long' };
    return { type: 'line', bytes: this.buf.subarray(start, end) };
  }

  /** Drops everything buffered (pipelined plaintext after STLS, RFC 2595 §4). */
  clear(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.skipping = false;
  }
}
