/**
 * The TCP step of a port check: connect the way a client does and classify
 * the outcome, because each outcome has a different cause and fix: nothing
 * listens (refused), a firewall drops the packets (timed out), something cuts
 * the connection (reset), or no route (network unreachable).
 */
import { connect, type Socket } from 'node:net';
import { type Check, fail, ok, type PortSpec } from './check.js';

/**
 * A connected socket and how long the connect took, or the check line saying why not.
 * `lateError` is an error the open socket met while it waited for its dialog (a reset, say).
 */
export type TcpOutcome = { socket: Socket; check: Check; lateError: () => NodeJS.ErrnoException | null } | { socket: null; check: Check };

/** Connects to `address`:`spec.port` within `timeoutMs`. `host` names the server in the lines. */
export function probeTcp(host: string, address: string, spec: PortSpec, timeoutMs: number): Promise<TcpOutcome> {
  const started = process.hrtime.bigint();
  const where = `${address}:${spec.port}`;
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: spec.port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ socket: null, check: timedOut(host, spec.port, timeoutMs) });
    }, timeoutMs);
    let late: NodeJS.ErrnoException | null = null;
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
      resolve({ socket, check: ok(`TCP connect to ${where}: open (${ms} ms)`), lateError: () => late });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) {
        late ??= err;
        return;
      }
      clearTimeout(timer);
      socket.destroy();
      resolve({ socket: null, check: connectFailure(host, where, spec.port, err.code ?? 'EIO', err.message) });
    });
  });
}

function timedOut(host: string, port: number, timeoutMs: number): Check {
  return fail(
    `TCP connect to port ${port}: timed out after ${timeoutMs / 1000} s with no answer`,
    `A firewall between you and ${host} drops TCP ${port}. Allow outbound TCP ${port} (and inbound on the server), or ask your provider.`,
  );
}

function connectFailure(host: string, where: string, port: number, code: string, message: string): Check {
  switch (code) {
    case 'ECONNREFUSED':
      return fail(
        `TCP connect to ${where}: refused`,
        `Nothing listens on port ${port} of ${host}: the port is wrong or the server is not running there. Check the port, or start the server.`,
      );
    case 'ECONNRESET':
      return resetCheck(host, port, 'during the connect');
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return fail(
        `TCP connect to ${where}: network unreachable (${code})`,
        `There is no route from this machine to ${host}: check your network connection, VPN, or a firewall that rejects the traffic.`,
      );
    case 'ETIMEDOUT':
      return timedOut(host, port, 0);
    default:
      return fail(`TCP connect to ${where}: ${code} (${message})`, `The connection failed in an unusual way; check the network between you and ${host}.`);
  }
}

/** A connection cut by a TCP reset: a filter in between, or a server refusing this client. */
export function resetCheck(host: string, port: number, when: string): Check {
  return fail(
    `port ${port}: the connection was reset (TCP RST) ${when}`,
    `Something cuts connections to ${host} port ${port}: a firewall or filter in between, or a server that refuses your address. Check the firewall and the server's connection limits.`,
  );
}
