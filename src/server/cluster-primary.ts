/**
 * The primary of `mailkeep serve --workers N` (node:cluster): prepares what
 * must happen once per data dir, forks N workers that each run the whole
 * server on the shared listeners (cluster's round-robin: the primary accepts
 * and hands each connection to a worker), relays their peer messages (change
 * bus, control channel), holds the connection limits and login counts of all
 * of them (cluster-limits.ts), restarts a worker that dies and drains them
 * all on stop. It runs no listener: a worker's admin listener asks it for the merged
 * metrics of all workers and the list of workers (primary-queries.ts).
 *
 * Once per data dir, before any worker starts: the store is opened (and
 * migrated) and kept open for the node's heartbeat (node-heartbeat.ts), the
 * self-signed TLS pair is generated if needed, and a stale LMTP socket file
 * is cleared. The ACME lock (acme/manager.ts) makes
 * one worker the ACME manager.
 *
 * Invariants: a crashed worker is restarted after a backoff that doubles
 * with each crash in a row (MIN_RESTART_MS..MAX_RESTART_MS, reset after
 * STABLE_MS of life), so a crash loop does not spin; nothing is restarted
 * while stopping; stop waits for every worker's own graceful shutdown, then
 * kills what is left after the grace period.
 */
import cluster, { type Worker } from 'node:cluster';
import { chmod, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { SERVER_STARTED_ENV, WORKER_SLOT_ENV } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { isPeerEnvelope } from '../events/peer-link.js';
import { Certificates } from '../net/certificates.js';
import { clearStale } from '../net/unix-listener.js';
import { type OpenedStore, openStore } from '../store/open.js';
import { metricsText } from '../metrics/cluster-metrics.js';
import { isLimitsRequest, PrimaryLimits } from './cluster-limits.js';
import type { PrimaryOrder, WorkerReport } from './cluster-worker.js';
import { answer, isAsk, type PrimaryAnswers } from './primary-queries.js';
import { nodeName, startHeartbeat } from './node-heartbeat.js';
import { configuredStore } from './store-options.js';

const MIN_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;
/** A worker that lived this long before dying starts its slot's backoff afresh. */
const STABLE_MS = 30_000;
/** How long stop waits for workers to drain before killing them (the workers' own grace is 5 s). */
const STOP_GRACE_MS = 10_000;
/** The unix socket's mode, as a single process sets it (net/unix-listener.ts). */
const SOCKET_MODE = 0o660;

/** A running cluster. */
export interface RunningCluster {
  /** Bound ports by listener name, as the first worker reported them. */
  ports: Record<string, number>;
  /** Tells every worker to drain (BYE, wait, close the store) and waits for them. */
  stop(): Promise<void>;
  /** Reloads the certificates in every worker (SIGHUP). */
  reload(): void;
}

interface Slot {
  worker: Worker;
  startedAt: number;
  /** Crashes in a row (reset once a worker lives STABLE_MS). */
  crashes: number;
  restartTimer: NodeJS.Timeout | null;
}

/** A worker's start-up failure, carrying the line it reported. */
export class WorkerStartError extends Error {
  override name = 'WorkerStartError';
}

/** Prepares the data dir, forks `config.server.workers` workers and resolves once all serve. */
export async function startCluster(config: Config, log: Logger): Promise<RunningCluster> {
  const count = config.server.workers;
  // What every worker, restarted or not, reports as the server's start (the dashboard's "up since").
  const serverStartedAt = Date.now();
  const store = await prepareOnce(config, log);
  // The node's entry in the live nodes' table, for all its workers (node-heartbeat.ts); the store stays open for it.
  const heartbeat = await startHeartbeat(store, nodeName(false), count, log).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const slots = new Map<number, Slot>();
  let stopping = false;
  let ports: Record<string, number> = {};
  // Connection limits and login counts for every worker at once (cluster-limits.ts).
  const limits = new PrimaryLimits(config);

  const send = (worker: Worker, message: unknown): void => {
    if (worker.isConnected()) worker.send(message as PrimaryOrder);
  };

  const relay = (from: number, raw: unknown): void => {
    if (!isPeerEnvelope(raw)) return;
    const to = raw.message.kind === 'control' ? raw.message.to : undefined;
    for (const [slot, s] of slots) {
      if (slot === from || (to !== undefined && slot !== to)) continue;
      send(s.worker, raw);
    }
  };

  // What the workers' admin listeners ask (the primary itself runs no listener): merged metrics, the workers.
  const answers: PrimaryAnswers = {
    metrics: metricsText,
    workers: () =>
      [...slots].map(([slot, s]) => ({
        slot,
        pid: s.worker.process.pid ?? 0,
        startedAt: new Date(s.startedAt).toISOString(),
        uptimeSeconds: Math.floor((Date.now() - s.startedAt) / 1000),
        crashes: s.crashes,
      })),
  };

  const fork = (slot: number, crashes: number): Worker => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot), [SERVER_STARTED_ENV]: String(serverStartedAt) });
    slots.set(slot, { worker, startedAt: Date.now(), crashes, restartTimer: null });
    limits.join(worker.id);
    worker.on('message', (raw: unknown) => {
      if (isLimitsRequest(raw)) void limits.handle(worker.id, raw).then((reply) => reply && send(worker, reply));
      else if (isAsk(raw)) void answer(raw, answers).then((a) => send(worker, a));
      else relay(slot, raw);
    });
    worker.on('exit', (code, signal) => {
      limits.leave(worker.id);
      const s = slots.get(slot);
      if (!s || s.worker !== worker || stopping) return;
      const lived = Date.now() - s.startedAt;
      const inARow = lived >= STABLE_MS ? 1 : s.crashes + 1;
      const delay = Math.min(MAX_RESTART_MS, MIN_RESTART_MS * 2 ** (inARow - 1));
      log.warn({ worker: slot, pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; restarting it');
      s.restartTimer = setTimeout(() => {
        if (!stopping) fork(slot, inARow);
      }, delay);
    });
    return worker;
  };

  // Start-up: every worker must report ready; the first failure stops the others and is the error.
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const slot = i + 1;
      const worker = fork(slot, 0);
      return new Promise<void>((resolve, reject) => {
        const onMessage = (raw: unknown): void => {
          const report = raw as WorkerReport;
          if (report?.mailkeep === 'ready') {
            ports = report.ports;
            done();
            resolve();
          } else if (report?.mailkeep === 'failed') {
            done();
            reject(new WorkerStartError(report.message));
          }
        };
        const onExit = (code: number | null): void => {
          done();
          reject(new WorkerStartError(`worker ${slot} exited with ${code} during start-up`));
        };
        const done = (): void => {
          worker.off('message', onMessage);
          worker.off('exit', onExit);
        };
        worker.on('message', onMessage);
        worker.on('exit', onExit);
      });
    }),
  ).catch(async (err: unknown) => {
    await stopAll();
    throw err;
  });
  if (config.lmtp.socket !== null) await chmod(config.lmtp.socket, SOCKET_MODE);
  log.info({ workers: count, ports, dataDir: config.dataDir }, 'mailkeep cluster started');

  async function stopAll(): Promise<void> {
    stopping = true;
    const exits: Promise<void>[] = [];
    for (const s of slots.values()) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      if (s.worker.isDead()) continue;
      exits.push(new Promise((resolve) => s.worker.once('exit', () => resolve())));
      send(s.worker, { mailkeep: 'stop' });
    }
    const grace = setTimeout(() => {
      for (const s of slots.values()) if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(exits);
    clearTimeout(grace);
    await heartbeat.stop();
    await store.close();
    if (config.lmtp.socket !== null) await unlink(config.lmtp.socket).catch(() => undefined);
  }

  let stopped: Promise<void> | null = null;
  return {
    ports,
    stop() {
      stopped ??= stopAll().then(() => log.info('mailkeep stopped'));
      return stopped;
    },
    reload() {
      for (const s of slots.values()) send(s.worker, { mailkeep: 'reload' });
    },
  };
}

/** What must happen once per data dir, before workers race for it; returns the store, opened and migrated. */
async function prepareOnce(config: Config, log: Logger): Promise<OpenedStore> {
  // Migrations run here, in one process; the workers then open a current schema.
  const store = await openStore(configuredStore(config, (message) => log.warn({ dataDir: config.dataDir }, message)));
  try {
    // Generates the self-signed pair when none is configured, so the workers all load the same one.
    (await Certificates.load(config, log)).close();
    if (config.lmtp.socket !== null) await clearStale(config.lmtp.socket);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
