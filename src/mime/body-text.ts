/**
 * Search text of a message body: every text/* part after transfer and
 * charset decoding (RFC 2045 §6, §5.1), plus the decoded header of each
 * encapsulated message, joined by newlines. HTML is included as it is (tags
 * not stripped), like Dovecot's non-FTS SEARCH BODY. Bounded: text stops at
 * maxChars, and a part's raw bytes are kept up to maxRawBytes while it is
 * being read.
 */
import { decodeCharset } from './charset.js';
import { decodeTransferEncoding } from './transfer-encoding.js';

/** Accumulates search text within a budget. */
export class TextCollector {
  private readonly pieces: string[] = [];
  private chars = 0;
  private raw: Buffer[] = [];
  private rawLen = 0;

  constructor(
    private readonly maxChars: number,
    private readonly maxRawBytes: number,
  ) {}

  /** Characters that may still be added. */
  remaining(): number {
    return this.maxChars - this.chars;
  }

  /** Adds already-decoded text (cut at the budget). */
  addText(text: string): void {
    const room = this.remaining();
    if (room <= 0 || text === '') return;
    const piece = text.length <= room ? text : text.slice(0, room);
    this.pieces.push(piece);
    this.chars += piece.length + 1;
  }

  /** Buffers raw body octets of the part being read (copied; the caller may reuse its buffer). */
  addRaw(data: Buffer): void {
    const room = this.maxRawBytes - this.rawLen;
    if (room <= 0) return;
    const kept = Buffer.from(data.subarray(0, room));
    this.raw.push(kept);
    this.rawLen += kept.length;
  }

  /** Decodes the buffered part body (its first `size` octets) and adds it. */
  endPart(size: number, encoding: string, charset: string | undefined): void {
    const body = Buffer.concat(this.raw).subarray(0, size);
    this.raw = [];
    this.rawLen = 0;
    this.addText(decodeCharset(decodeTransferEncoding(encoding, body) ?? body, charset));
  }

  /** The collected text. */
  text(): string {
    return this.pieces.join('\n');
  }
}
