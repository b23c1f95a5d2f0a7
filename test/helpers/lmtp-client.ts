/**
 * A raw LMTP client for transcript tests: sends exact bytes and reads
 * replies (RFC 5321 §4.2: "code-text" lines up to a "code text" line).
 */
import { connect, type Socket } from 'node:net';

/** One (possibly multi-line) reply. */
export interface LmtpReply {
  code: number;
  /** Text of each line, without "code-" / "code ". */
  lines: string[];
  /** The last line as received, e.g. "250 2.1.5 Recipient OK". */
  last: string;
}

/** A line-oriented LMTP client over TCP or a unix socket. */
export class LmtpClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to 127.0.0.1:port (or a unix socket path) and reads the greeting. */
  static async connect(target: number | string): Promise<{ client: LmtpClient; greeting: LmtpReply }> {
    const socket = typeof target === 'number' ? connect({ host: '127.0.0.1', port: target }) : connect(target);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new LmtpClient(socket);
    return { client, greeting: await client.reply() };
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends raw bytes. */
  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Reads one reply. */
  async reply(timeoutMs = 10_000): Promise<LmtpReply> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol >= 0) {
        const line = this.buf.subarray(0, eol).toString('utf8');
        this.buf = this.buf.subarray(eol + 2);
        const m = /^(\d{3})([ -])(.*)$/.exec(line);
        if (!m) throw new Error(`not a reply line: ${JSON.stringify(line)}`);
        lines.push(m[3]!);
        if (m[2] === ' ') return { code: Number(m[1]), lines, last: line };
        continue;
      }
      if (this.closed) throw new Error(`connection closed; buffered ${JSON.stringify(this.buf.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; buffered ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Reads `n` replies. */
  async replies(n: number): Promise<LmtpReply[]> {
    const out: LmtpReply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply());
    return out;
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<LmtpReply> {
    this.send(`${line}\r\n`);
    return this.reply();
  }

  /** Waits until the server closes the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!this.closed) throw new Error('connection still open');
  }

  /** Closes the socket. */
  close(): void {
    this.socket.destroy();
  }
}

/** Dot-stuffs a message for DATA (RFC 5321 §4.5.2) and appends the end-of-data line; the message must end in CRLF. */
export function dotStuff(message: Buffer): Buffer {
  const text = message.toString('latin1').replace(/(^|\r\n)\./g, '$1..');
  return Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from('.\r\n')]);
}
