/**
 * The web-facing side: plain HTTP (ACME http-01 challenges, a redirect to
 * HTTPS for everything else) and HTTPS with the mail ports' certificates.
 * Routing is fastify's; sockets come from our own accept path (net/listen.ts),
 * so connection limits, the handshake timer and the TLS failure log are the
 * same as on the mail ports, and each accepted socket is handed to the HTTP
 * server fastify built.
 *
 * Invariants: mail matters more than the web side, so a web port that cannot
 * be bound is logged (one line naming the port and the setting) and skipped;
 * requests are bounded in header size, body size and time.
 */
import { createServer, type Server } from 'node:http';
import type { TLSSocket } from 'node:tls';
import fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { ACME_TLS_ALPN, type AcmeChallenges } from '../acme/challenges.js';
import { describeSetting } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { CertificateSource } from '../net/certificates.js';
import { peekClientHello } from '../net/client-hello.js';
import type { ConnectionGate } from '../net/connection-limiter.js';
import { listen, type ListenError, type Listener, type ListenSpec } from '../net/listen.js';
import type { RateLimitedLog } from '../net/rate-limited-log.js';
import type { TlsFailureLog } from '../net/tls-handshake.js';

/** Request line and headers together (Node's default is 16 KiB). */
const MAX_HEADER_BYTES = 16 * 1024;
/** Bodies: client set-up and ACME are GETs; later routes that take forms fit in this. */
const BODY_LIMIT_BYTES = 64 * 1024;
const HEADERS_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface WebDeps {
  config: Pick<Config, 'host' | 'hostname' | 'httpPort' | 'httpsPort' | 'limits'>;
  log: Logger;
  certificates: CertificateSource;
  challenges: AcmeChallenges;
  limiter: ConnectionGate;
  tlsFailures: TlsFailureLog;
  refusals: RateLimitedLog;
  /** Adds further routes to each app before it starts (client set-up: autoconfig/routes.ts). */
  routes?: (app: FastifyInstance, scheme: 'http' | 'https') => void;
}

/** Sent to a connection over the limits: the limiter's reason becomes the body of a response read until the close. */
export const HTTP_REFUSE_PREFIX = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n';

/** The running web listeners; `http` and `https` are where later routes (autoconfig, admin) are added. */
export interface Web {
  http: FastifyInstance;
  https: FastifyInstance;
  listeners: Listener[];
  close(): Promise<void>;
}

/** A fastify app on an HTTP server that never listens itself: net/listen.ts hands it sockets (the web side, the admin listener). */
export function webApp(log: Logger): FastifyInstance {
  let server: Server | undefined;
  const instance = fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Every request at info would let anyone fill the log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    serverFactory: (handler) => {
      server = createServer(
        { maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS },
        handler,
      );
      return server;
    },
  });
  // Keep-alive sockets end with the app: the server never listened, so its close() alone would not reach them.
  instance.addHook('onClose', async () => server?.closeAllConnections());
  return instance;
}

/** The URL on HTTPS for a path of the plain HTTP side. */
function httpsUrl(config: WebDeps['config'], path: string): string {
  const port = config.httpsPort === 443 || config.httpsPort === 0 ? '' : `:${config.httpsPort}`;
  return `https://${config.hostname}${port}${path}`;
}

/** Builds both apps and binds the configured ports; a port that cannot be bound is logged and skipped. */
export async function startWeb(deps: WebDeps): Promise<Web> {
  const { config, log, challenges } = deps;
  const http = webApp(log.child({ listener: 'http' }));
  const https = webApp(log.child({ listener: 'https' }));

  // RFC 8555 §8.3: the key authorization as text, for the token of a pending challenge only.
  http.get<{ Params: { token: string } }>('/.well-known/acme-challenge/:token', async (request, reply) => {
    const keyAuthorization = challenges.httpResponse(request.params.token);
    if (keyAuthorization === undefined) return reply.code(404).type('text/plain').send('no such challenge\n');
    return reply.type('text/plain').send(keyAuthorization);
  });
  http.setNotFoundHandler(async (request, reply) => reply.redirect(httpsUrl(config, request.url), 301));
  deps.routes?.(http, 'http');
  deps.routes?.(https, 'https');
  await Promise.all([http.ready(), https.ready()]);

  const common = {
    host: config.host,
    handshakeTimeoutMs: config.limits.tlsHandshakeTimeoutSeconds * 1000,
    tlsFailures: deps.tlsFailures,
    refusals: deps.refusals,
    proxy: null,
    limiter: deps.limiter,
    log,
    refusePrefix: HTTP_REFUSE_PREFIX,
  };
  const specs: ListenSpec[] = [];
  if (config.httpPort !== 0) {
    specs.push({
      ...common,
      name: 'http',
      port: config.httpPort,
      setting: 'http-port',
      tls: null,
      onSocket: (socket) => http.server.emit('connection', socket),
    });
  }
  if (config.httpsPort !== 0) {
    specs.push({
      ...common,
      name: 'https',
      port: config.httpsPort,
      setting: 'https-port',
      tls: deps.certificates,
      // RFC 8737 §3: a handshake offering acme-tls/1 for a name with a pending challenge gets the challenge certificate.
      tlsFor: async (raw, deadline) => {
        if (!challenges.alpnPending) return { certificates: deps.certificates };
        const hello = await peekClientHello(raw, deadline);
        const challenge = hello?.servername && hello.alpn.includes(ACME_TLS_ALPN) ? challenges.alpnFor(hello.servername) : undefined;
        return challenge ?? { certificates: deps.certificates };
      },
      onSocket: (socket) => {
        // The validation needs only the handshake (RFC 8737 §3); no HTTP is spoken on that connection.
        if ((socket as TLSSocket).alpnProtocol === ACME_TLS_ALPN) socket.end();
        else https.server.emit('connection', socket);
      },
    });
  }

  const listeners: Listener[] = [];
  for (const spec of specs) {
    try {
      listeners.push(await listen(spec));
    } catch (err) {
      const e = err as ListenError;
      if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') {
        await Promise.all(listeners.map((l) => l.close()));
        throw err;
      }
      // One line, and mail goes on: another web server may hold the port.
      log.warn(`${e.message}: ${spec.name} disabled; change ${describeSetting(spec.setting)} or set it to 0`);
    }
  }
  return {
    http,
    https,
    listeners,
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
      await Promise.all([http.close(), https.close()]);
    },
  };
}
