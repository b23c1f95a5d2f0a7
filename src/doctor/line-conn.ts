/**
 * A client-side line connection for the probes: reads CRLF lines with a
 * timeout per read, and upgrades to TLS in place (STARTTLS/STLS).
 *
 * Invariants (a hostile server must neither hang the doctor nor fill its
 * memory): no read waits longer than the step timeout; at most MAX_LINE bytes
 * are buffered while looking for a line end; bytes a server sends between its
 * STARTTLS answer and the handshake are dropped, never read as TLS-protected
 * (RFC 9051 §6.2.1 / the STARTTLS injection class of bugs).
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** Longest line accepted from a server (RFC 9051 clients commonly accept 8 KiB per line). */
export const MAX_LINE = 8192;
/** Most bytes held unread (lines the doctor has not asked for yet): a flooding server is cut off. */
export const MAX_BUFFERED = 64 * 1024;

/** A read or handshake that failed; `code` is Node's error code (ECONNRESET …) or ours. */
export class ProbeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

/** A line-oriented view of a socket that may become TLS. */
export class LineConn {
  private buffered = Buffer.alloc(0);
  private waiter: ((err: ProbeError | null) => void) | null = null;
  private failure: ProbeError | null = null;

  constructor(
    private socket: Socket | TLSSocket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  /** The socket now in use (a TLSSocket after upgrade). */
  get current(): Socket | TLSSocket {
    return this.socket;
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      if (this.buffered.length > MAX_BUFFERED) {
        this.buffered = Buffer.alloc(0);
        this.stop(new ProbeError('EFLOOD', `the server sent more than ${MAX_BUFFERED} bytes unasked`));
      } else if (this.buffered.length > MAX_LINE && this.buffered.indexOf(0x0a) < 0) {
        this.stop(new ProbeError('ELINETOOLONG', `the server sent a line longer than ${MAX_LINE} bytes`));
      }
      this.wake(null);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.stop(new ProbeError(err.code ?? 'EIO', err.message)));
    socket.on('close', () => this.stop(new ProbeError('ECLOSED', 'the server closed the connection')));
  }

  private stop(err: ProbeError): void {
    this.failure ??= err;
    this.socket.destroy();
    this.wake(this.failure);
  }

  private wake(err: ProbeError | null): void {
    const w = this.waiter;
    this.waiter = null;
    w?.(err);
  }

  /** The next line without its CRLF; rejects on timeout, close, reset or an overlong line. */
  async readLine(): Promise<string> {
    for (;;) {
      const nl = this.buffered.indexOf(0x0a);
      if (nl >= 0 && nl <= MAX_LINE) {
        const line = this.buffered.subarray(0, nl).toString('utf8').replace(/\r$/, '');
        this.buffered = this.buffered.subarray(nl + 1);
        return line;
      }
      if (nl > MAX_LINE) throw new ProbeError('ELINETOOLONG', `the server sent a line longer than ${MAX_LINE} bytes`);
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = null;
          reject(new ProbeError('ETIMEDOUT', `no answer within ${this.timeoutMs / 1000} s`));
        }, this.timeoutMs);
        this.waiter = (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
      });
    }
  }

  /** Sends one line (CRLF added). */
  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** Starts TLS on the same TCP connection; resolves once the handshake is done (trust is judged by the caller). */
  async upgrade(options: ConnectionOptions): Promise<TLSSocket> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    this.buffered = Buffer.alloc(0);
    const secure = await handshake({ ...options, socket: plain }, this.timeoutMs);
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  /** Closes the connection without waiting. */
  close(): void {
    this.socket.destroy();
  }
}

/** A TLS handshake bounded by `timeoutMs`; the certificate is never rejected here (the TLS checks judge it). */
export function handshake(options: ConnectionOptions, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, rejectUnauthorized: false, checkServerIdentity: () => undefined });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new ProbeError('ETIMEDOUT', `the TLS handshake did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      secure.destroy();
      reject(new ProbeError(err.code ?? 'EPROTO', err.message));
    });
  });
}
