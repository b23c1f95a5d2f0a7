/**
 * The store methods behind LMTP delivery (aliases, composite blobs) and
 * `mailkeep import` / `migrate` (source keys, kept UIDs, UIDVALIDITY, resume
 * states), run on every backend so PostgreSQL keeps SQLite's semantics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccountId, MailboxId } from '../src/ids.js';
import { uid } from '../src/ids.js';
import type { ImportedMessage, MailStore } from '../src/store/types.js';
import { StoreError } from '../src/store/types.js';
import { accountWithInbox, backends, fakeAnalysis, message } from './store-fixtures.js';

const code = (c: string) => (e: unknown) => e instanceof StoreError && e.code === c;

async function imported(store: MailStore, sourceKey: string, wanted?: number): Promise<ImportedMessage> {
  const bytes = message(`import ${sourceKey}`);
  return {
    blob: await store.blobs.put(bytes),
    analysis: fakeAnalysis(bytes),
    flags: ['\\Seen'],
    internalDate: new Date('2020-01-01T00:00:00Z'),
    sourceKey,
    ...(wanted === undefined ? {} : { uid: uid(wanted) }),
  };
}

for (const backend of backends) {
  describe(`${backend.name} store: aliases`, () => {
    it('point addresses at accounts, case-insensitively, and go with the account', () =>
      backend.withStore(async (store) => {
        const alice = await accountWithInbox(store, 'alice');
        const bob = await accountWithInbox(store, 'bob');
        await store.addAlias('Sales@Example.org', alice.accountId);
        await store.addAlias('info@example.org', bob.accountId);
        assert.deepEqual(await store.findAlias('sales@EXAMPLE.org'), { address: 'Sales@Example.org', accountId: alice.accountId });
        assert.equal(await store.findAlias('nobody@example.org'), null);
        await assert.rejects(store.addAlias('SALES@example.org', bob.accountId), code('ALREADYEXISTS'));
        await assert.rejects(store.addAlias('x@example.org', 999 as AccountId), code('NONEXISTENT'));
        assert.deepEqual(
          (await store.listAliases()).map((a) => a.address),
          ['info@example.org', 'Sales@Example.org'],
        );
        await store.deleteAlias('INFO@example.org');
        await assert.rejects(store.deleteAlias('info@example.org'), code('NONEXISTENT'));
        await store.deleteAccount(alice.accountId);
        assert.deepEqual(await store.listAliases(), []);
      }));
  });

  describe(`${backend.name} store: composite blobs`, () => {
    it('store one base for many recipients, serve each copy, and free the base with the last copy', () =>
      backend.withStore(async (store, probe) => {
        const bytes = message('to everyone', 'x'.repeat(5000));
        const base = await store.blobs.put(bytes);
        const users = await Promise.all(['u1', 'u2', 'u3'].map((name) => accountWithInbox(store, name)));
        const copies: Array<{ accountId: AccountId; inbox: MailboxId; blobId: string; whole: Buffer }> = [];
        for (const [i, u] of users.entries()) {
          const prefix = Buffer.from(`Delivered-To: u${i + 1}@example.org\r\n`);
          const blob = await store.blobs.putComposite(prefix, base);
          await store.appendMessages(u.accountId, u.inbox, [{ blob, analysis: fakeAnalysis(bytes), flags: [], internalDate: new Date() }]);
          copies.push({ ...u, blobId: blob.blobId, whole: Buffer.concat([prefix, bytes]) });
        }
        assert.deepEqual(await probe.blobIds(), [base.blobId], 'the message bytes are stored once');
        await probe.checkBlobRefs();
        for (const c of copies) {
          const [rec] = await store.getRecords(c.accountId, c.inbox, [uid(1)]);
          assert.equal(rec?.blobId, c.blobId);
          assert.equal(rec?.size, c.whole.length);
          assert.ok((await store.blobs.read(c.blobId)).equals(c.whole));
          assert.equal((await store.getAnalysis(c.blobId))?.root.be, c.whole.length);
        }
        // A copy of a copy shares the composite.
        const sent = (await store.getMailbox(users[0]!.accountId, 'Sent'))!;
        await store.copyMessages(users[0]!.accountId, users[0]!.inbox, [uid(1)], sent.id);
        await probe.checkBlobRefs();
        await store.deleteAccount(users[0]!.accountId);
        await store.deleteAccount(users[1]!.accountId);
        await store.collectGarbage();
        assert.ok(await probe.blobExists(base.blobId), 'the last copy keeps the base');
        assert.ok((await store.blobs.read(copies[2]!.blobId)).equals(copies[2]!.whole));
        await store.storeFlags(users[2]!.accountId, users[2]!.inbox, [uid(1)], { op: 'add', flags: ['\\Deleted'] });
        await store.expunge(users[2]!.accountId, users[2]!.inbox);
        await store.releaseExpunged(Date.now() + 2 * 60 * 60 * 1000);
        await store.collectGarbage();
        assert.ok(!(await probe.blobExists(base.blobId)), 'freed with the last copy');
        assert.equal(await store.getAnalysis(copies[2]!.blobId), null);
        await probe.checkBlobRefs();
      }));
  });

  describe(`${backend.name} store: import`, () => {
    it('records source keys, skips what was imported, keeps wanted UIDs that fit', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const first = await store.importMessages(accountId, inbox, [
          await imported(store, 'k1', 5),
          await imported(store, 'k2', 3),
          await imported(store, 'k1'),
          await imported(store, 'k3', 10),
        ]);
        assert.deepEqual(first.uids, [5, 6, null, 10], 'a wanted UID below the next free one gets the next');
        const mb = await store.getMailboxById(accountId, inbox);
        assert.equal(mb?.uidNext, 11);
        assert.equal(first.modseq, mb?.highestModSeq);
        const again = await store.importMessages(accountId, inbox, [await imported(store, 'k2'), await imported(store, 'k4')]);
        assert.deepEqual(again.uids, [null, 11]);
        const none = await store.importMessages(accountId, inbox, [await imported(store, 'k4')]);
        assert.deepEqual(none, { uidValidity: mb!.uidValidity, uids: [null], modseq: again.modseq });
        assert.deepEqual(
          await store.findImported(accountId, inbox, ['k1', 'k3', 'missing']),
          new Map([
            ['k1', uid(5)],
            ['k3', uid(10)],
          ]),
        );
        assert.deepEqual(
          (await store.listSummaries(accountId, inbox)).map((s) => [s.uid, s.flags]),
          [
            [5, ['\\Seen']],
            [6, ['\\Seen']],
            [10, ['\\Seen']],
            [11, ['\\Seen']],
          ],
        );
        await assert.rejects(store.importMessages(accountId, inbox, [await imported(store, '')]), code('CANNOT'));
        await assert.rejects(store.importMessages(accountId, inbox, [await imported(store, 'x'.repeat(513))]), code('CANNOT'));
        await store.setQuota(accountId, { storage: null, messages: 4 });
        await assert.rejects(store.importMessages(accountId, inbox, [await imported(store, 'k5')]), code('OVERQUOTA'));
        assert.deepEqual(await store.findImported(accountId, inbox, ['k5']), new Map());
      }));

    it('adopts a source UIDVALIDITY only for a mailbox that never held a message', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const empty = await store.createMailbox(accountId, 'empty');
        const high = empty.uidValidity + 1000;
        assert.equal(await store.adoptUidValidity(accountId, empty.id, high), true);
        assert.equal(await store.adoptUidValidity(accountId, empty.id, high), true, 'already equal');
        assert.equal((await store.getMailboxById(accountId, empty.id))?.uidValidity, high);
        assert.ok((await store.createMailbox(accountId, 'later')).uidValidity > high, 'later mailboxes get larger values');
        await store.importMessages(accountId, inbox, [await imported(store, 'k')]);
        const before = (await store.getMailboxById(accountId, inbox))!.uidValidity;
        assert.equal(await store.adoptUidValidity(accountId, inbox, before + 1), false);
        assert.equal((await store.getMailboxById(accountId, inbox))?.uidValidity, before);
        await assert.rejects(store.adoptUidValidity(accountId, inbox, 0), code('CANNOT'));
        await assert.rejects(store.adoptUidValidity(accountId, 999 as MailboxId, 5), code('NONEXISTENT'));
      }));

    it('keeps one resume state per mailbox and source, going with the mailbox', () =>
      backend.withStore(async (store) => {
        const { accountId } = await accountWithInbox(store);
        const box = await store.createMailbox(accountId, 'synced');
        assert.equal(await store.getSyncState(accountId, box.id, 'imap://a'), null);
        await store.setSyncState(accountId, box.id, 'imap://a', '{"n":1}');
        await store.setSyncState(accountId, box.id, 'imap://a', '{"n":2}');
        await store.setSyncState(accountId, box.id, 'imap://b', 'other');
        assert.equal(await store.getSyncState(accountId, box.id, 'imap://a'), '{"n":2}');
        assert.equal(await store.getSyncState(accountId, box.id, 'imap://b'), 'other');
        await store.deleteMailbox(accountId, box.id);
        await assert.rejects(store.setSyncState(accountId, box.id, 'imap://a', 'x'), code('NONEXISTENT'));
        assert.equal(await store.getSyncState(accountId, box.id, 'imap://a'), null);
      }));
  });
}
