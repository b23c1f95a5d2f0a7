/**
 * The server side of a TLS handshake, bounded in time, and the log of failed
 * handshakes. Implicit TLS (listen.ts) and STARTTLS/STLS (transport.ts) both
 * use it.
 *
 * Invariants: a handshake ends within its timeout (the socket is destroyed
 * then); anyone can make handshakes fail, so failures are logged at info,
 * without a stack, and at most `perMinute` lines a minute per process, the
 * rest counted in one summary line.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';

/** Runs the server side of a handshake on `raw` (bytes already read and unshifted are part of it); rejects, the socket destroyed, when it fails or outlasts `timeoutMs`. */
export function serverHandshake(raw: Socket, secureContext: SecureContext, timeoutMs: number): Promise<TLSSocket> {
  const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext });
  return new Promise<TLSSocket>((resolve, reject) => {
    const settle = (err: Error | null): void => {
      clearTimeout(timer);
      tlsSocket.off('secure', onSecure);
      tlsSocket.off('close', onClose);
      tlsSocket.off('error', settle);
      if (err === null) return resolve(tlsSocket);
      tlsSocket.on('error', () => undefined);
      tlsSocket.destroy();
      raw.destroy();
      reject(err);
    };
    const onSecure = (): void => settle(null);
    const onClose = (): void => settle(new Error('closed during TLS handshake'));
    const timer = setTimeout(() => settle(new Error('TLS handshake timed out')), timeoutMs);
    tlsSocket.once('secure', onSecure);
    tlsSocket.once('close', onClose);
    tlsSocket.once('error', settle);
  });
}

const MINUTE_MS = 60_000;

/** Logs failed handshakes at info, at most `perMinute` lines a minute, then one summary of those left out. */
export class TlsFailureLog {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;
  private summaryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly perMinute: number,
  ) {}

  /** One failed handshake; `where` names the listener or upgrade ("imaps", "starttls"). */
  report(where: string, remote: string | undefined, err: unknown): void {
    const now = Date.now();
    if (now - this.windowStart >= MINUTE_MS) this.newWindow(now);
    if (this.logged < this.perMinute) {
      this.logged++;
      // The message only: a stack says nothing about a peer that sent garbage.
      this.log.info({ listener: where, remote, reason: err instanceof Error ? err.message : String(err) }, 'TLS handshake failed');
      return;
    }
    this.suppressed++;
    this.summaryTimer ??= setTimeout(() => this.newWindow(Date.now()), this.windowStart + MINUTE_MS - now).unref();
  }

  private newWindow(now: number): void {
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    if (this.suppressed > 0) this.log.info({ count: this.suppressed }, 'more TLS handshakes failed in the last minute (not logged one by one)');
    this.windowStart = now;
    this.logged = 0;
    this.suppressed = 0;
  }
}
