/** A growable byte buffer for assembling header tokens without string round trips. */
export class ByteBuilder {
  private buf: Buffer;
  private used = 0;

  constructor(initial = 64) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.used;
  }

  private reserve(extra: number): void {
    if (this.used + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + extra));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  /** Appends src[start, end). */
  append(src: Buffer, start = 0, end = src.length): void {
    if (end <= start) return;
    this.reserve(end - start);
    src.copy(this.buf, this.used, start, end);
    this.used += end - start;
  }

  /** Appends one octet. */
  appendByte(b: number): void {
    this.reserve(1);
    this.buf[this.used++] = b;
  }

  /** Drops everything after the first `len` bytes. */
  truncate(len: number): void {
    if (len < this.used) this.used = len;
  }

  /** The last byte written, or -1 when empty. */
  last(): number {
    return this.used > 0 ? (this.buf[this.used - 1] ?? -1) : -1;
  }

  /** An independent copy of the bytes written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.used));
  }
}
