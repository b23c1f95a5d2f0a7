/** The body of GET /api/v1/server, less the store's size (which the route adds). */
import type { Config } from '../../config/schema.js';
import { packageVersion } from '../../config/version.js';
import { certificateStatus } from '../../net/certificate-status.js';

/** What the report reads from the running server. */
export interface ServerReportSource {
  config: Config;
  /** When the server started (ms since the epoch). */
  startedAt: number;
  /** Bound ports by listener name, once every listener is up. */
  ports(): Record<string, number>;
}

/** What GET /api/v1/server and the web admin's dashboard show. */
export type ServerReport = Awaited<ReturnType<typeof serverReport>>;

/** Builds the report now. */
export async function serverReport(src: ServerReportSource) {
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
    // One process serves everything until cluster mode adds workers; each would report itself here.
    processes: [{ pid: process.pid, role: 'single', memoryRss: process.memoryUsage.rss() }],
  };
}
