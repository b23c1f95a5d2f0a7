/**
 * The SQLite store's write path (issue 21): every write goes through one
 * queue (store/sqlite/write-queue.ts) — writes of different kinds made in one
 * turn share a commit, a failing one undoes only itself — and another
 * connection's write lock is waited for on a timer, never inside SQLite, up
 * to the store's bound and then StoreError UNAVAILABLE. WAL checkpoints can
 * run in a worker thread (wal-checkpointer.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, mock, test } from 'node:test';
import Database from 'better-sqlite3';
import type { MailboxId, Uid } from '../src/ids.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { WriteQueue } from '../src/store/sqlite/write-queue.js';
import { StoreError } from '../src/store/types.js';
import { accountWithInbox, deliver, fakeAnalysis, message, tempDir, waitFor, withStore } from './store-fixtures.js';

/** Another connection to the file holding its write lock until the returned function is called. */
function holdLock(path: string): () => void {
  const other = new Database(path);
  other.exec('BEGIN IMMEDIATE');
  return () => {
    other.exec('COMMIT');
    other.close();
  };
}

/** The event loop's longest stall while `work` runs, in ms (the 5 ms sampling interval not counted). */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  try {
    const result = await work();
    return { result, stallMs: h.max / 1e6 - 5 };
  } finally {
    h.disable();
  }
}

describe('SQLite store: the write queue', () => {
  test('writes of different kinds in one turn share a commit; a failing one undoes only itself', async () => {
    await withStore(async (store) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const uid = await deliver(store, accountId, inbox, message('one'));
      const bytes = message('two');
      const blob = await store.blobs.put(bytes);
      const outcomes = await Promise.allSettled([
        store.storeFlags(accountId, inbox, [uid], { op: 'add', flags: ['\\Flagged'] }),
        store.createMailbox(accountId, 'Projects'),
        store.appendMessages(accountId, 999 as MailboxId, [{ blob, analysis: fakeAnalysis(bytes), flags: [], internalDate: new Date() }]),
        store.appendMessages(accountId, inbox, [{ blob, analysis: fakeAnalysis(bytes), flags: ['\\Seen'], internalDate: new Date() }]),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
      );
      const failed = outcomes[2] as PromiseRejectedResult;
      assert.ok(failed.reason instanceof StoreError && failed.reason.code === 'NONEXISTENT');
      const summaries = await store.listSummaries(accountId, inbox);
      assert.deepEqual(
        summaries.map((s) => [s.uid, s.flags]),
        [
          [uid, ['\\Flagged']],
          [(uid + 1) as Uid, ['\\Seen']],
        ],
      );
      assert.ok(await store.getMailbox(accountId, 'Projects'));
    });
  });

  test("another connection's lock is waited for without stalling the event loop; the write lands after it", async () => {
    await withStore(async (store, dataDir) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const uid = await deliver(store, accountId, inbox, message('one'));
      const release = holdLock(join(dataDir, 'mailkeep.sqlite3'));
      let released = false;
      setTimeout(() => {
        released = true;
        release();
      }, 2000);
      const r = await longestStall(async () => {
        const change = await store.storeFlags(accountId, inbox, [uid], { op: 'add', flags: ['\\Answered'] });
        // The write could only commit once the lock was let go.
        assert.ok(released, 'committed while another connection held the write lock');
        return change;
      });
      assert.equal(r.result.changed.length, 1);
      // Waiting inside SQLite would stall the loop for the whole 2 s; generous for a loaded machine.
      assert.ok(r.stallMs < 1000, `the event loop stalled ${r.stallMs.toFixed(0)} ms`);
      const [s] = await store.listSummaries(accountId, inbox);
      assert.deepEqual(s?.flags, ['\\Answered']);
    });
  });

  test("a sibling's relayed commit (lockReleased) retries a waiting write at once, without its timer", async () => {
    const { dir, cleanup } = await tempDir();
    const db = new Database(join(dir, 'q.sqlite3'));
    try {
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (v INTEGER)');
      const queue = new WriteQueue(db, { maxWaitMs: 60_000, readBusyTimeoutMs: 100 });
      const release = holdLock(join(dir, 'q.sqlite3'));
      // The backoff timer never fires: only lockReleased() can make the write go through.
      mock.timers.enable({ apis: ['setTimeout'] });
      try {
        let done = false;
        const written = queue
          .run(() => db.prepare('INSERT INTO t VALUES (1)').run())
          .then(() => {
            done = true;
          });
        for (let i = 0; i < 5; i++) await nextTurn();
        assert.equal(done, false, 'committed while another connection held the write lock');
        queue.lockReleased(); // a relay message while the lock is still held: tries, waits again
        await nextTurn();
        release();
        queue.lockReleased();
        await written;
        assert.deepEqual(db.prepare('SELECT v FROM t').all(), [{ v: 1 }]);
      } finally {
        mock.timers.reset();
      }
    } finally {
      db.close();
      await cleanup();
    }
  });

  test('beyond the bound: UNAVAILABLE, nothing written, and the next write works', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const path = join(dir, 'mailkeep.sqlite3');
      const store = await openSqliteStore({ path, blobDir: join(dir, 'blobs'), busyTimeoutMs: 2000 });
      try {
        const { accountId, inbox } = await accountWithInbox(store);
        const uid = await deliver(store, accountId, inbox, message('one'));
        const release = holdLock(path);
        const started = Date.now();
        const r = await longestStall(() =>
          store.storeFlags(accountId, inbox, [uid], { op: 'add', flags: ['\\Deleted'] }).then(
            () => null,
            (e: unknown) => e,
          ),
        );
        const waited = Date.now() - started;
        release();
        assert.ok(r.result instanceof StoreError && r.result.code === 'UNAVAILABLE', String(r.result));
        assert.ok(waited >= 1900 && waited < 10_000, `gave up after ${waited} ms`);
        // Waiting inside SQLite would stall the loop for the whole 2 s bound.
        assert.ok(r.stallMs < 1000, `the event loop stalled ${r.stallMs.toFixed(0)} ms`);
        assert.deepEqual((await store.listSummaries(accountId, inbox))[0]?.flags, []);
        await store.storeFlags(accountId, inbox, [uid], { op: 'add', flags: ['\\Seen'] });
        assert.deepEqual((await store.listSummaries(accountId, inbox))[0]?.flags, ['\\Seen']);
      } finally {
        await store.close();
      }
    } finally {
      await cleanup();
    }
  });

  test('close() lets queued writes commit first', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const path = join(dir, 'mailkeep.sqlite3');
      let store = await openSqliteStore({ path, blobDir: join(dir, 'blobs') });
      const { accountId, inbox } = await accountWithInbox(store);
      const uid = await deliver(store, accountId, inbox, message('one'));
      const pending = store.storeFlags(accountId, inbox, [uid], { op: 'add', flags: ['\\Flagged'] });
      await store.close();
      assert.equal((await pending).changed.length, 1);
      store = await openSqliteStore({ path, blobDir: join(dir, 'blobs') });
      try {
        assert.deepEqual((await store.listSummaries(accountId, inbox))[0]?.flags, ['\\Flagged']);
      } finally {
        await store.close();
      }
    } finally {
      await cleanup();
    }
  });
});

describe('SQLite store: WAL checkpoints in a worker thread', () => {
  test('the thread copies committed frames into the database file; the data survives a reopen', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const path = join(dir, 'mailkeep.sqlite3');
      let store = await openSqliteStore({ path, blobDir: join(dir, 'blobs'), checkpointThread: true });
      let accountId;
      let inbox;
      try {
        ({ accountId, inbox } = await accountWithInbox(store));
        for (let i = 0; i < 200; i++) await deliver(store, accountId, inbox, message(`m${i}`, 'x'.repeat(2000)));
        await waitFor(() => (store.checkpointStats()?.lastCheckpointed ?? 0) > 0, 15_000);
        const stats = store.checkpointStats()!;
        assert.equal(stats.fallback, false);
        assert.ok(stats.runs > 0);
        // Nothing left for another checkpoint to copy, bar frames committed since.
        const other = new Database(path);
        try {
          const row = other.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
          assert.equal(row[0]?.checkpointed, row[0]?.log);
        } finally {
          other.close();
        }
      } finally {
        await store.close();
      }
      assert.equal(store.checkpointStats()?.fallback, false);
      store = await openSqliteStore({ path, blobDir: join(dir, 'blobs') });
      try {
        assert.equal((await store.listSummaries(accountId, inbox)).length, 200);
        assert.equal(store.checkpointStats(), null);
      } finally {
        await store.close();
      }
    } finally {
      await cleanup();
    }
  });
});
