/**
 * RFC 2180 §4.1: a message expunged by another session stays fetchable by a
 * session that has not been told yet. Its tombstone keeps the record and holds
 * the blob until releaseExpunged() ends the retention period.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { AccountId, MailboxId, Uid } from '../src/ids.js';
import { modseq, uid } from '../src/ids.js';
import { FsBlobStore } from '../src/store/blobs/fs-blob-store.js';
import { openStore } from '../src/store/open.js';
import { encodeAnalysis } from '../src/store/shared/analysis-codec.js';
import { migrate, MIGRATIONS } from '../src/store/sqlite/schema.js';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { MailStore } from '../src/store/types.js';
import { accountWithInbox, backends, deliver, fakeAnalysis, message, tempDir, waitFor } from './store-fixtures.js';

const HOUR = 60 * 60 * 1000;

/** The refcount column of a SQLite blob, read through a second connection; undefined once the GC removed the row. */
function refcount(dataDir: string, blobId: string): number | undefined {
  const db = new Database(join(dataDir, 'mailkeep.sqlite3'), { readonly: true });
  try {
    return db.prepare<[string], number>('SELECT refcount FROM blobs WHERE blob_id = ?').pluck().get(blobId);
  } finally {
    db.close();
  }
}

/** Delivers one message flagged \Deleted (plus extra flags) and expunges it; returns its record from before. */
async function deliverAndExpunge(store: MailStore, accountId: AccountId, box: MailboxId, bytes: Buffer, flags: string[] = []) {
  const u = await deliver(store, accountId, box, bytes, ['\\Deleted', ...flags]);
  const [before] = await store.getRecords(accountId, box, [u]);
  assert.ok(before);
  const res = await store.expunge(accountId, box, [u]);
  assert.deepEqual(res.expunged, [u]);
  return { before, expungeModseq: res.modseq };
}

for (const backend of backends) {
  describe(`${backend.name} store: expunged messages stay fetchable (RFC 2180 §4.1)`, () => {
    it('getRecords returns an expunged message as it was, with the expunge modseq; its bytes and analysis stay', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const bytes = message('gone but fetchable');
        const live = await deliver(store, accountId, inbox, message('stays'));
        const { before, expungeModseq } = await deliverAndExpunge(store, accountId, inbox, bytes, ['\\Seen', 'Work']);
        const later = await deliver(store, accountId, inbox, message('later'));

        const records = await store.getRecords(accountId, inbox, [later, before.uid, uid(99), live]);
        assert.deepEqual(
          records.map((r) => r.uid),
          [live, before.uid, later],
          'ascending, live and expunged mixed, missing skipped',
        );
        const [, gone] = records;
        assert.deepEqual(gone, { ...before, modseq: expungeModseq });
        assert.deepEqual(gone?.flags, ['\\Seen', '\\Deleted', 'Work']);
        assert.ok((await store.blobs.read(before.blobId)).equals(bytes));
        assert.deepEqual(await store.getAnalysis(before.blobId), fakeAnalysis(bytes));
      }));

    it('leaves counts, summaries, change replay and quota to live messages only', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const m = message('q');
        await store.setQuota(accountId, { storage: m.length, messages: 1 });
        const { before, expungeModseq } = await deliverAndExpunge(store, accountId, inbox, m);
        assert.deepEqual(await store.mailboxCounts(accountId, inbox), { messages: 0, unseen: 0, deleted: 0, size: 0, recent: 0, deletedSize: 0 });
        assert.deepEqual(await store.listSummaries(accountId, inbox), []);
        const changes = await store.changesSince(accountId, inbox, modseq(expungeModseq - 1));
        assert.deepEqual([changes.changed, changes.expunged], [[], [before.uid]]);
        // The tombstone counts against neither quota.
        const next = await deliver(store, accountId, inbox, m);
        assert.deepEqual(
          (await store.listSummaries(accountId, inbox)).map((s) => s.uid),
          [next],
        );
      }));

    it('never changes, copies or moves an expunged message', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const other = await store.createMailbox(accountId, 'other');
        const { before, expungeModseq } = await deliverAndExpunge(store, accountId, inbox, message('x'));
        const flags = await store.storeFlags(accountId, inbox, [before.uid], { op: 'add', flags: ['\\Flagged'] });
        assert.deepEqual([flags.changed, flags.modseq], [[], expungeModseq]);
        assert.deepEqual((await store.copyMessages(accountId, inbox, [before.uid], other.id)).sourceUids, []);
        assert.deepEqual((await store.moveMessages(accountId, inbox, [before.uid], other.id)).sourceUids, []);
        assert.deepEqual(await store.listSummaries(accountId, other.id), []);
        const [still] = await store.getRecords(accountId, inbox, [before.uid]);
        assert.deepEqual(still?.flags, before.flags);
      }));
  });

  describe(`${backend.name} store: releasing expunged messages`, () => {
    it('keeps the blob through the retention period, then releases the record and deletes the file', () =>
      backend.withStore(async (store, probe) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const { before, expungeModseq } = await deliverAndExpunge(store, accountId, inbox, message('short-lived'));
        assert.equal(await probe.refcount(before.blobId), 1, 'the tombstone holds the blob');
        assert.equal(await store.releaseExpunged(Date.now() + HOUR - 60_000), 0, 'within the default hour');
        assert.equal((await store.getRecords(accountId, inbox, [before.uid])).length, 1);
        assert.ok(await probe.blobExists(before.blobId));

        assert.equal(await store.releaseExpunged(Date.now() + HOUR + 1), 1);
        assert.deepEqual(await store.getRecords(accountId, inbox, [before.uid]), []);
        assert.ok(!(await probe.blobExists(before.blobId)), 'bytes deleted');
        assert.equal(await store.getAnalysis(before.blobId), null);
        assert.equal(await probe.refcount(before.blobId), undefined);
        // The tombstone row stays: VANISHED / change replay still needs (uid, modseq).
        assert.deepEqual((await store.changesSince(accountId, inbox, modseq(expungeModseq - 1))).expunged, [before.uid]);
        assert.equal(await store.releaseExpunged(Date.now() + HOUR + 1), 0, 'released once');
      }));

    it('MOVE leaves source tombstones that behave the same', () =>
      backend.withStore(async (store, probe) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const dest = await store.createMailbox(accountId, 'dest');
        const bytes = message('moved');
        const u = await deliver(store, accountId, inbox, bytes, ['\\Answered']);
        const [before] = await store.getRecords(accountId, inbox, [u]);
        assert.ok(before);
        const res = await store.moveMessages(accountId, inbox, [u], dest.id);
        const [fromSource] = await store.getRecords(accountId, inbox, [u]);
        assert.deepEqual(fromSource, { ...before, modseq: res.modseq });
        assert.equal(await probe.refcount(before.blobId), 2, 'the moved copy and the source tombstone');

        assert.equal(await store.releaseExpunged(Date.now() + HOUR + 1), 1);
        assert.deepEqual(await store.getRecords(accountId, inbox, [u]), []);
        assert.ok(await probe.blobExists(before.blobId), 'the moved copy still references it');
        assert.equal(await probe.refcount(before.blobId), 1);

        // Moved again (same mailbox), then expunged: two tombstones hold the blob until release.
        const again = await store.moveMessages(accountId, dest.id, res.destUids, dest.id);
        await store.storeFlags(accountId, dest.id, again.destUids, { op: 'add', flags: ['\\Deleted'] });
        await store.expunge(accountId, dest.id);
        assert.equal(await probe.refcount(before.blobId), 2);
        assert.equal((await store.getRecords(accountId, dest.id, [...res.destUids, ...again.destUids])).length, 2);
        assert.ok((await store.blobs.read(before.blobId)).equals(bytes));
        assert.equal(await store.releaseExpunged(Date.now() + HOUR + 1), 2);
        assert.ok(!(await probe.blobExists(before.blobId)));
      }));

    it('a blob shared by a live copy and a tombstone survives release', () =>
      backend.withStore(async (store, probe) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const bob = await accountWithInbox(store, 'bob');
        const bytes = message('shared');
        const { before } = await deliverAndExpunge(store, accountId, inbox, bytes);
        const kept = await deliver(store, bob.accountId, bob.inbox, bytes);
        assert.equal(await probe.refcount(before.blobId), 2);
        assert.equal(await store.releaseExpunged(Date.now() + HOUR + 1), 1);
        assert.equal(await probe.refcount(before.blobId), 1);
        const [rec] = await store.getRecords(bob.accountId, bob.inbox, [kept]);
        assert.equal(rec?.blobId, before.blobId);
        assert.ok((await store.blobs.read(before.blobId)).equals(bytes));
        assert.ok(await store.getAnalysis(before.blobId));
      }));

    it('releases in batches and honours expungedRetentionMs', () =>
      backend.withStore(
        async (store, probe) => {
          const { accountId, inbox } = await accountWithInbox(store);
          const bytes = message('bulk');
          const blob = await store.blobs.put(bytes);
          const count = 1234;
          await store.appendMessages(
            accountId,
            inbox,
            Array.from({ length: count }, () => ({ blob, analysis: fakeAnalysis(bytes), flags: ['\\Deleted'], internalDate: new Date() })),
          );
          const t0 = Date.now();
          await store.expunge(accountId, inbox);
          assert.equal(await store.releaseExpunged(t0 - 1), 0);
          assert.ok(await probe.blobExists(blob.blobId));
          assert.equal(await store.releaseExpunged(Date.now() + 10_000), count);
          assert.ok(!(await probe.blobExists(blob.blobId)));
        },
        { expungedRetentionMs: 10_000 },
      ));

    it('releases on a timer', () =>
      backend.withStore(
        async (store, probe) => {
          const { accountId, inbox } = await accountWithInbox(store);
          const { before } = await deliverAndExpunge(store, accountId, inbox, message('timed'));
          assert.ok(await probe.blobExists(before.blobId));
          // Retention 1 s: the sweep runs every second and releases it within about two.
          await waitFor(async () => !(await probe.blobExists(before.blobId)), 5000);
          assert.deepEqual(await store.getRecords(accountId, inbox, [before.uid]), []);
        },
        { expungedRetentionMs: 1000 },
      ));

    it('releases at open what became due while closed', () =>
      backend.withStore(async (first, probe) => {
        const { accountId, inbox } = await accountWithInbox(first);
        const { before } = await deliverAndExpunge(first, accountId, inbox, message('closed'));
        let store = await probe.open();
        assert.equal((await store.getRecords(accountId, inbox, [before.uid])).length, 1, 'not due yet');
        await store.close();
        store = await probe.open({ expungedRetentionMs: 0 });
        assert.deepEqual(await store.getRecords(accountId, inbox, [before.uid]), []);
        assert.ok(!(await probe.blobExists(before.blobId)));
        await store.close();
      }));

    it('refuses a negative or fractional retention', async () => {
      await assert.rejects(
        backend.withStore(async () => undefined, { expungedRetentionMs: -1 }),
        /expungedRetentionMs/,
      );
      await assert.rejects(
        backend.withStore(async () => undefined, { expungedRetentionMs: 0.5 }),
        /expungedRetentionMs/,
      );
    });

    it('deleting the mailbox or the account releases held blobs at once', () =>
      backend.withStore(async (store, probe) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const box = await store.createMailbox(accountId, 'box');
        const inBox = await deliverAndExpunge(store, accountId, box.id, message('in box'));
        const inInbox = await deliverAndExpunge(store, accountId, inbox, message('in inbox'));
        await store.deleteMailbox(accountId, box.id);
        assert.ok(!(await probe.blobExists(inBox.before.blobId)));
        assert.equal(await probe.refcount(inBox.before.blobId), undefined);
        assert.ok(await probe.blobExists(inInbox.before.blobId));
        await store.deleteAccount(accountId);
        assert.ok(!(await probe.blobExists(inInbox.before.blobId)));
        assert.equal(await probe.refcount(inInbox.before.blobId), undefined);
      }));
  });
}

describe('SQLite store: migration 2 (held tombstones)', () => {
  it('upgrades a database created with migration 1 only, keeping its data and refcounts', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // A data directory as the previous release wrote it: two messages sharing a blob, one old tombstone.
      const bytes = message('from v1');
      const staged = await (await FsBlobStore.open(join(dir, 'blobs'))).put(bytes);
      const db = new Database(join(dir, 'mailkeep.sqlite3'));
      migrate(db, MIGRATIONS.slice(0, 1));
      db.exec(`
        INSERT INTO accounts (account_id, name, name_key, password_hash, created_at) VALUES (7, 'old', 'old', 'h', 0);
        INSERT INTO mailboxes (account_id, mailbox_id, name, uid_validity, uid_next, highest_modseq)
          VALUES (7, 3, 'INBOX', 100, 5, 9);
        INSERT INTO expunged (account_id, mailbox_id, modseq, uid) VALUES (7, 3, 8, 2);
      `);
      db.prepare('INSERT INTO blobs (blob_id, size, refcount, analysis) VALUES (?, ?, 0, ?)').run(
        staged.blobId,
        bytes.length,
        encodeAnalysis(fakeAnalysis(bytes)),
      );
      const insert = db.prepare(
        `INSERT INTO messages (account_id, mailbox_id, uid, modseq, system_flags, keywords, internal_date, save_date, size, blob_id, email_id)
         VALUES (7, 3, ?, 9, 8, 'Old', 1000, 2000, ?, ?, ?)`,
      );
      insert.run(1, bytes.length, staged.blobId, 'Mone');
      insert.run(4, bytes.length, staged.blobId, 'Mfour');
      assert.equal(db.pragma('user_version', { simple: true }), 1);
      db.close();

      const store = (await openStore({ dataDir: dir })) as SqliteStore;
      try {
        const accountId = 7 as AccountId;
        const inbox = 3 as MailboxId;
        const check = new Database(join(dir, 'mailkeep.sqlite3'), { readonly: true });
        assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length);
        check.close();
        assert.equal(refcount(dir, staged.blobId), 2, 'old tombstones hold nothing');
        const old = await store.changesSince(accountId, inbox, modseq(0));
        assert.deepEqual(old.expunged, [2], 'the old tombstone still replays');
        assert.deepEqual(
          (await store.getRecords(accountId, inbox, [2, 1, 4] as Uid[])).map((r) => r.uid),
          [1, 4],
        );

        const res = await store.expunge(accountId, inbox, [uid(1)]);
        assert.deepEqual(res.expunged, [1]);
        const [gone] = await store.getRecords(accountId, inbox, [uid(1)]);
        assert.deepEqual(gone, {
          uid: 1,
          modseq: res.modseq,
          flags: ['\\Deleted', 'Old'],
          size: bytes.length,
          internalDate: new Date(1000),
          saveDate: new Date(2000),
          blobId: staged.blobId,
          emailId: 'Mone',
        });
        assert.equal(refcount(dir, staged.blobId), 2, 'one message, one held tombstone');
        assert.equal(await store.releaseExpunged(Date.now() + HOUR + 1), 1);
        assert.equal(refcount(dir, staged.blobId), 1);
        await store.expunge(accountId, inbox);
        await store.releaseExpunged(Date.now() + HOUR + 1);
        assert.ok(!store.blobs.existsSync(staged.blobId));
        assert.deepEqual((await store.changesSince(accountId, inbox, modseq(0))).expunged, [1, 2, 4]);
      } finally {
        await store.close();
      }
    } finally {
      await cleanup();
    }
  });
});
