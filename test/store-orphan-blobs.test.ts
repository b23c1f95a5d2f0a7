/**
 * The SQLite store's sweep of blob files no row references (bytes staged by an
 * APPEND, delivery or CATENATE that never committed): only files older than a
 * day go, referenced and freshly re-placed ones stay, and the store still reads
 * every message afterwards.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { accountWithInbox, deliver, fakeAnalysis, message, withStore } from './store-fixtures.js';

const DAY = 24 * 60 * 60 * 1000;

test('orphaned blob files older than a day are swept; referenced and recent ones stay', async () => {
  await withStore(async (store, dir) => {
    const { accountId, inbox } = await accountWithInbox(store);
    const kept = message('kept');
    const uid = await deliver(store, accountId, inbox, kept);
    const orphan = await store.blobs.put(message('never committed'));
    const recent = await store.blobs.put(message('staged just now'));
    const path = (id: string): string => join(dir, 'blobs', id.slice(0, 2), id);
    const twoDaysAgo = new Date(Date.now() - 2 * DAY);
    await utimes(path(orphan.blobId), twoDaysAgo, twoDaysAgo);
    const [rec] = await store.getRecords(accountId, inbox, [uid]);
    assert.ok(rec);
    // The referenced file is old too: only the missing row may decide.
    await utimes(path(rec.blobId), twoDaysAgo, twoDaysAgo);

    assert.equal(await store.sweepOrphanBlobs(), 1);
    assert.equal(existsSync(path(orphan.blobId)), false);
    assert.equal(existsSync(path(recent.blobId)), true);
    assert.deepEqual(await store.blobs.read(rec.blobId), kept);
    assert.equal(await store.sweepOrphanBlobs(), 0);
  });
});

test('placing bytes again refreshes an old orphan, so a commit that follows finds it', async () => {
  await withStore(async (store, dir) => {
    const { accountId, inbox } = await accountWithInbox(store);
    const bytes = message('staged twice');
    const first = await store.blobs.put(bytes);
    const file = join(dir, 'blobs', first.blobId.slice(0, 2), first.blobId);
    const twoDaysAgo = new Date(Date.now() - 2 * DAY);
    await utimes(file, twoDaysAgo, twoDaysAgo);
    // A new APPEND of the same bytes stages them again, then the sweep runs before its commit.
    const again = await store.blobs.put(bytes);
    assert.equal(await store.sweepOrphanBlobs(), 0);
    const { uids } = await store.appendMessages(accountId, inbox, [{ blob: again, analysis: fakeAnalysis(bytes), flags: [], internalDate: new Date() }]);
    const [rec] = await store.getRecords(accountId, inbox, uids);
    assert.deepEqual(await store.blobs.read(rec!.blobId), bytes);
    // A day later the message still holds it.
    assert.equal(await store.sweepOrphanBlobs(Date.now() + 2 * DAY), 0);
    assert.equal(existsSync(file), true);
  });
});
