/**
 * A node's entry in the store's table of live nodes (issue 23): each
 * `mailkeep serve` (the primary under --workers N, else the single process)
 * registers at start, beats every HEARTBEAT_MS and removes itself at graceful
 * shutdown. A session listing waits for exactly the live nodes' workers
 * instead of a fixed window (server-control.ts).
 *
 * Invariants: a beat is one write through the store's normal write path, at
 * most one in flight (a slow store skips beats, never piles them up); a node
 * whose heartbeat is older than STALE_AFTER_MS (it was killed, or its store
 * writes stall) counts as gone and each beat prunes it. Clocks of nodes are
 * assumed to agree within a few seconds.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { LiveNode } from '../store/admin-types.js';
import type { MailStore } from '../store/types.js';

/** How often a node refreshes its heartbeat. */
export const HEARTBEAT_MS = 5000;
/** A node silent this long (three missed beats) is gone. */
export const STALE_AFTER_MS = 3 * HEARTBEAT_MS;

/** This node's name: host and the pid of its serve process (a worker's primary is its parent). */
export function nodeName(inCluster: boolean): string {
  return `${hostname()}:${inCluster ? process.ppid : process.pid}`;
}

/** The worker slots of a node with `workers` processes: 0 for a single process, else 1..N. */
export function slotsOf(workers: number): number[] {
  return workers <= 1 ? [0] : Array.from({ length: workers }, (_, i) => i + 1);
}

/** The oldest heartbeat that still counts as live. */
export function staleBefore(now = Date.now()): Date {
  return new Date(now - STALE_AFTER_MS);
}

/** A registered node that beats until stopped. */
export interface NodeHeartbeat {
  /** Stops beating and removes the node from the table. */
  stop(): Promise<void>;
}

/** Registers this node (the first beat, awaited: a store that cannot take it fails the start) and beats in the background. */
export async function startHeartbeat(store: MailStore, name: string, workers: number, log: Logger): Promise<NodeHeartbeat> {
  const startedAt = new Date();
  const beat = (): Promise<void> => {
    const now = Date.now();
    const node: LiveNode = { name, workers, startedAt, heartbeatAt: new Date(now) };
    return store.beatNode(node, staleBefore(now));
  };
  await beat();
  let inFlight: Promise<void> | null = null;
  const timer = setInterval(() => {
    inFlight ??= beat()
      .catch((err: unknown) => log.warn({ err, node: name }, 'node heartbeat failed'))
      .finally(() => {
        inFlight = null;
      });
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      await store.removeNode(name).catch((err: unknown) => log.warn({ err, node: name }, 'node not removed from the live nodes'));
    },
  };
}
