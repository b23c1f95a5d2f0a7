/**
 * TCP and implicit-TLS listeners with connection limits. A port that cannot be
 * bound fails with an error naming the port and the setting to change.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { ConnectionLimiter } from './connection-limiter.js';
import { addressKey } from '../auth/throttle.js';
import { normalizeAddress } from './address.js';

/** What to listen on and what to do with each accepted socket. */
export interface ListenSpec {
  name: string;
  host: string;
  port: number;
  /** Config setting that chose the port, for error messages ("imap-port"). */
  setting: string;
  /** Implicit TLS (RFC 8314) with this key and certificate when set. */
  tls: { key: Buffer; cert: Buffer } | null;
  limiter: ConnectionLimiter;
  log: Logger;
  /** Line sent before closing a connection over the limits, e.g. "* BYE". */
  refusePrefix?: string;
  onSocket(socket: Socket): void;
}

/** A bound listener. */
export interface Listener {
  name: string;
  port: number;
  close(): Promise<void>;
}

/** An error for a port that cannot be bound; the CLI prints it as one line. */
export type ListenError = Error & { code: string; port: number; setting: string; host: string };

/** Binds a listener; rejects with a ListenError when the port is taken or not permitted. */
export async function listen(spec: ListenSpec): Promise<Listener> {
  const accept = (socket: Socket): void => {
    // IPv6 clients are counted per /64, the block one subscriber usually holds.
    const address = addressKey(normalizeAddress(socket.remoteAddress));
    const refusal = spec.limiter.acquire(address);
    if (refusal) {
      spec.log.warn({ remote: address, listener: spec.name }, refusal);
      socket.end(`${spec.refusePrefix ?? '* BYE'} ${refusal}\r\n`);
      socket.on('error', () => undefined);
      return;
    }
    socket.once('close', () => spec.limiter.release(address));
    spec.onSocket(socket);
  };

  let server: Server;
  if (spec.tls) {
    // RFC 8996 / RFC 9325: TLS 1.2 or later.
    const tlsServer = createTlsServer({ key: spec.tls.key, cert: spec.tls.cert, minVersion: 'TLSv1.2' }, accept);
    tlsServer.on('tlsClientError', (err, socket) => {
      spec.log.info({ listener: spec.name, remote: normalizeAddress(socket.remoteAddress), err: err.message }, 'TLS handshake failed');
    });
    server = tlsServer;
  } else {
    server = createTcpServer(accept);
  }

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
