/**
 * What the tests of `mailkeep serve --workers N` share: an IMAP connection to
 * a chosen worker slot (connections go round-robin; a connection's slot is
 * read from the ID response's `x-worker`), and the pids the workers logged.
 */
import { RawClient } from './raw-client.js';
import type { ChildServer } from './server.js';

/** Connections tried to reach one chosen worker (round-robin makes a few enough). */
const MAX_TRIES = 40;

/** An IMAP connection (implicit TLS, not logged in) to the given worker slot. */
export async function imapOnWorker(port: number, worker: number): Promise<RawClient> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const { client } = await RawClient.connect(port, { tls: true });
    const id = await client.command('i', 'ID NIL');
    if (/"x-worker" "(\d+)"/.exec(id.lines.join('\n'))?.[1] === String(worker)) return client;
    await client.command('o', 'LOGOUT');
    client.close();
  }
  throw new Error(`no IMAP connection reached worker ${worker} in ${MAX_TRIES} tries`);
}

/** The pid each worker slot logged when it started, the latest per slot. */
export function workerPids(server: ChildServer): Map<number, number> {
  const pids = new Map<number, number>();
  for (const line of server.output().split('\n')) {
    if (!line.includes('"mailkeep started"')) continue;
    const entry = JSON.parse(line) as { worker?: number; pid: number };
    if (entry.worker !== undefined) pids.set(entry.worker, entry.pid);
  }
  return pids;
}
