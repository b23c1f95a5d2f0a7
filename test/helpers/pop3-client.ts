/**
 * A raw POP3 client for transcript tests: sends exact bytes, reads status
 * lines and multi-line responses (kept as sent, stuffing included), and can
 * upgrade with STLS. Plus one-call delivery into a test account's INBOX.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Uid } from '../../src/ids.js';
import { analyzeMessage } from '../../src/mime/analyze.js';
import type { MailStore } from '../../src/store/types.js';
import { BufferedSocket, type ConnectOptions, LOGIN_TIMEOUT_MS } from './socket-buffer.js';

/** A multi-line response: its status line and the body as sent (before unstuffing), without the terminator. */
export interface MultiLine {
  status: string;
  body: Buffer;
  /** The body's lines with the stuffing removed. */
  lines: string[];
}

/** A line-oriented POP3 client over a real socket. */
export class Pop3Client {
  private constructor(private readonly sock: BufferedSocket) {}

  /** Connects (implicit TLS when tls is set) and reads the greeting. */
  static async connect(port: number, opts: ConnectOptions = {}): Promise<{ client: Pop3Client; greeting: string }> {
    const client = new Pop3Client(await BufferedSocket.connect(port, opts));
    return { client, greeting: await client.readLine() };
  }

  /** Connects and logs in with USER/PASS (over implicit TLS unless told otherwise). */
  static async login(port: number, user: string, password: string, opts: { tls?: boolean } = { tls: true }): Promise<Pop3Client> {
    const { client } = await Pop3Client.connect(port, opts);
    const u = await client.command(`USER ${user}`);
    const p = await client.command(`PASS ${password}`, LOGIN_TIMEOUT_MS);
    if (!u.startsWith('+OK') || !p.startsWith('+OK')) throw new Error(`login failed: ${u} / ${p}`);
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

  /** Reads one line (without CRLF). */
  async readLine(timeoutMs = 5000): Promise<string> {
    const sock = this.sock;
    await sock.waitFor(() => sock.buf.indexOf('\r\n') >= 0, timeoutMs);
    const eol = sock.buf.indexOf('\r\n');
    const line = sock.buf.subarray(0, eol).toString('latin1');
    sock.consume(eol + 2);
    return line;
  }

  /** Reads a status line and, when it is +OK, the body up to the lone ".". */
  async readMulti(timeoutMs = 5000): Promise<MultiLine> {
    const status = await this.readLine(timeoutMs);
    if (!status.startsWith('+OK')) return { status, body: Buffer.alloc(0), lines: [] };
    const sock = this.sock;
    let scanned = 0; // resume the search where the last one stopped
    const end = (): number => {
      if (sock.buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) return 0;
      const at = sock.buf.indexOf('\r\n.\r\n', scanned);
      if (at < 0) scanned = Math.max(0, sock.buf.length - 4);
      return at;
    };
    await sock.waitFor(() => end() >= 0, timeoutMs);
    const at = end();
    const body = Buffer.from(at === 0 ? Buffer.alloc(0) : sock.buf.subarray(0, at + 2));
    sock.consume(at === 0 ? 3 : at + 5);
    const text = body.toString('latin1');
    const lines =
      text === ''
        ? []
        : text
            .slice(0, -2)
            .split('\r\n')
            .map((l) => (l.startsWith('.') ? l.slice(1) : l));
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
    await this.sock.startTls();
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    if (!(await this.sock.waitClosed(timeoutMs))) throw new Error('server did not close the connection');
  }

  /** The underlying socket (TLS after startTls), for channel bindings. */
  rawSocket(): Socket | TLSSocket {
    return this.sock.rawSocket();
  }

  /** Stops reading from the socket, so the server meets backpressure. */
  pause(): void {
    this.sock.rawSocket().pause();
  }

  /** Reads from the socket again. */
  resume(): void {
    this.sock.rawSocket().resume();
  }

  /** Everything received and not read yet. */
  get pending(): Buffer {
    return this.sock.buf;
  }

  /** Closes the socket at once (a dropped connection). */
  close(): void {
    this.sock.close();
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
