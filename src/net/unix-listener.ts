/**
 * A listener on a unix socket (LMTP's `lmtp.socket`, Postfix
 * `lmtp:unix:/path`), beside or instead of TCP (listen.ts). A socket file
 * left by a crashed process is replaced; one a live server answers on, or
 * any other kind of file, is not.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionGate } from './connection-limiter.js';
import type { Listener } from './listen.js';
import { endWithGrace } from './transport.js';

/** The address (and limiter key) every unix-socket client shares: they have no address. */
const LOCAL = 'local';
/** Owner and group: the client's user must share the server's group (LMTP has no authentication). */
const SOCKET_MODE = 0o660;

/** Whether something accepts connections on the socket path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
}

/** Removes a stale socket file; refuses a live socket or a file that is not a socket. */
export async function clearStale(path: string): Promise<void> {
  const info = await lstat(path).catch(() => null);
  if (info === null) return;
  if (!info.isSocket()) throw new Error(`cannot listen on ${path}: it exists and is not a socket`);
  if (await answers(path)) throw new Error(`cannot listen on ${path}: another server is listening there`);
  await unlink(path);
}

/** Options of listenUnix. */
export interface UnixListenSpec {
  name: string;
  path: string;
  /** One worker of a cluster: the socket is shared, so the primary clears a stale file and removes it at the end. */
  shared?: boolean;
  limiter: ConnectionGate;
  log: Logger;
  /** Line sent before closing a connection over the limits, e.g. "421 4.7.0". */
  refusePrefix: string;
  onSocket(socket: Socket, remoteAddress: string): void;
}

/** Binds a unix-socket listener; its close() stops accepting and removes the socket file. */
export async function listenUnix(spec: UnixListenSpec): Promise<Listener> {
  if (!spec.shared) await clearStale(spec.path);
  const server = createServer((socket) => {
    // Before the session adds its own handler, an error is answered by the 'close' that follows it.
    socket.on('error', () => undefined);
    void spec.limiter.admit(LOCAL).then((admission) => {
      if ('refusal' in admission) {
        spec.log.warn({ listener: spec.name }, admission.refusal);
        endWithGrace(socket, `${spec.refusePrefix} ${admission.refusal}\r\n`);
      } else if (socket.destroyed) {
        admission.release();
      } else {
        socket.once('close', admission.release);
        spec.onSocket(socket, LOCAL);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${spec.path} (${err.message})`)));
    server.listen(spec.path, () => resolve());
  });
  server.on('error', (err) => spec.log.error({ err, listener: spec.name }, 'listener error'));
  if (!spec.shared) await chmod(spec.path, SOCKET_MODE);
  return {
    name: spec.name,
    port: 0,
    close: async () => {
      server.close();
      if (!spec.shared) await unlink(spec.path).catch(() => undefined);
    },
  };
}
