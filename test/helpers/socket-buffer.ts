/**
 * The socket plumbing the raw test clients share: connect to loopback (plain,
 * implicit TLS or a unix socket), buffer what arrives, wait for a condition
 * with a timeout, and upgrade to TLS in place (STARTTLS / STLS).
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect, type TLSSocket } from 'node:tls';

/** How much of the buffer an error message shows. */
const PREVIEW_CHARS = 500;

/**
 * How long a test client waits for a login's answer: logins queue for one of
 * the server's few hash slots (auth/hash-gate.ts), and a 32 MiB scrypt takes
 * seconds on a loaded 2-core box.
 */
export const LOGIN_TIMEOUT_MS = 30_000;

/** How a test client connects: implicit TLS, and the local (loopback) address to connect from, e.g. 127.0.0.2. */
export interface ConnectOptions {
  tls?: boolean;
  localAddress?: string;
  /** With tls: the highest TLS version to offer, the SNI name. */
  tlsOptions?: Pick<ConnectionOptions, 'maxVersion' | 'servername'>;
}

/** A socket whose received bytes collect in a buffer that readers consume from the front. */
export class BufferedSocket {
  /** Received bytes live in space[start, end): a growable buffer, so megabyte responses cost linear time. */
  private space = Buffer.alloc(64 * 1024);
  private start = 0;
  private end = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.bind(socket);
  }

  /** Connects to 127.0.0.1:port (implicit TLS when tls is set; from `localAddress`, another loopback address, when given) or to a unix socket path. */
  static async connect(target: number | string, opts: ConnectOptions = {}): Promise<BufferedSocket> {
    const from = opts.localAddress === undefined ? {} : { localAddress: opts.localAddress };
    const where = typeof target === 'number' ? { host: '127.0.0.1', port: target, ...from } : { path: target };
    const socket = opts.tls ? tlsConnect({ ...where, rejectUnauthorized: false, ...opts.tlsOptions }) : tcpConnect(where);
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new BufferedSocket(socket);
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

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Resolves on the next arrival or close, or after ms. */
  private nextEvent(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Everything received and not consumed yet, as a view; bytes are never overwritten once received. */
  get buf(): Buffer {
    return this.space.subarray(this.start, this.end);
  }

  /** Drops the first n received bytes. */
  consume(n: number): void {
    this.start += n;
  }

  /** Whether the peer (or close()) has closed the connection. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Waits until pred holds; throws "connection closed" or "timeout", showing the buffered bytes. */
  async waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.closed) throw new Error(`connection closed; buffered: ${this.preview()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; buffered: ${this.preview()}`);
      await this.nextEvent(left);
    }
  }

  /** Waits up to timeoutMs for the connection to close; tells whether it did. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.nextEvent(left);
    }
    return true;
  }

  private preview(): string {
    return JSON.stringify(this.buf.toString('latin1').slice(0, PREVIEW_CHARS));
  }

  /** Sends raw bytes. */
  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Upgrades the plain connection to TLS in place; anything buffered before is dropped. */
  async startTls(): Promise<void> {
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.space = Buffer.alloc(64 * 1024); // a fresh buffer, so views handed out earlier stay intact
    this.start = this.end = 0;
    this.bind(secure);
  }

  /** The current underlying socket (TLS after startTls). */
  rawSocket(): Socket | TLSSocket {
    return this.socket;
  }

  /** Closes the socket at once. */
  close(): void {
    this.socket.destroy();
  }
}
