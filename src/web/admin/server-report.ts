/** The body of GET /api/v1/server, less the store's size and the live nodes (which the route adds). */
import type { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { packageVersion } from '../../config/version.js';
import { certificateStatus } from '../../net/certificate-status.js';
import type { serverSchema } from './api-schemas.js';

/** What the report reads from the running server. */
export interface ServerReportSource {
  config: Config;
  /** When the server started (ms since the epoch). */
  startedAt: number;
  /** Bound ports by listener name, once every listener is up. */
  ports(): Record<string, number>;
  /** With `serve --workers N`: every worker, as the primary knows them, and this worker's slot. */
  cluster?: { self: number; workers(): Promise<WorkerProcess[]> };
}

/** One worker of a cluster. */
export interface WorkerProcess {
  slot: number;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  crashes: number;
}

/** What GET /api/v1/server (its schema, less the storage and nodes the route adds) and the web admin's dashboard show. */
export type ServerReport = Omit<z.input<typeof serverSchema>, 'storage' | 'nodes'>;

/** Builds the report now. */
export async function serverReport(src: ServerReportSource): Promise<ServerReport> {
  const { config } = src;
  return {
    version: packageVersion(),
    node: process.version,
    hostname: config.hostname,
    startedAt: new Date(src.startedAt).toISOString(),
    uptimeSeconds: Math.floor((Date.now() - src.startedAt) / 1000),
    listeners: Object.entries(src.ports()).map(([name, port]) => ({
      name,
      port,
      host: name === 'admin' ? config.adminHost : name.startsWith('lmtp') ? config.lmtpHost : config.host,
    })),
    certificates: await certificateStatus(config),
    store: { kind: config.store.url === null ? 'sqlite' : 'postgresql', dataDir: config.dataDir },
    processes: [{ pid: process.pid, role: src.cluster ? 'worker' : 'single', memoryRss: process.memoryUsage.rss() }],
    // The request reached one worker (the one above); the primary lists them all.
    workers: src.cluster ? { self: src.cluster.self, list: await src.cluster.workers() } : null,
  };
}
