/**
 * The protocol trace: what each session's framer read and its writers wrote,
 * told by the protocol itself, token by token. The protocol knows which
 * token is a password, a SASL response or message data, so the trace never
 * parses the wire: it shows secrets as `***` and message data as its size.
 *
 * Invariant: an entry is bounded whatever the input (HEAD characters, then
 * the elided length, then the last TAIL characters).
 */

/** Where a session's trace entries go (log.ts protocolTrace); null when tracing is off. */
export interface TraceSink {
  /** What the client sent: one command, or one line of an exchange. */
  client(data: string): void;
  /** What the server wrote: one response, or one batch of them. */
  server(data: string): void;
}

/** How a hidden token reads in the trace. */
export const HIDDEN = '***';
/** Characters kept from the start of an entry. */
const HEAD = 2048;
/** Characters kept from the end of an entry: enough for a line end or a literal marker. */
const TAIL = 64;

/** One trace entry under construction, bounded as it grows. */
export class TraceText {
  private head = '';
  private tail = '';
  private elided = 0;

  /** Protocol text, shown as it is. */
  text(s: string): this {
    let rest = s;
    if (this.head.length < HEAD) {
      const room = HEAD - this.head.length;
      this.head += rest.slice(0, room);
      rest = rest.slice(room);
    }
    if (rest !== '') this.keepTail(rest, rest.length);
    return this;
  }

  /** Protocol bytes (a line, an ENVELOPE), shown as text; only what is kept is decoded. */
  bytes(b: Buffer): this {
    const room = Math.max(0, HEAD - this.head.length);
    if (b.length <= room + TAIL) return this.text(b.toString('utf8'));
    this.text(b.subarray(0, room).toString('utf8'));
    this.keepTail(b.subarray(-TAIL).toString('utf8'), b.length - room);
    return this;
  }

  /** A password or SASL response: never shown, nor its length. */
  secret(): this {
    return this.text(HIDDEN);
  }

  /** Message data (a literal of a message, a RETR body): only its size. */
  messageData(size: number): this {
    return this.text(`{${size} bytes}`);
  }

  /** Whether nothing was added since the last take(). */
  get empty(): boolean {
    return this.head === '' && this.tail === '';
  }

  /** The entry so far; starts a new one. */
  take(): string {
    const out = this.head + (this.elided > 0 ? `[… ${this.elided} elided …]` : '') + this.tail;
    this.head = '';
    this.tail = '';
    this.elided = 0;
    return out;
  }

  /** `s` ends the `count` characters (or octets) added past the head: only its last TAIL stay. */
  private keepTail(s: string, count: number): void {
    const joined = this.tail + s;
    const kept = joined.slice(-TAIL);
    this.elided += this.tail.length + count - kept.length;
    this.tail = kept;
  }
}

/**
 * The entry of a line the client sent while a command runs (a SASL response,
 * IMAP's IDLE DONE). `secret`: the command declared its responses secret;
 * `*` cancels a SASL exchange (RFC 9051 §6.2.2, RFC 5034 §4) and is shown.
 */
export function traceResponseLine(line: Buffer, secret: boolean): string {
  const trace = new TraceText();
  if (secret && !(line.length === 1 && line[0] === 0x2a)) trace.secret();
  else trace.bytes(line);
  return trace.text('\r\n').take();
}

/** One entry from text: the bounded form of a line as received or written. */
export function traceLine(text: string | Buffer): string {
  const t = new TraceText();
  return (typeof text === 'string' ? t.text(text) : t.bytes(text)).take();
}
