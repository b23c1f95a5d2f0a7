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
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { CertificateSource } from './certificates.js';
import { RateLimitedLog } from './rate-limited-log.js';

/** Runs the server side of a handshake on `raw` (bytes already read and unshifted are part of it), offering `alpnProtocols` when given; rejects, the socket destroyed, when it fails or outlasts `timeoutMs`. */
export function serverHandshake(raw: Socket, certificates: CertificateSource, timeoutMs: number, alpnProtocols?: string[]): Promise<TLSSocket> {
  // The certificates are taken now: a reload applies to the next handshake (RFC 6066 §3: SNI chooses among them).
  const tlsSocket = new TLSSocket(raw, { isServer: true, ...certificates.handshakeOptions(), ...(alpnProtocols ? { ALPNProtocols: alpnProtocols } : {}) });
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

/** Logs failed handshakes at info, without a stack, at most `perMinute` lines a minute, then one summary of those left out. */
export class TlsFailureLog {
  private readonly lines: RateLimitedLog;

  constructor(log: Logger, perMinute: number) {
    this.lines = new RateLimitedLog(log, perMinute, 'TLS handshakes failed');
  }

  /** One failed handshake; `where` names the listener or upgrade ("imaps", "starttls"). */
  report(where: string, remote: string | undefined, err: unknown): void {
    // The message only: a stack says nothing about a peer that sent garbage.
    this.lines.report({ listener: where, remote, reason: err instanceof Error ? err.message : String(err) }, 'TLS handshake failed');
  }
}
