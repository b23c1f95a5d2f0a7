/**
 * The live nodes' table (server/node-heartbeat.ts), on both backends: a beat
 * registers a node or refreshes its heartbeat, a node silent for
 * STALE_AFTER_MS is no longer live and the next beat of any node prunes it,
 * a graceful stop removes the node at once, and the worker slots expected of
 * a node follow its worker count.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { HEARTBEAT_MS, STALE_AFTER_MS, slotsOf, staleBefore, startHeartbeat } from '../src/server/node-heartbeat.js';
import { backends } from './store-fixtures.js';

test('a single process is slot 0; the workers of a cluster are slots 1..N', () => {
  assert.deepEqual(slotsOf(1), [0]);
  assert.deepEqual(slotsOf(3), [1, 2, 3]);
  assert.equal(STALE_AFTER_MS, 3 * HEARTBEAT_MS);
});

for (const backend of backends) {
  describe(`${backend.name} store: live nodes`, () => {
    test('beats register and refresh, silence expires and is pruned, a stop removes', () =>
      backend.withStore(async (store) => {
        const now = Date.now();
        const old = now - STALE_AFTER_MS - 1000;
        await store.beatNode({ name: 'h:1', workers: 2, startedAt: new Date(old), heartbeatAt: new Date(old) }, new Date(old - STALE_AFTER_MS));
        assert.deepEqual(
          (await store.liveNodes(new Date(old))).map((n) => [n.name, n.workers, n.startedAt.getTime(), n.heartbeatAt.getTime()]),
          [['h:1', 2, old, old]],
        );
        // h:1 stopped beating: no longer live, and the next beat of another node prunes its row.
        assert.deepEqual(await store.liveNodes(staleBefore(now)), []);
        const log = pino({ level: 'silent' });
        const heartbeat = await startHeartbeat(store, 'h:2', 1, log);
        assert.deepEqual(
          (await store.liveNodes(new Date(0))).map((n) => [n.name, n.workers]),
          [['h:2', 1]],
        );
        // A second beat of the same node refreshes its row.
        const later = new Date(Date.now() + 1000);
        const [registered] = await store.liveNodes(new Date(0));
        await store.beatNode({ ...registered!, heartbeatAt: later }, staleBefore());
        assert.equal((await store.liveNodes(staleBefore()))[0]?.heartbeatAt.getTime(), later.getTime());
        await heartbeat.stop();
        assert.deepEqual(await store.liveNodes(new Date(0)), []);
        await store.removeNode('nosuchnode');
      }));
  });
}
