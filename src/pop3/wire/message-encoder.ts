/**
 * Turns stored message bytes into a POP3 multi-line body (RFC 1939 §3):
 * bare LF line ends become CRLF, a line starting with "." gets one more "."
 * (byte-stuffing), and a last line without an end gets CRLF, so the
 * terminating ".CRLF" always starts a line. For TOP (RFC 1939 §7) it stops
 * after the header, the blank line and n body lines.
 *
 * Invariants: I/O-free and resumable at any chunk boundary (the only state
 * carried between chunks is where the current line stands); no byte of the
 * message other than line ends is changed; `octets` counts what is sent
 * before stuffing, which is exactly what LIST and STAT must report.
 * Unchanged spans are handed out as views of the input chunk, not copies.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CR_BYTE = Buffer.from('\r');
const DOT_BYTE = Buffer.from('.');
const CRLF = Buffer.from('\r\n');
const LF_DOT = Buffer.from('\n.');

/** What to produce. */
export interface EncoderOptions {
  /** Add the stuffing dots (false: only count octets, for LIST and STAT sizes). */
  stuff: boolean;
  /** TOP: body lines to send after the header and blank line; null sends the whole message. */
  bodyLines: number | null;
  /**
   * The caller knows every line of the message ends in CRLF, the last one
   * included (its POP3 size equals its stored size): only the stuffing is
   * left to do, found by searching for "\n." instead of walking every line.
   * Ignored for TOP.
   */
  crlfClean?: boolean;
}

/** Streams one message through the POP3 transformations. */
export class MessageEncoder {
  /** Octets produced so far, CRLF-normalised, before stuffing. */
  octets = 0;
  /** TOP has sent all it should: the caller may stop reading. */
  done = false;
  private atLineStart = true;
  /** Octets of the current line so far (without its end), across chunks. */
  private lineLength = 0;
  /** The last octet of the previous chunk was CR (its LF may start the next chunk). */
  private prevCr = false;
  /** Past the blank line that ends the header. */
  private inBody = false;
  private linesLeft: number;

  constructor(private readonly options: EncoderOptions) {
    this.linesLeft = options.bodyLines ?? Infinity;
  }

  /** Encodes the next chunk; returns the pieces to send, in order. */
  push(chunk: Buffer): Buffer[] {
    if (this.options.crlfClean && this.options.bodyLines === null) return this.pushClean(chunk);
    const out: Buffer[] = [];
    if (this.done) return out;
    let from = 0; // start of the span not handed out yet
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.atLineStart) {
        this.atLineStart = false;
        if (chunk[i] === DOT && this.options.stuff) {
          // RFC 1939 §3: a line starting with the termination octet gets it twice.
          if (i > from) out.push(chunk.subarray(from, i));
          out.push(DOT_BYTE);
          from = i;
        }
      }
      const lf = chunk.indexOf(LF, i);
      if (lf < 0) {
        this.lineLength += n - i;
        i = n;
        break;
      }
      this.lineLength += lf - i;
      const before = lf > 0 ? chunk[lf - 1] : this.prevCr ? CR : -1;
      const hasCr = before === CR;
      if (!hasCr) {
        if (lf > from) out.push(chunk.subarray(from, lf));
        out.push(CR_BYTE);
        this.octets += 1;
        from = lf;
      }
      const empty = this.lineLength - (hasCr ? 1 : 0) === 0;
      i = lf + 1;
      this.atLineStart = true;
      this.lineLength = 0;
      if (this.endOfLine(empty)) break;
    }
    if (i > from) out.push(chunk.subarray(from, i));
    this.octets += i;
    this.prevCr = i > 0 && chunk[i - 1] === CR;
    return out;
  }

  /** push() for a CRLF-clean message: a dot after every line start, nothing else changes. */
  private pushClean(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const n = chunk.length;
    if (n === 0) return out;
    let from = 0;
    // RFC 1939 §3: a line starting with the termination octet gets it twice.
    if (this.atLineStart && chunk[0] === DOT && this.options.stuff) out.push(DOT_BYTE);
    if (this.options.stuff) {
      for (let lf = chunk.indexOf(LF_DOT); lf >= 0; lf = chunk.indexOf(LF_DOT, lf + 1)) {
        out.push(chunk.subarray(from, lf + 1), DOT_BYTE);
        from = lf + 1;
      }
    }
    out.push(from === 0 ? chunk : chunk.subarray(from));
    this.octets += n;
    this.atLineStart = chunk[n - 1] === LF;
    return out;
  }

  /** Finishes the message: the pieces that end its last line, if it had no end. */
  end(): Buffer[] {
    if (this.atLineStart || this.done) return [];
    this.atLineStart = true;
    this.octets += 2;
    return [CRLF];
  }

  /** Counts TOP's lines; true when the limit is reached. */
  private endOfLine(empty: boolean): boolean {
    if (this.options.bodyLines === null) return false;
    if (!this.inBody) {
      if (!empty) return false;
      this.inBody = true;
    } else {
      this.linesLeft--;
    }
    if (this.linesLeft > 0) return false;
    this.done = true;
    return true;
  }
}
