/**
 * The admin listener (`admin-port`, `admin-host`): operator endpoints that
 * must not face the internet — /metrics and health checks with detail.
 * Loopback by default, where plain HTTP is enough; bound to any other
 * address it speaks TLS with the mail ports' certificates.
 *
 * Invariants: like the web ports, a port that cannot be bound is logged and
 * skipped (mail matters more); sockets come through net/listen.ts, so the
 * connection limits and handshake timer apply.
 */
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { describeSetting } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { CertificateSource } from '../net/certificates.js';
import type { ConnectionLimiter } from '../net/connection-limiter.js';
import { listen, type ListenError, type Listener } from '../net/listen.js';
import type { RateLimitedLog } from '../net/rate-limited-log.js';
import type { TlsFailureLog } from '../net/tls-handshake.js';
import { app } from './web.js';

/** What the admin listener needs from the server. */
export interface AdminDeps {
  config: Pick<Config, 'adminHost' | 'adminPort' | 'limits'>;
  log: Logger;
  certificates: CertificateSource;
  limiter: ConnectionLimiter;
  tlsFailures: TlsFailureLog;
  refusals: RateLimitedLog;
  /** Adds the routes (metrics, health) before the app starts. */
  routes(app: FastifyInstance): void;
}

/** The running admin app; `listener` is null when disabled or its port was taken. */
export interface AdminListener {
  app: FastifyInstance;
  listener: Listener | null;
  close(): Promise<void>;
}

/** Loopback addresses and the name that means them: no TLS needed there. */
function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Builds the admin app and binds its port (unless 0). */
export async function startAdmin(deps: AdminDeps): Promise<AdminListener> {
  const { config, log } = deps;
  const admin = app(log.child({ listener: 'admin' }));
  deps.routes(admin);
  await admin.ready();
  let listener: Listener | null = null;
  if (config.adminPort !== 0) {
    try {
      listener = await listen({
        name: 'admin',
        host: config.adminHost,
        port: config.adminPort,
        setting: 'admin-port',
        tls: isLoopbackHost(config.adminHost) ? null : deps.certificates,
        handshakeTimeoutMs: config.limits.tlsHandshakeTimeoutSeconds * 1000,
        tlsFailures: deps.tlsFailures,
        refusals: deps.refusals,
        proxy: null,
        limiter: deps.limiter,
        log,
        refusePrefix: 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n',
        onSocket: (socket) => admin.server.emit('connection', socket),
      });
    } catch (err) {
      const e = err as ListenError;
      if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') throw err;
      log.warn(`${e.message}: admin listener disabled; change ${describeSetting('admin-port')} or set it to 0`);
    }
  }
  return {
    app: admin,
    listener,
    async close() {
      await listener?.close();
      await admin.close();
    },
  };
}
