/**
 * GET /metrics: the Prometheus text exposition. Meant for the admin listener
 * only (loopback by default): the counters describe the whole server — with
 * several workers, all of them (the source asks the cluster's primary). When
 * the merge fails (a worker did not answer in time) the scrape gets 503, so
 * Prometheus records a failed scrape rather than counters that seem to drop.
 */
import type { FastifyInstance } from 'fastify';
import { type MetricsText, metricsText } from '../metrics/cluster-metrics.js';

/** Adds /metrics to an app; `source` gives the text (default: this process's own). */
export function registerMetricsRoutes(app: FastifyInstance, source: () => Promise<MetricsText> = metricsText): void {
  app.get('/metrics', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    let metrics: MetricsText;
    try {
      metrics = await source();
    } catch (err) {
      request.log.warn({ err }, 'metrics of every worker not available');
      return reply.code(503).type('text/plain').send('metrics of every worker not available; try again\n');
    }
    return reply.type(metrics.contentType).send(metrics.text);
  });
}
