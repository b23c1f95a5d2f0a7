/** A cluster worker for metrics-cluster.test.ts: joins the aggregation, counts logins as told, and says when done. */
import cluster from 'node:cluster';
import { joinClusterMetrics } from '../../src/metrics/cluster-metrics.js';
import { countLogin, enableProcessMetrics } from '../../src/metrics/metrics.js';

const worker = cluster.worker!;
// As a serving worker does (server/server.ts).
enableProcessMetrics();
joinClusterMetrics(worker.id);
process.on('message', (message: { logins?: number }) => {
  if (typeof message.logins !== 'number') return;
  for (let i = 0; i < message.logins; i++) countLogin('imap', 'password', 'succeeded');
  process.send!({ counted: message.logins });
});
process.send!({ ready: true });
