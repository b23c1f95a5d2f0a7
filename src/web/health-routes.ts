/**
 * Health checks for load balancers and orchestrators: /healthz (the process
 * answers HTTP) and /readyz (it can serve mail: see server/readiness.ts).
 * On the admin listener /readyz explains a 503 in JSON; on the public
 * listeners the status code is all a client learns.
 */
import type { FastifyInstance } from 'fastify';

/** Whether the server can take traffic, and why not. */
export interface Readiness {
  ready: boolean;
  /** Short reasons, empty when ready. */
  reasons: string[];
}

/** What the routes need: the readiness check, and whether bodies may explain it. */
export interface HealthOptions {
  readiness(): Promise<Readiness>;
  /** The admin listener: 503 answers carry the reasons. */
  detail: boolean;
}

/** Adds /healthz and /readyz to an app. */
export function registerHealthRoutes(app: FastifyInstance, options: HealthOptions): void {
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').type('text/plain').send('ok\n'));
  app.get('/readyz', async (_request, reply) => {
    const state = await options.readiness();
    reply.code(state.ready ? 200 : 503).header('cache-control', 'no-store');
    if (options.detail) return reply.send(state);
    return reply.type('text/plain').send(state.ready ? 'ok\n' : 'not ready\n');
  });
}
