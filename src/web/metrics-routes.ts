/**
 * GET /metrics: the Prometheus text exposition. Meant for the admin listener
 * only (loopback by default): the counters describe the whole server.
 */
import type { FastifyInstance } from 'fastify';
import { metricsText } from '../metrics/cluster-metrics.js';

/** Adds /metrics to an app. */
export function registerMetricsRoutes(app: FastifyInstance): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await metricsText();
    return reply.type(contentType).header('cache-control', 'no-store').send(text);
  });
}
