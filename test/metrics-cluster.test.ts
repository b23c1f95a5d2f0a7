/**
 * Metrics across cluster workers (metrics/cluster-metrics.ts): the primary's
 * scrape asks every worker over the cluster channel and merges the answers,
 * one series per worker (the `worker` label), so per-worker counts and
 * process metrics stay apart and their sum is the whole.
 */
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { metricsText } from '../src/metrics/cluster-metrics.js';
import { parseScrape, sampleSum } from './helpers/prometheus.js';

const workers: Worker[] = [];
after(() => {
  for (const w of workers) w.kill();
});

/** Waits for the first message of `worker` that `accept` takes. */
function messageFrom(worker: Worker, accept: (m: Record<string, unknown>) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker did not answer in 20 s')), 20_000);
    const onMessage = (m: Record<string, unknown>): void => {
      if (!accept(m)) return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
  });
}

test('the primary merges every worker: one series per worker, process metrics per worker', async () => {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./helpers/metrics-worker.js', import.meta.url)), silent: true });
  const counts = [3, 5];
  for (let i = 0; i < counts.length; i++) {
    const w = cluster.fork();
    workers.push(w);
    await messageFrom(w, (m) => m.ready === true);
  }
  await Promise.all(
    workers.map((w, i) => {
      const done = messageFrom(w, (m) => m.counted === counts[i]);
      w.send({ logins: counts[i] });
      return done;
    }),
  );
  const { text, contentType } = await metricsText();
  assert.match(contentType, /^text\/plain/);
  const scrape = parseScrape(text);
  const match = { protocol: 'imap', mechanism: 'password', outcome: 'succeeded' };
  for (let i = 0; i < workers.length; i++) {
    assert.equal(sampleSum(scrape, 'mailkeep_logins_total', { ...match, worker: String(workers[i]!.id) }), counts[i]);
  }
  assert.equal(sampleSum(scrape, 'mailkeep_logins_total', match), 8);
  const memory = scrape.samples.filter((s) => s.name === 'process_resident_memory_bytes');
  assert.deepEqual(memory.map((s) => s.labels.worker).sort(), workers.map((w) => String(w.id)).sort());
  await Promise.all(
    workers.map(async (w) => {
      w.kill();
      await once(w, 'exit');
    }),
  );
  workers.length = 0;
});
