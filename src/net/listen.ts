/**
 * TCP and implicit-TLS listeners with connection limits and the optional
 * PROXY protocol. A port that cannot be bound fails with an error naming the
 * port and the setting to change.
 *
 * Every accepted connection goes through the same steps: PROXY header (when
 * the listener expects one), TLS handshake (implicit-TLS ports), connection
 * limits by client address, then the session. The client address found in
 * the first step is the one every later step and the session use.
 *
 * Invariants: a PROXY listener serves only peers in `proxy.trusted` that send
 * a valid header in time; any other connection is closed and logged, never
 * served under the socket's address. The limits count a connection once its
 * client is known (after the header, and after TLS so a refusal can be read);
 * until then the header and handshake timeouts bound it.
 */
import { createServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ConnectionGate } from './connection-limiter.js';
import { addressKey } from '../auth/throttle.js';
import { isTrusted, normalizeAddress } from './address.js';
import { readProxyHeader } from './proxy-protocol.js';
import type { RateLimitedLog } from './rate-limited-log.js';
import type { CertificateSource } from './certificates.js';
import { serverHandshake, type TlsFailureLog } from './tls-handshake.js';
import { endWithGrace } from './transport.js';

/** Node's tls.Server allows 120 s; a handshake still unfinished after 30 s is stalled or hostile. */
const DEFAULT_HANDSHAKE_MS = 30_000;

/** PROXY protocol settings of one listener. */
export interface ProxySpec {
  /** Networks (CIDR) of the proxies allowed to connect. */
  trusted: readonly string[];
  headerTimeoutMs: number;
}

/** What to listen on and what to do with each accepted socket. */
export interface ListenSpec {
  name: string;
  host: string;
  port: number;
  /** Config setting that chose the port, for error messages ("imap-port"). */
  setting: string;
  /** Implicit TLS (RFC 8314) with this context when set. */
  tls: CertificateSource | null;
  /** Chooses the certificates (and ALPN protocols) of one connection from its first bytes, within the handshake time; absent: `tls`. */
  tlsFor?: (raw: Socket, deadline: number) => Promise<TlsChoice>;
  /** limits.tls-handshake-timeout-seconds, in ms. */
  handshakeTimeoutMs?: number;
  /** Failed handshakes are reported here (rate-limited); absent: logged at info. */
  tlsFailures?: TlsFailureLog;
  /** Where refused connections are logged (rate-limited); absent: every one at warn. */
  refusals?: RateLimitedLog;
  /** Expect a PROXY protocol header before anything else when set. */
  proxy: ProxySpec | null;
  limiter: ConnectionGate;
  log: Logger;
  /** Line sent before closing a connection over the limits, e.g. "* BYE". */
  refusePrefix?: string;
  /** The whole refusal line, for protocols whose text must be framed (ManageSieve's quoted string); overrides refusePrefix. */
  refuseLine?: (text: string) => string;
  /** `remoteAddress`: the client's address (from the PROXY header when there is one), normalized. */
  onSocket(socket: Socket, remoteAddress: string): void;
}

/** The certificates a handshake uses and the ALPN protocols it may select (RFC 7301). */
export interface TlsChoice {
  certificates: CertificateSource;
  alpnProtocols?: string[];
}

/** A bound listener. */
export interface Listener {
  name: string;
  port: number;
  close(): Promise<void>;
}

/** An error for a port that cannot be bound; the CLI prints it as one line. */
export type ListenError = Error & { code: string; port: number; setting: string; host: string };

/** The PROXY settings of the named listener: null unless `proxy.listeners` names it. */
export function proxySpecFor(config: Pick<Config, 'proxy'>, name: string): ProxySpec | null {
  const { listeners, trusted, headerTimeoutSeconds } = config.proxy;
  return (listeners as readonly string[]).includes(name) ? { trusted, headerTimeoutMs: headerTimeoutSeconds * 1000 } : null;
}

/** Binds a listener; rejects with a ListenError when the port is taken or not permitted. */
export async function listen(spec: ListenSpec): Promise<Listener> {
  const server = createServer((socket) => {
    // Before the session adds its own handler, an error is answered by the 'close' that follows it.
    socket.on('error', () => undefined);
    admit(spec, socket).catch((err: unknown) => {
      spec.log.error({ err, listener: spec.name }, 'accepting a connection failed');
      socket.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(
        Object.assign(new Error(`cannot listen on ${spec.host}:${spec.port} (${reason})`), {
          code: err.code ?? 'ELISTEN',
          port: spec.port,
          setting: spec.setting,
          host: spec.host,
        }),
      );
    });
    server.listen(spec.port, spec.host, () => resolve());
  });
  server.on('error', (err) => spec.log.error({ err, listener: spec.name }, 'listener error'));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : spec.port;
  return {
    name: spec.name,
    port,
    // Stop accepting now; open sessions are ended by their owner, not awaited here.
    close: async () => {
      server.close();
    },
  };
}

/** PROXY header, TLS, limits, session: see the module comment. */
async function admit(spec: ListenSpec, raw: Socket): Promise<void> {
  const peer = normalizeAddress(raw.remoteAddress);
  let remote = peer;
  if (spec.proxy) {
    const found = await proxiedAddress(spec, spec.proxy, raw, peer);
    if (found === null) {
      raw.destroy();
      return;
    }
    remote = found;
  }

  let socket: Socket = raw;
  if (spec.tls) {
    try {
      // One deadline for choosing and handshaking: a slow ClientHello leaves less time for the rest.
      const deadline = Date.now() + (spec.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_MS);
      const choice: TlsChoice = spec.tlsFor ? await spec.tlsFor(raw, deadline) : { certificates: spec.tls };
      socket = await serverHandshake(raw, choice.certificates, Math.max(1, deadline - Date.now()), choice.alpnProtocols);
    } catch (err) {
      if (spec.tlsFailures) spec.tlsFailures.report(spec.name, remote, err);
      else spec.log.info({ listener: spec.name, remote, reason: (err as Error).message }, 'TLS handshake failed');
      return;
    }
  }

  // IPv6 clients are counted per /64, the block one subscriber usually holds.
  const key = addressKey(remote);
  const admission = await spec.limiter.admit(key);
  if ('refusal' in admission) {
    const { refusal } = admission;
    if (spec.refusals) spec.refusals.report({ remote: key, listener: spec.name }, refusal);
    else spec.log.warn({ remote: key, listener: spec.name }, refusal);
    // The refused peer keeps no file descriptor: closed after a short grace whatever it does.
    endWithGrace(socket, spec.refuseLine ? spec.refuseLine(refusal) : `${spec.refusePrefix ?? '* BYE'} ${refusal}\r\n`);
    return;
  }
  // The slot may have taken a round trip to the cluster's primary: a client gone meanwhile gives it back now.
  if (socket.destroyed) {
    admission.release();
    return;
  }
  socket.once('close', admission.release);
  spec.onSocket(socket, remote);
}

/**
 * The client address a trusted proxy announces; null (logged) when the peer
 * is not a trusted proxy or its header is missing, late or malformed.
 */
async function proxiedAddress(spec: ListenSpec, proxy: ProxySpec, raw: Socket, peer: string): Promise<string | null> {
  if (!isTrusted(peer, proxy.trusted)) {
    spec.log.warn({ listener: spec.name, peer }, 'refused: PROXY listener, and the peer is not in proxy.trusted');
    return null;
  }
  const header = await readProxyHeader(raw, proxy.headerTimeoutMs).catch((err: Error) => {
    spec.log.warn({ listener: spec.name, peer, reason: err.message }, 'refused: no valid PROXY header');
    return null;
  });
  if (header === null) return null;
  if (header.source !== null) return normalizeAddress(header.source.address);
  // LOCAL (the proxy's health check) and UNKNOWN/AF_UNSPEC are the proxy's own connections (spec §2.1, §2.2).
  spec.log.debug({ listener: spec.name, peer, command: header.command }, 'PROXY header without a client address: the proxy is the client');
  return peer;
}
