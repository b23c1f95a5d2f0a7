/**
 * The client's byte stream as a line-based protocol consumes it, I/O-free:
 * command lines split off wherever the chunks happen to break (POP3, RFC 1939
 * §3 and RFC 2449 §4; LMTP, RFC 2033 and RFC 5321 §2.3.8), and between them
 * raw bytes handed out as they are (LMTP DATA's dot-stuffed data and BDAT
 * chunks, RFC 3030).
 *
 * Invariants: a line is at most `maxLine` octets (without its line break); a
 * longer one is reported once as 'too-long' and skipped to its end without
 * being buffered, so memory stays bounded by maxLine plus one chunk. A bare LF
 * also ends a line (liberal in what we accept); the CR before LF is dropped.
 * Raw bytes are never altered.
 */

/** One command line, or a line over the limit. */
export type LineEvent = { type: 'line'; bytes: Buffer } | { type: 'too-long' };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
/** Octets of a pending line a limit function sees: enough for a command keyword. */
const HEAD_OCTETS = 8;

/** Buffers client input and splits off command lines or raw bytes on demand. */
export class LineBuffer {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Inside a line already reported as too long: drop bytes up to its LF. */
  private skipping = false;

  private readonly limit: (head: Buffer) => number;

  /**
   * `maxLine`: octets a line may hold, or a function of the first octets of
   * the pending line (a protocol may allow an AUTH line more than others).
   */
  constructor(maxLine: number | ((head: Buffer) => number)) {
    this.limit = typeof maxLine === 'number' ? () => maxLine : maxLine;
  }

  /** The limit for the line being received. */
  private get maxLine(): number {
    return this.limit(this.buf.subarray(this.pos, this.pos + HEAD_OCTETS));
  }

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

  /** Whether a complete line (or an over-long one) is waiting: a pipelined command. */
  get hasLine(): boolean {
    return this.buf.indexOf(LF, this.pos) >= 0 || this.buffered > this.maxLine;
  }

  /** The next line or 'too-long', or null when more input is needed. */
  nextLine(): LineEvent | null {
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
    const limit = this.maxLine;
    this.pos = lf + 1;
    const end = lf > start && this.buf[lf - 1] === CR ? lf - 1 : lf;
    if (end - start > limit) return { type: 'too-long' };
    return { type: 'line', bytes: this.buf.subarray(start, end) };
  }

  /** Hands out up to `max` buffered octets as they are (possibly none). */
  take(max = Number.POSITIVE_INFINITY): Buffer {
    const n = Math.min(max, this.buffered);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Puts back bytes taken past the end of the data: they are the next commands (PIPELINING). */
  unshift(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.buf = Buffer.concat([bytes, this.buf.subarray(this.pos)]);
    this.pos = 0;
  }

  /** Drops everything buffered (pipelined plaintext after STLS, RFC 2595 §4). */
  clear(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.skipping = false;
  }
}
