/**
 * A raw LMTP client for transcript tests: sends exact bytes and reads
 * replies (RFC 5321 §4.2: "code-text" lines up to a "code text" line).
 */
import assert from 'node:assert/strict';
import { BufferedSocket } from './socket-buffer.js';

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
  private constructor(private readonly sock: BufferedSocket) {}

  /** Connects to 127.0.0.1:port (or a unix socket path) and reads the greeting. */
  static async connect(target: number | string): Promise<{ client: LmtpClient; greeting: LmtpReply }> {
    const client = new LmtpClient(await BufferedSocket.connect(target));
    return { client, greeting: await client.reply() };
  }

  /** Whether the connection has closed. */
  get isClosed(): boolean {
    return this.sock.isClosed;
  }

  /** Sends raw bytes. */
  send(data: string | Buffer): void {
    this.sock.send(data);
  }

  /** Reads one reply. */
  async reply(timeoutMs = 10_000): Promise<LmtpReply> {
    const sock = this.sock;
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    for (;;) {
      await sock.waitFor(() => sock.buf.indexOf('\r\n') >= 0, deadline - Date.now());
      const eol = sock.buf.indexOf('\r\n');
      const line = sock.buf.subarray(0, eol).toString('utf8');
      sock.consume(eol + 2);
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) throw new Error(`not a reply line: ${JSON.stringify(line)}`);
      lines.push(m[3]!);
      if (m[2] === ' ') return { code: Number(m[1]), lines, last: line };
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
    if (!(await this.sock.waitClosed(timeoutMs))) throw new Error('connection still open');
  }

  /** Closes the socket. */
  close(): void {
    this.sock.close();
  }
}

/** Dot-stuffs a message for DATA (RFC 5321 §4.5.2) and appends the end-of-data line; the message must end in CRLF. */
export function dotStuff(message: Buffer): Buffer {
  const text = message.toString('latin1').replace(/(^|\r\n)\./g, '$1..');
  return Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from('.\r\n')]);
}

/** One LMTP transaction; the replies after the data, in RCPT order. */
export async function lmtpTransaction(port: number, from: string, to: readonly string[], message: string): Promise<LmtpReply[]> {
  const { client } = await LmtpClient.connect(port);
  try {
    client.send(`LHLO test\r\nMAIL FROM:<${from}>\r\n${to.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
    const head = await client.replies(2 + to.length + 1);
    assert.equal(head.at(-1)!.code, 354, head.map((r) => r.last).join('\n'));
    client.send(dotStuff(Buffer.from(message)));
    return await client.replies(to.length);
  } finally {
    client.close();
  }
}
