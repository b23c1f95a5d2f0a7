/**
 * /api/v1/server and /api/v1/audit: what runs (version, uptime, listeners,
 * certificates as `mailkeep cert status --json` reports them, the store's
 * kind and size, the processes, the live nodes) and what administrators did.
 */
import type { AdminStore, LiveNode } from '../../store/admin-types.js';
import { ApiError, type AnyRoute, route } from './api-route.js';
import { auditPageSchema, serverSchema } from './api-schemas.js';
import { fromCursor, page, pageQuery } from './paging.js';
import type { ServerReport } from './server-report.js';

/** What the server routes use. */
export interface ServerRouteDeps {
  store: AdminStore;
  /** The server's report (server/server.ts assembles it: it alone knows the listeners and processes). */
  report(): Promise<ServerReport>;
  /** The live nodes (server/node-heartbeat.ts). */
  nodes(): Promise<LiveNode[]>;
}

/** The server and audit routes. */
export function serverRoutes(deps: ServerRouteDeps): AnyRoute[] {
  return [
    route({
      method: 'GET',
      path: '/server',
      tag: 'server',
      summary: 'Version, uptime, listeners, certificates, store kind and size, processes; the workers with several; the live nodes',
      response: serverSchema,
      handler: async () => ({
        ...(await deps.report()),
        storage: await deps.store.storageSize(),
        nodes: (await deps.nodes()).map((n) => ({
          name: n.name,
          workers: n.workers,
          started: n.startedAt.toISOString(),
          lastHeartbeat: n.heartbeatAt.toISOString(),
        })),
      }),
    }),
    route({
      method: 'GET',
      path: '/audit',
      tag: 'audit',
      summary: 'Administrative actions, newest first (paged): who, what, target, from where, when, outcome',
      query: pageQuery,
      response: auditPageSchema,
      handler: async ({ query }) => {
        const before = fromCursor(query.cursor);
        const beforeId = before === undefined ? null : Number(before);
        if (beforeId !== null && !Number.isSafeInteger(beforeId)) throw new ApiError(400, 'invalid', 'expected the `next` value of the previous page');
        const fetched = await deps.store.auditPage(beforeId, query.limit + 1);
        const { items, next } = page(fetched, query.limit, (e) => String(e.id));
        return { entries: items.map((e) => ({ ...e, at: e.at.toISOString() })), next };
      },
    }),
  ];
}
