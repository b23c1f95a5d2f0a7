/**
 * The mail data after DATA (RFC 5321 §4.1.1.4): undoes dot-stuffing
 * (§4.5.2) and finds the end-of-data line <CRLF>.<CRLF>, wherever the input
 * chunks break. I/O-free.
 *
 * Invariants: every byte that is not a stuffing dot or the terminator is
 * passed on unchanged (8BITMIME and binary octets included); only CRLF ends
 * a line, so a bare LF neither starts a line for unstuffing nor ends the data
 * ("<LF>.<LF>" MUST NOT end it, §4.1.1.4 — the SMTP-smuggling rule); at most
 * two bytes (".", ".\r") are held back between chunks.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);

/** What one chunk decodes to: message bytes, and once the end is found, the input bytes after it (else null). */
export interface DecodedChunk {
  data: Buffer[];
  rest: Buffer | null;
}

/** Decodes one message's dot-stuffed data. */
export class DotDecoder {
  /** At the start of a line: the start of the data, or just after a CRLF. */
  private bol = true;
  /** The last byte passed on ended in CR, so an LF first in the next chunk completes a CRLF. */
  private cr = false;
  /** Line-start bytes not yet known to be the terminator or a stuffing dot. */
  private held: Buffer = EMPTY;
  private done = false;

  /** Whether the end of the data has been seen. */
  get ended(): boolean {
    return this.done;
  }

  /** Decodes the next input chunk. */
  push(chunk: Buffer): DecodedChunk {
    if (this.done) throw new Error('DotDecoder: data already ended');
    const buf = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = EMPTY;
    const data: Buffer[] = [];
    let from = 0;
    let i = 0;
    while (i < buf.length) {
      if (this.bol) {
        this.bol = false;
        if (buf[i] === DOT) {
          const next = buf[i + 1];
          if (next === undefined || (next === CR && i + 2 >= buf.length)) {
            if (i > from) data.push(buf.subarray(from, i));
            this.held = Buffer.from(buf.subarray(i));
            this.bol = true;
            return { data, rest: null };
          }
          if (i > from) data.push(buf.subarray(from, i));
          if (next === CR && buf[i + 2] === LF) {
            this.done = true;
            return { data, rest: buf.subarray(i + 3) };
          }
          // §4.5.2: a line starting with a period has it removed.
          from = i + 1;
          i++;
        }
        // The byte before this one is an LF or a removed dot: not a CR.
        this.cr = false;
        continue;
      }
      const lf = buf.indexOf(LF, i);
      if (lf < 0) {
        this.cr = buf[buf.length - 1] === CR;
        break;
      }
      this.bol = lf > i ? buf[lf - 1] === CR : this.cr;
      this.cr = false;
      i = lf + 1;
    }
    if (from < buf.length) data.push(buf.subarray(from));
    return { data, rest: null };
  }
}
