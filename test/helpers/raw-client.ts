/**
 * A raw IMAP client for transcript tests: sends exact bytes and collects
 * responses (with their literals) up to the tagged completion.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { BufferedSocket, type ConnectOptions, LOGIN_TIMEOUT_MS } from './socket-buffer.js';

/** A server response line with any literals inlined. */
export interface Reply {
  /** Untagged and continuation lines before the tagged one, literals included. */
  lines: string[];
  /** The tagged completion line. */
  tagged: string;
  /** Everything received for this command, as bytes. */
  raw: Buffer;
}

/** A line-oriented IMAP client over a real socket. */
export class RawClient {
  private constructor(private readonly sock: BufferedSocket) {}

  /** Connects (implicit TLS when tls is set) and reads the greeting. */
  static async connect(port: number, opts: ConnectOptions = {}): Promise<{ client: RawClient; greeting: string }> {
    const client = new RawClient(await BufferedSocket.connect(port, opts));
    const greeting = await client.readLine();
    return { client, greeting };
  }

  /** Connects over implicit TLS and logs in (LOGIN); throws when the server refuses. */
  static async login(port: number, user: string, password: string): Promise<RawClient> {
    const { client } = await RawClient.connect(port, { tls: true });
    const r = await client.command('l', `LOGIN ${user} "${password}"`, LOGIN_TIMEOUT_MS);
    if (!r.tagged.startsWith('l OK')) throw new Error(`LOGIN ${user}: ${r.tagged}`);
    return client;
  }

  /** Whether the connection has closed. */
  get isClosed(): boolean {
    return this.sock.isClosed;
  }

  /** Sends raw bytes. */
  send(data: string | Buffer): void {
    this.sock.send(data);
  }

  /** Reads one response line, inlining literals ("{n}\r\n" + n bytes). */
  async readLine(timeoutMs = 5000): Promise<string> {
    return (await this.readLineBytes(timeoutMs)).toString('latin1');
  }

  /** Reads lines until one matches; returns it. */
  async readUntil(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.readLine(Math.max(1, deadline - Date.now()));
      if (pattern.test(line)) return line;
    }
  }

  /** Like readLine, as bytes. */
  async readLineBytes(timeoutMs = 5000): Promise<Buffer> {
    const sock = this.sock;
    let pos = 0;
    for (;;) {
      await sock.waitFor(() => sock.buf.indexOf('\r\n', pos) >= 0, timeoutMs);
      const eol = sock.buf.indexOf('\r\n', pos);
      const m = /~?\{(\d+)\}$/.exec(sock.buf.subarray(Math.max(pos, eol - 24), eol).toString('latin1'));
      if (m) {
        const need = eol + 2 + Number(m[1]);
        await sock.waitFor(() => sock.buf.length >= need, timeoutMs);
        pos = need;
        continue;
      }
      const line = sock.buf.subarray(0, eol);
      sock.consume(eol + 2);
      return line;
    }
  }

  /** Reads lines until the one tagged `tag`. */
  async readTagged(tag: string, timeoutMs = 5000): Promise<Reply> {
    const lines: string[] = [];
    const raws: Buffer[] = [];
    for (;;) {
      const lineBytes = await this.readLineBytes(timeoutMs);
      raws.push(lineBytes, Buffer.from('\r\n'));
      const line = lineBytes.toString('latin1');
      if (line.startsWith(`${tag} `)) return { lines, tagged: line, raw: Buffer.concat(raws) };
      lines.push(line);
    }
  }

  /** Sends `tag command\r\n` and waits for the tagged reply. */
  async command(tag: string, command: string | Buffer, timeoutMs = 5000): Promise<Reply> {
    this.send(Buffer.concat([Buffer.from(`${tag} `), typeof command === 'string' ? Buffer.from(command) : command, Buffer.from('\r\n')]));
    return this.readTagged(tag, timeoutMs);
  }

  /** Upgrades to TLS after a STARTTLS OK. */
  async startTls(): Promise<void> {
    await this.sock.startTls();
  }

  /** The underlying socket, for tests that change the framing (COMPRESS). */
  rawSocket(): Socket | TLSSocket {
    return this.sock.rawSocket();
  }

  /** Closes the socket. */
  close(): void {
    this.sock.close();
  }
}
