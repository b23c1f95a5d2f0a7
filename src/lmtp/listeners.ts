/**
 * Starts the configured LMTP listeners: TCP on lmtp-host:lmtp-port (loopback
 * by default: LMTP has no authentication, RFC 2033 §1) and the unix socket
 * lmtp.socket, each handing its connections to an LmtpConnection.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ConnectionLimiter } from '../net/connection-limiter.js';
import { listen, proxySpecFor, type Listener } from '../net/listen.js';
import type { MailStore } from '../store/types.js';
import { LmtpConnection } from './session/connection.js';
import { listenUnix } from './unix-listener.js';

/** What the LMTP listeners share with the rest of the server. */
export interface LmtpListenDeps {
  store: MailStore;
  config: Config;
  log: Logger;
  limiter: ConnectionLimiter;
  /** Open sessions, told to end on shutdown; a connection removes itself when it closes. */
  sessions: Set<{ shutdown(reason: string): void }>;
}

/** Binds every configured LMTP listener (none when lmtp-port is 0 and lmtp.socket unset); on failure closes those already bound. */
export async function listenLmtp(deps: LmtpListenDeps): Promise<Listener[]> {
  const { config, log, limiter, sessions } = deps;
  const connDeps = { store: deps.store, config, log, onClose: (conn: LmtpConnection) => sessions.delete(conn) };
  const onSocket = (socket: Socket, remoteAddress: string): void => {
    const conn = new LmtpConnection(socket, connDeps, remoteAddress);
    sessions.add(conn);
    conn.run().catch((err: unknown) => {
      log.error({ err, session: conn.id }, 'session crashed');
      socket.destroy();
    });
  };
  const listeners: Listener[] = [];
  try {
    if (config.lmtpPort !== 0) {
      listeners.push(
        await listen({ name: 'lmtp', host: config.lmtpHost, port: config.lmtpPort, setting: 'lmtp-port', tls: null, proxy: proxySpecFor(config, 'lmtp'), limiter, log, refusePrefix: '421 4.7.0', onSocket }),
      );
    }
    if (config.lmtp.socket !== null) listeners.push(await listenUnix({ name: 'lmtp-socket', path: config.lmtp.socket, limiter, log, onSocket }));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  return listeners;
}
