/**
 * A raw POP3 client for transcript tests: sends exact bytes, reads status
 * lines and multi-line responses (kept as sent, stuffing included), and can
 * upgrade with STLS. Plus one-call delivery into a test account's INBOX.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Uid } from '../../src/ids.js';
import { analyzeMessage } from '../../src/mime/analyze.js';
import type { MailStore } from '../../src/store/types.js';

/** A multi-line response: its status line and the body as sent (before unstuffing), without the terminator. */
export interface MultiLine {
  status: string;
  body: Buffer;
  /** The body's lines with the stuffing removed. */
  lines: string[];
}

/** A line-oriented POP3 client over a real socket. */
export class Pop3Client {
  /** Received bytes live in space[start, end): a growable buffer, so megabyte responses cost linear time. */
  private space = Buffer.alloc(64 * 1024);
  private start = 0;
  private end = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.bind(socket);
  }

  private bind(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.append(d);
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => undefined);
  }

  private get buf(): Buffer {
    return this.space.subarray(this.start, this.end);
  }

  private append(d: Buffer): void {
    if (this.end + d.length > this.space.length) {
      const live = this.end - this.start;
      const bigger = Buffer.alloc(Math.max(this.space.length, 2 * (live + d.length)));
      this.space.copy(bigger, 0, this.start, this.end);
      this.space = bigger;
      this.start = 0;
      this.end = live;
    }
    d.copy(this.space, this.end);
    this.end += d.length;
  }

  /** Drops the first n received bytes. */
  private consume(n: number): void {
    this.start += n;
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Connects (implicit TLS when tls is set) and reads the greeting. */
  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<{ client: Pop3Client; greeting: string }> {
    const socket = opts.tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : tcpConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new Pop3Client(socket);
    return { client, greeting: await client.readLine() };
  }

  /** Connects and logs in with USER/PASS (over implicit TLS unless told otherwise). */
  static async login(port: number, user: string, password: string, opts: { tls?: boolean } = { tls: true }): Promise<Pop3Client> {
    const { client } = await Pop3Client.connect(port, opts);
    const u = await client.command(`USER ${user}`);
    const p = await client.command(`PASS ${password}`);
    if (!u.startsWith('+OK') || !p.startsWith('+OK')) throw new Error(`login failed: ${u} / ${p}`);
    return client;
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
      if (this.closed) throw new Error(`connection closed; buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Reads one line (without CRLF). */
  async readLine(timeoutMs = 5000): Promise<string> {
    await this.waitFor(() => this.buf.indexOf('\r\n') >= 0, timeoutMs);
    const eol = this.buf.indexOf('\r\n');
    const line = this.buf.subarray(0, eol).toString('latin1');
    this.consume(eol + 2);
    return line;
  }

  /** Reads a status line and, when it is +OK, the body up to the lone ".". */
  async readMulti(timeoutMs = 5000): Promise<MultiLine> {
    const status = await this.readLine(timeoutMs);
    if (!status.startsWith('+OK')) return { status, body: Buffer.alloc(0), lines: [] };
    let scanned = 0; // resume the search where the last one stopped
    const end = (): number => {
      if (this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) return 0;
      const at = this.buf.indexOf('\r\n.\r\n', scanned);
      if (at < 0) scanned = Math.max(0, this.buf.length - 4);
      return at;
    };
    await this.waitFor(() => end() >= 0, timeoutMs);
    const at = end();
    const body = Buffer.from(at === 0 ? Buffer.alloc(0) : this.buf.subarray(0, at + 2));
    this.consume(at === 0 ? 3 : at + 5);
    const text = body.toString('latin1');
    const lines = text === '' ? [] : text.slice(0, -2).split('\r\n').map((l) => (l.startsWith('.') ? l.slice(1) : l));
    return { status, body, lines };
  }

  /** Sends a command and reads its one-line answer. */
  async command(line: string, timeoutMs = 5000): Promise<string> {
    this.send(`${line}\r\n`);
    return this.readLine(timeoutMs);
  }

  /** Sends a command and reads its multi-line answer. */
  async multi(line: string, timeoutMs = 5000): Promise<MultiLine> {
    this.send(`${line}\r\n`);
    return this.readMulti(timeoutMs);
  }

  /** Upgrades to TLS after STLS's +OK. */
  async startTls(): Promise<void> {
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.start = this.end = 0;
    this.bind(secure);
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('server did not close the connection');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Stops reading from the socket, so the server meets backpressure. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads from the socket again. */
  resume(): void {
    this.socket.resume();
  }

  /** Everything received and not read yet. */
  get pending(): Buffer {
    return this.buf;
  }

  /** Closes the socket at once (a dropped connection). */
  close(): void {
    this.socket.destroy();
  }
}

/** Delivers messages into an account's INBOX through the store, as LMTP would; returns their UIDs. */
export async function deliver(store: MailStore, user: string, messages: Array<string | Buffer>, flags: string[] = []): Promise<Uid[]> {
  const account = await store.findAccount(user);
  if (!account) throw new Error(`no account ${user}`);
  const inbox = await store.getMailbox(account.id, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  const items = [];
  for (const m of messages) {
    const bytes = typeof m === 'string' ? Buffer.from(m, 'latin1') : m;
    items.push({ blob: await store.blobs.put(bytes), analysis: analyzeMessage(bytes), flags, internalDate: new Date() });
  }
  return (await store.appendMessages(account.id, inbox.id, items)).uids;
}
