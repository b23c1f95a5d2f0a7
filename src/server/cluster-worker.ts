/**
 * One worker of `mailkeep serve --workers N` (node:cluster): runs the whole
 * server on the shared listeners and store, joined to its siblings through
 * the primary (cluster-primary.ts) for the change bus relay, the control
 * channel and the limits it holds for all workers (cluster-limits.ts), and
 * obeys the primary's stop and reload.
 *
 * Invariants: a worker whose primary is gone (its IPC channel closed) stops
 * gracefully rather than serve on alone; stop is idempotent, whoever asks
 * (the primary, a signal to the whole process group, a lost channel).
 */
import type { Logger } from 'pino';
import { workerSlot } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { isPeerEnvelope, type PeerLink, type PeerMessage } from '../events/peer-link.js';
import { joinClusterMetrics } from '../metrics/cluster-metrics.js';
import { WorkerLimits } from './cluster-limits.js';
import { PrimaryLink } from './primary-queries.js';
import { startServer, type RunningServer } from './server.js';

/** What the primary tells a worker. */
export type PrimaryOrder = { mailkeep: 'stop' } | { mailkeep: 'reload' };
/** What a worker tells the primary about itself. */
export type WorkerReport = { mailkeep: 'ready'; ports: Record<string, number> } | { mailkeep: 'failed'; message: string };

function isOrder(value: unknown): value is PrimaryOrder {
  const kind = (value as { mailkeep?: unknown } | null)?.mailkeep;
  return kind === 'stop' || kind === 'reload';
}

/** This process's link to its siblings over the cluster IPC channel. */
function ipcLink(slot: number, workers: number): PeerLink {
  const handlers: Array<(m: PeerMessage) => void> = [];
  process.on('message', (raw) => {
    if (!isPeerEnvelope(raw)) return;
    for (const handler of handlers) handler(raw.message);
  });
  return {
    self: slot,
    workers,
    send(message) {
      // A worker whose channel closed is stopping anyway: the message is dropped (at most once).
      if (process.connected) process.send?.({ mailkeep: 'peer', message });
    },
    onMessage: (handler) => handlers.push(handler),
  };
}

/**
 * Runs this process as a worker until told to stop; `describeError` turns a start-up failure into the
 * one line the primary prints (listen errors name the setting to change).
 */
export async function runWorker(config: Config, log: Logger, describeError: (err: unknown) => string): Promise<void> {
  const slot = workerSlot() ?? 0;
  const wlog = log.child({ worker: slot });
  const report = (r: WorkerReport): void => void process.send?.(r);
  // Before the server starts: a restarted worker answers the primary's next metrics aggregation at once.
  if (config.admin.metrics) joinClusterMetrics(slot);
  let server: RunningServer;
  try {
    server = await startServer(config, wlog, {
      peers: ipcLink(slot, config.server.workers),
      primary: new PrimaryLink(),
      limits: new WorkerLimits(config),
    });
  } catch (err) {
    wlog.fatal({ err }, 'worker start-up failed');
    report({ mailkeep: 'failed', message: describeError(err) });
    process.exit(1);
  }
  const running = server;
  const stop = (why: string): void => {
    wlog.info({ why }, 'worker stopping');
    running.stop('shutting down').then(
      () => process.exit(0),
      (err: unknown) => {
        wlog.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('message', (raw) => {
    if (!isOrder(raw)) return;
    if (raw.mailkeep === 'stop') stop('primary');
    else void running.certificates.reload('SIGHUP');
  });
  // A terminal's Ctrl-C reaches the whole process group: drain like the primary asks, not die mid-command.
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => undefined);
  process.on('disconnect', () => stop('primary gone'));
  report({ mailkeep: 'ready', ports: running.ports });
}
