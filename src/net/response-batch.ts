/**
 * Many responses (a FETCH batch) gathered into few buffers before they go to
 * the socket: runs of protocol text and small values (ENVELOPE, small
 * literals) are joined into one buffer, while large values (message bodies)
 * are passed on as they are, so their bytes are never copied in user space.
 *
 * Invariants: bytes come out exactly in the order they were added; text is
 * encoded as UTF-8, as a plain `Buffer.from(text)` would. With a trace, the
 * batch also keeps its protocol trace entry: text and values as they are,
 * message data (addMessageData) only as its size.
 */
import type { TraceText } from './trace.js';

/** Values at least this long are handed on uncopied; shorter ones are joined with the text around them. */
const JOIN_MAX = 4096;

/** An ordered accumulation of response text and bytes. */
export class ResponseBatch {
  private readonly done: Buffer[] = [];
  /** The current joined run: text and small values, encoded together by endRun(). */
  private run: Array<string | Buffer> = [];
  /** Text added since the last bytes: one string, so a response costs few encoder calls. */
  private text = '';

  /** `trace`: the entry this batch's output makes in the protocol trace, or null when tracing is off. */
  constructor(readonly trace: TraceText | null = null) {}

  /** Appends protocol text. */
  add(text: string): void {
    this.text += text;
    this.trace?.text(text);
  }

  /** Appends bytes that are protocol, e.g. an ENVELOPE or a literal that is not message data. */
  addBytes(bytes: Buffer): void {
    this.trace?.bytes(bytes);
    this.put(bytes);
  }

  /** Appends message data (a FETCH body section): the trace shows only its size. */
  addMessageData(bytes: Buffer): void {
    this.trace?.messageData(bytes.length);
    this.put(bytes);
  }

  private put(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.endText();
    if (bytes.length < JOIN_MAX) {
      this.run.push(bytes);
    } else {
      this.endRun();
      this.done.push(bytes);
    }
  }

  /** Everything added since the last take(), in order, as few buffers as the large values allow. */
  take(): Buffer[] {
    this.endText();
    this.endRun();
    return this.done.splice(0);
  }

  private endText(): void {
    if (this.text === '') return;
    this.run.push(this.text);
    this.text = '';
  }

  /** Encodes the run into one buffer: one allocation, whatever the number of pieces. */
  private endRun(): void {
    if (this.run.length === 0) return;
    const only = this.run[0]!;
    if (this.run.length === 1 && typeof only !== 'string') {
      // A lone buffer (a line framed once and shared by many sessions) goes on as it is.
      this.run = [];
      this.done.push(only);
      return;
    }
    let total = 0;
    for (const p of this.run) total += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (const p of this.run) at += typeof p === 'string' ? out.write(p, at) : p.copy(out, at);
    this.run = [];
    this.done.push(out);
  }
}
