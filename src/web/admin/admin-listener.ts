/**
 * The admin listener (`admin-port`, default 8010; `admin-host`, default
 * 127.0.0.1): its own port, so the admin API, /metrics and health checks can
 * be firewalled apart from the mail and web ports. Built like the web side
 * (web/web.ts): fastify routes, sockets from our accept path (net/listen.ts)
 * with its connection limits and TLS handshake timer.
 *
 * Invariants: beyond loopback it serves only TLS with the mail ports'
 * certificates (the config refuses admin-host elsewhere without admin-tls);
 * a port that cannot be bound is logged and skipped, as on the web side, since
 * mail matters more.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { describeSetting } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import type { CertificateSource } from '../../net/certificates.js';
import type { ConnectionGate } from '../../net/connection-limiter.js';
import { listen, type ListenError, type Listener } from '../../net/listen.js';
import type { RateLimitedLog } from '../../net/rate-limited-log.js';
import type { TlsFailureLog } from '../../net/tls-handshake.js';
import { HTTP_REFUSE_PREFIX, webApp } from '../web.js';

/** What the admin listener needs. */
export interface AdminListenerDeps {
  config: Pick<Config, 'adminPort' | 'adminHost' | 'adminTls' | 'limits'>;
  log: Logger;
  certificates: CertificateSource;
  limiter: ConnectionGate;
  tlsFailures: TlsFailureLog;
  refusals: RateLimitedLog;
  /** This worker's slot under `serve --workers N` (null alone): answers name it in `x-mailkeep-worker`. */
  worker: number | null;
  /** Route registrars run on the app before it starts: the admin API (web/admin/api.ts), metrics and health checks. */
  routes: ReadonlyArray<(app: FastifyInstance) => void>;
}

/** The running admin listener. */
export interface AdminListener {
  app: FastifyInstance;
  /** Null when the port could not be bound (logged). */
  listener: Listener | null;
  close(): Promise<void>;
}

/** Builds the admin app and binds its port; null when admin-port is 0. */
export async function startAdminListener(deps: AdminListenerDeps): Promise<AdminListener | null> {
  const { config, log } = deps;
  if (config.adminPort === 0) return null;
  const app = webApp(log.child({ listener: 'admin' }));
  const worker = deps.worker;
  // Which worker answered: for operators following a request through the logs, and for tests that need another worker.
  if (worker !== null) app.addHook('onSend', async (_request, reply) => void reply.header('x-mailkeep-worker', String(worker)));
  for (const register of deps.routes) register(app);
  await app.ready();
  let listener: Listener | null = null;
  try {
    listener = await listen({
      name: 'admin',
      host: config.adminHost,
      port: config.adminPort,
      setting: 'admin-port',
      tls: config.adminTls ? deps.certificates : null,
      handshakeTimeoutMs: config.limits.tlsHandshakeTimeoutSeconds * 1000,
      tlsFailures: deps.tlsFailures,
      refusals: deps.refusals,
      proxy: null,
      limiter: deps.limiter,
      log,
      refusePrefix: HTTP_REFUSE_PREFIX,
      onSocket: (socket) => app.server.emit('connection', socket),
    });
  } catch (err) {
    const e = err as ListenError;
    if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') {
      await app.close();
      throw err;
    }
    log.warn(`${e.message}: the admin listener is disabled; change ${describeSetting('admin-port')} or set it to 0`);
  }
  return {
    app,
    listener,
    async close() {
      await listener?.close();
      await app.close();
    },
  };
}
