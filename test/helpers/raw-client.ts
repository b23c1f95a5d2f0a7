/**
 * A raw IMAP client for transcript tests: sends exact bytes and collects
 * responses (with their literals) up to the tagged completion.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

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
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed = false;
  private constructor(private socket: Socket | TLSSocket) {
    this.bind(socket);
  }

  private bind(socket: Socket | TLSSocket): void {
    this.socket = socket;
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

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Connects (implicit TLS when tls is set) and reads the greeting. */
  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<{ client: RawClient; greeting: string }> {
    const socket = opts.tls
      ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : tcpConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    const greeting = await client.readLine();
    return { client, greeting };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends raw bytes. */
  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  private async waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.closed) throw new Error(`connection closed; buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 500))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Reads one response line, inlining literals ("{n}\r\n" + n bytes). */
  async readLine(timeoutMs = 5000): Promise<string> {
    return (await this.readLineBytes(timeoutMs)).toString('latin1');
  }

  /** Like readLine, as bytes. */
  async readLineBytes(timeoutMs = 5000): Promise<Buffer> {
    let pos = 0;
    for (;;) {
      await this.waitFor(() => this.buf.indexOf('\r\n', pos) >= 0, timeoutMs);
      const eol = this.buf.indexOf('\r\n', pos);
      const m = /~?\{(\d+)\}$/.exec(this.buf.subarray(Math.max(pos, eol - 24), eol).toString('latin1'));
      if (m) {
        const need = eol + 2 + Number(m[1]);
        await this.waitFor(() => this.buf.length >= need, timeoutMs);
        pos = need;
        continue;
      }
      const line = this.buf.subarray(0, eol);
      this.buf = this.buf.subarray(eol + 2);
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
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.buf = Buffer.alloc(0);
    this.bind(secure);
  }

  /** The underlying socket, for tests that change the framing (COMPRESS). */
  rawSocket(): Socket | TLSSocket {
    return this.socket;
  }

  /** Closes the socket. */
  close(): void {
    this.socket.destroy();
  }
}
