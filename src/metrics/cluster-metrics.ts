/**
 * Metrics across workers. With node:cluster, each worker keeps its own
 * registry (metrics.ts) and labels every series with its worker id; the
 * primary answers a scrape by asking every worker over the cluster IPC
 * channel (prom-client's AggregatorRegistry) and merging the answers — the
 * primary runs no listener, so a scrape reaches a worker's admin listener,
 * which asks the primary (server/primary-queries.ts):
 * counters and histograms keep one series per worker (sum them in PromQL),
 * so per-worker process metrics stay apart. A process without workers
 * answers from its own registry.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import { registry } from './metrics.js';

/** The Prometheus text exposition and its content type. */
export interface MetricsText {
  contentType: string;
  text: string;
}

let aggregator: AggregatorRegistry<PrometheusContentType> | null = null;

/**
 * Called once in a cluster worker: its series carry `worker="<id>"`, and it
 * answers the primary's metric requests from mailkeep's registry (not
 * prom-client's global one).
 */
export function joinClusterMetrics(workerId: number): void {
  registry.setDefaultLabels({ worker: String(workerId) });
  AggregatorRegistry.setRegistries([registry]);
  // The listener that answers the primary is installed when an AggregatorRegistry is first built.
  aggregator ??= new AggregatorRegistry();
}

/** This process's metrics, or, in a cluster primary with workers, every worker's merged. */
export async function metricsText(): Promise<MetricsText> {
  if (cluster.isPrimary && Object.keys(cluster.workers ?? {}).length > 0) {
    aggregator ??= new AggregatorRegistry();
    return { contentType: aggregator.contentType, text: await aggregator.clusterMetrics() };
  }
  return { contentType: registry.contentType, text: await registry.metrics() };
}
