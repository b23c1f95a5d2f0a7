/**
 * Wiring: config → store → listeners, and the graceful lifecycle.
 *
 * Invariants: listeners stop accepting before sessions are told BYE; the store
 * closes only after every session has ended (or the grace period passed), so
 * no acknowledged change is cut off mid-way.
 */
import { Outgoing } from '../mail/outgoing.js';
import { SieveDelivery } from '../mail/sieve-delivery.js';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { CredentialCache } from '../auth/credential-cache.js';
import { passwordHashing } from '../auth/password.js';
import { createThrottle } from '../auth/throttle.js';
import { createOAuthVerifier } from '../auth/oauth/token-verifier.js';
import { CredentialRevocation } from './credential-revocation.js';
import { clusterStartedAt } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { COMMANDS } from '../imap/commands/registry.js';
import { COMMANDS as POP3_COMMANDS } from '../pop3/commands/registry.js';
import { ImapConnection } from '../imap/session/connection.js';
import { LmtpConnection } from '../lmtp/session/connection.js';
import { ManageSieveConnection } from '../managesieve/session/connection.js';
import { statusLine } from '../managesieve/wire/response.js';
import { MailboxIndexCache } from '../imap/session/mailbox-index.js';
import { MailboxNameCache } from '../imap/session/mailbox-names.js';
import { ConnectionLimiter } from '../net/connection-limiter.js';
import { warnAboutCertificates } from '../net/certificate-warnings.js';
import { Certificates } from '../net/certificates.js';
import { listen, proxySpecFor, type Listener } from '../net/listen.js';
import { EventLoopDelayMonitor } from '../net/event-loop-delay.js';
import { RateLimitedLog } from '../net/rate-limited-log.js';
import { TlsFailureLog } from '../net/tls-handshake.js';
import { listenUnix } from '../net/unix-listener.js';
import { LiveSessions, type LiveSession } from '../net/live-sessions.js';
import { Pop3Connection } from '../pop3/session/connection.js';
import { MessageSizes } from '../pop3/session/message-sizes.js';
import { openStore } from '../store/open.js';
import { AcmeChallenges } from '../acme/challenges.js';
import type { AcmeManager } from '../acme/manager.js';
import { startWeb, type Web } from '../web/web.js';
import type { PeerLink } from '../events/peer-link.js';
import { startServerControl, type ServerControl } from './server-control.js';
import { registerAutoconfigRoutes } from '../autoconfig/routes.js';
import { type AdminListener, startAdminListener } from '../web/admin/admin-listener.js';
import { registerAdminApi } from '../web/admin/api.js';
import { serverReport } from '../web/admin/server-report.js';
import type { PrimaryLink } from './primary-queries.js';
import type { WorkerLimits } from './cluster-limits.js';
import { registerWebAdmin } from '../web/admin/ui/web-admin.js';
import type { FastifyInstance } from 'fastify';
import type { MailStore } from '../store/types.js';
import { metricsText } from '../metrics/cluster-metrics.js';
import { commandRecorder, enableProcessMetrics, recordMetrics, watchSessions } from '../metrics/metrics.js';
import { registerHealthRoutes } from '../web/health-routes.js';
import { registerMetricsRoutes } from '../web/metrics-routes.js';
import { ReadinessState } from './readiness.js';
import { AuditRetention } from './audit-retention.js';
import { type NodeHeartbeat, nodeName, staleBefore, startHeartbeat } from './node-heartbeat.js';
import { configuredStore } from './store-options.js';

/** A started server. */
export interface RunningServer {
  /** Stops accepting, says BYE to every session, waits for them and closes the store. */
  stop(reason?: string): Promise<void>;
  /** Bound ports by listener name ("imap", "imaps", "pop3", "pop3s", "lmtp", "managesieve", "http", "https", "admin"). */
  ports: Record<string, number>;
  /** The store the listeners share (the CLI and tests create accounts through it). */
  store: MailStore;
  /** The certificates of every TLS endpoint; `reload` on SIGHUP. */
  certificates: Certificates;
  /** The logins' credential cache (tests read its hit and miss counts). */
  credentials: CredentialCache;
  /** The live sessions of every protocol (list, kick). */
  sessions: LiveSessions;
  /** The control channel: credential-cache invalidation, kicks and session listing across workers and nodes. */
  control: ServerControl;
  /** The HTTP and HTTPS apps (routes are added there). */
  web: Web;
  /** ACME, when enabled and this process holds the data dir's ACME lock. */
  acme: AcmeManager | null;
  /** The admin listener (admin API), or null when admin-port is 0. */
  admin: AdminListener | null;
  /** Event-loop delay (p50/p99/max per period, logged at debug) for metrics. */
  eventLoop: EventLoopDelayMonitor;
}

/** How long shutdown waits for sessions to finish their current command. */
const SHUTDOWN_GRACE_MS = 5000;

/** How a server process is placed: alone (the default) or as one worker of `serve --workers N`. */
export interface ServerPlacement {
  /** The sibling workers (server/cluster-worker.ts); null or absent in a single process. */
  peers?: PeerLink | null;
  /** The cluster's primary (merged metrics, the list of workers); null or absent in a single process. */
  primary?: PrimaryLink | null;
  /** The connection limits and login counts the primary holds for every worker; absent: this process's own. */
  limits?: WorkerLimits;
}

/** Starts every configured listener on one store. */
export async function startServer(config: Config, log: Logger, placement: ServerPlacement = {}): Promise<RunningServer> {
  // A worker reports the start of `serve`, not its own: a restarted worker would make the server look newly started.
  const startedAt = clusterStartedAt() ?? Date.now();
  // `[admin] metrics = false`: no-op recorders (chosen here, before the store's first commit), no process metrics, no /metrics.
  const metricsOn = config.admin.metrics;
  recordMetrics(metricsOn);
  const store = await openStore({ ...configuredStore(config, (message) => log.warn({ dataDir: config.dataDir }, message)), checkpointThread: true });
  // Before the certificates start watching files: a missing client secret file stops the start here.
  const oauth = await createOAuthVerifier(config.oauth).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const certificates = await Certificates.load(config, log, { watch: true });
  warnAboutCertificates(certificates.list(), config.hostname, log);
  const throttle = createThrottle(config.authThrottle, store, placement.limits?.attempts);
  const credentials = new CredentialCache({ ttlMs: config.auth.credentialCacheSeconds * 1000, maxEntries: config.auth.credentialCacheEntries });
  const limiter = placement.limits?.connections ?? new ConnectionLimiter(config.limits.maxConnections, config.limits.maxConnectionsPerIp);
  const sessions = new LiveSessions();
  if (metricsOn) enableProcessMetrics();
  // The connection and IDLE gauges read the registry when scraped.
  const unwatchSessions = metricsOn ? watchSessions(() => sessions.list()) : () => false;
  const readiness = new ReadinessState(store);
  const challenges = new AcmeChallenges();
  // A node: one `mailkeep serve` (the primary's pid under the cluster, whose workers all name it).
  const node = nodeName(placement.peers != null);
  const control = await startServerControl({ store, credentials, sessions, log, peers: placement.peers ?? null, node, challenges });
  // Revoked app passwords, disabled accounts …: their live sessions end, whichever process made the change.
  const revocation = new CredentialRevocation(store, sessions, log);
  const ended = (conn: LiveSession): void => {
    revocation.ended(conn);
    sessions.delete(conn);
  };
  const tlsFailures = new TlsFailureLog(log, config.limits.tlsFailuresLoggedPerMinute);
  // Anyone can make connections be refused: those lines are rate-limited like failed handshakes.
  const refusals = new RateLimitedLog(log, config.limits.refusalsLoggedPerMinute, 'connections refused', 'warn');

  const deps = {
    store,
    indexCache: new MailboxIndexCache(store, config.limits.messagesPerTransaction),
    mailboxNames: new MailboxNameCache(store),
    config,
    log,
    throttle,
    certificates,
    credentials,
    oauth,
    tlsFailures,
    commands: COMMANDS,
    commandMetrics: commandRecorder('imap', COMMANDS.keys()),
    onClose: (conn: ImapConnection) => ended(conn),
    onLogin: (conn: ImapConnection) => revocation.loggedIn(conn),
  };
  const pop3Deps = {
    store,
    sizes: new MessageSizes(store.blobs),
    config,
    log,
    throttle,
    certificates,
    credentials,
    oauth,
    tlsFailures,
    onClose: (conn: Pop3Connection) => ended(conn),
    onLogin: (conn: Pop3Connection) => revocation.loggedIn(conn),
    commandMetrics: commandRecorder('pop3', POP3_COMMANDS.keys()),
  };
  const sieve = new SieveDelivery(store, config, log, Outgoing.fromConfig(config));
  const lmtpDeps = { store, config, log, sieve, onClose: (conn: LmtpConnection) => sessions.delete(conn) };
  const sieveDeps = { ...pop3Deps, onClose: (conn: ManageSieveConnection) => ended(conn) };

  /** Starts a session on an admitted socket; a session that throws is logged and its socket dropped. */
  const serve = (socket: Socket, conn: LiveSession & { run(): Promise<void> }): void => {
    sessions.add(conn);
    conn.run().catch((err: unknown) => {
      log.error({ err, session: conn.id }, 'session crashed');
      socket.destroy();
    });
  };

  const listeners: Listener[] = [];
  let web: Web | undefined;
  let admin: AdminListener | null = null;
  let acme: AcmeManager | null = null;
  let heartbeat: NodeHeartbeat | null = null;
  const ports: Record<string, number> = {};
  try {
    for (const spec of [
      { name: 'imap', port: config.imapPort, setting: 'imap-port', implicitTls: false, pop3: false },
      { name: 'imaps', port: config.imapsPort, setting: 'imaps-port', implicitTls: true, pop3: false },
      { name: 'pop3', port: config.pop3Port, setting: 'pop3-port', implicitTls: false, pop3: true },
      { name: 'pop3s', port: config.pop3sPort, setting: 'pop3s-port', implicitTls: true, pop3: true },
    ]) {
      if (spec.port === 0) continue;
      listeners.push(
        await listen({
          ...spec,
          host: config.host,
          port: spec.port,
          tls: spec.implicitTls ? certificates : null,
          handshakeTimeoutMs: config.limits.tlsHandshakeTimeoutSeconds * 1000,
          tlsFailures,
          refusals,
          proxy: proxySpecFor(config, spec.name),
          limiter,
          log,
          refusePrefix: spec.pop3 ? '-ERR' : '* BYE',
          onSocket(socket, remoteAddress) {
            const listener = { implicitTls: spec.implicitTls, remoteAddress };
            serve(socket, spec.pop3 ? new Pop3Connection(socket, pop3Deps, listener) : new ImapConnection(socket, deps, listener));
          },
        }),
      );
    }
    // ManageSieve (RFC 5804 §1.8): STARTTLS only, no implicit-TLS port.
    if (config.managesievePort !== 0) {
      listeners.push(
        await listen({
          name: 'managesieve',
          host: config.host,
          port: config.managesievePort,
          setting: 'managesieve-port',
          tls: null,
          proxy: proxySpecFor(config, 'managesieve'),
          refusals,
          limiter,
          log,
          // RFC 5804 §1.2: BYE with its text as a string.
          refuseLine: (text) => statusLine('BYE', null, text).toString('utf8'),
          onSocket: (socket, remoteAddress) => serve(socket, new ManageSieveConnection(socket, sieveDeps, { remoteAddress })),
        }),
      );
    }
    // LMTP: TCP on lmtp-host (loopback by default: LMTP has no authentication, RFC 2033 §1) and the unix socket.
    const lmtpSocket = (socket: Socket, remoteAddress: string): void => serve(socket, new LmtpConnection(socket, lmtpDeps, remoteAddress));
    const lmtpRefuse = '421 4.7.0';
    if (config.lmtpPort !== 0) {
      listeners.push(
        await listen({
          name: 'lmtp',
          host: config.lmtpHost,
          port: config.lmtpPort,
          setting: 'lmtp-port',
          tls: null,
          proxy: proxySpecFor(config, 'lmtp'),
          refusals,
          limiter,
          log,
          refusePrefix: lmtpRefuse,
          onSocket: lmtpSocket,
        }),
      );
    }
    if (config.lmtp.socket !== null) {
      // A cluster's primary clears a stale socket file and removes it at the end; its workers share the one socket.
      const shared = placement.peers != null;
      listeners.push(await listenUnix({ name: 'lmtp-socket', path: config.lmtp.socket, shared, limiter, log, refusePrefix: lmtpRefuse, onSocket: lmtpSocket }));
    }
    // The web side after the mail ports: a web port that cannot be bound is logged and skipped (web/web.ts).
    // Client set-up answers on both sides; profiles are signed with the pair served for the hostname at that moment.
    // Health answers on the public side too, with no detail (load balancers in front of HTTPS).
    const routes = (app: FastifyInstance, scheme: 'http' | 'https') => {
      registerAutoconfigRoutes(app, { config, store, log, scheme, signingPair: () => certificates.select(config.hostname) });
      registerHealthRoutes(app, { readiness: () => readiness.check(), detail: false });
    };
    web = await startWeb({ config, log, certificates, challenges, limiter, tlsFailures, refusals, routes });
    // The admin listener: the admin API, the web admin, /metrics and the health checks.
    const peers = placement.peers ?? null;
    const primary = placement.primary ?? null;
    const cluster = peers && primary ? { self: peers.self, workers: () => primary.workers() } : undefined;
    // /metrics and the dashboard's totals: every worker's under the cluster; none with metrics off.
    const metrics = !metricsOn ? null : primary ? () => primary.metrics() : metricsText;
    const api = {
      store,
      // The admin listener's connections land on any worker of any node: it must see and kick them all.
      sessions: { list: control.listSessions, kick: control.kickSessions },
      throttle,
      hashing: passwordHashing(config),
      log,
      report: () => serverReport({ config, startedAt, ports: () => ports, ...(cluster ? { cluster } : {}) }),
      nodes: () => store.liveNodes(staleBefore()),
    };
    admin = await startAdminListener({
      config,
      log,
      certificates,
      limiter,
      tlsFailures,
      refusals,
      worker: peers?.self ?? null,
      routes: [
        (app) => registerAdminApi(app, api),
        (app) => registerWebAdmin(app, { ...api, metrics, secureCookies: config.adminTls }),
        ...(metrics ? [(app: FastifyInstance) => registerMetricsRoutes(app, metrics)] : []),
        (app) => registerHealthRoutes(app, { readiness: () => readiness.check(), detail: true }),
      ],
    });
    // A single process is its own node (a cluster's primary registers for its workers: cluster-primary.ts).
    if (!placement.peers) heartbeat = await startHeartbeat(store, node, 1, log);
    if (config.acme.enabled) {
      // acme-client and its crypto stack load only when ACME is on: they cost start-up time otherwise.
      const { AcmeManager } = await import('../acme/manager.js');
      acme = await AcmeManager.start(config, log, challenges, certificates);
    }
  } catch (e) {
    await heartbeat?.stop();
    await Promise.all(listeners.map((l) => l.close()));
    await web?.close();
    await admin?.close();
    unwatchSessions();
    certificates.close();
    await control.close();
    await store.close();
    throw e;
  }
  listeners.push(...web.listeners);
  readiness.listening = true;
  // One sweeper per node is enough (the deletes are idempotent): the single process, or the cluster's worker 1.
  const auditRetention =
    config.admin.auditRetention > 0 && (placement.peers?.self ?? 1) === 1 ? new AuditRetention(store, config.admin.auditRetention, log) : null;
  auditRetention?.start();

  for (const l of [...listeners, ...(admin?.listener ? [admin.listener] : [])]) ports[l.name] = l.port;
  log.info({ ports, dataDir: config.dataDir }, 'mailkeep started');
  const eventLoop = new EventLoopDelayMonitor(log);

  let stopping: Promise<void> | null = null;
  return {
    ports,
    store,
    certificates,
    credentials,
    sessions,
    control,
    web: web as Web,
    acme,
    admin,
    eventLoop,
    stop(reason = 'Server shutting down') {
      stopping ??= (async () => {
        readiness.stopping = true;
        await heartbeat?.stop();
        await Promise.all(listeners.map((l) => l.close()));
        await Promise.all([web?.close(), admin?.close(), acme?.stop()]);
        certificates.close();
        sessions.shutdownAll(reason);
        const deadline = Date.now() + SHUTDOWN_GRACE_MS;
        while (sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        unwatchSessions();
        await auditRetention?.stop();
        await control.close();
        await store.close();
        eventLoop.stop();
        log.info('mailkeep stopped');
      })();
      return stopping;
    },
  };
}
