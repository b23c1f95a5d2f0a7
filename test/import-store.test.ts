/**
 * The store side of import and migrate: importMessages (source keys, kept
 * UIDs), findImported, adoptUidValidity and the sync state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uid, type Uid } from '../src/ids.js';
import type { ImportedMessage, MailStore } from '../src/store/types.js';
import { accountWithInbox, fakeAnalysis, message, withStore } from './store-fixtures.js';

async function incoming(store: MailStore, sourceKey: string, keep?: number): Promise<ImportedMessage> {
  const bytes = message(sourceKey);
  return {
    blob: await store.blobs.put(bytes),
    analysis: fakeAnalysis(bytes),
    flags: ['\\Seen'],
    internalDate: new Date('2020-01-01T00:00:00Z'),
    sourceKey,
    ...(keep ? { uid: uid(keep) } : {}),
  };
}

describe('store: importMessages and friends', () => {
  it('keeps given UIDs that are not below uidNext, assigns fresh ones otherwise, and skips known keys', () =>
    withStore(async (store) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const first = await store.importMessages(accountId, inbox, [
        await incoming(store, 'a', 5),
        await incoming(store, 'b', 9),
        await incoming(store, 'a', 12),
      ]);
      assert.deepEqual(first.uids, [5, 9, null], 'the repeated key in the batch is skipped');
      const second = await store.importMessages(accountId, inbox, [await incoming(store, 'c', 3), await incoming(store, 'b', 20), await incoming(store, 'd')]);
      assert.deepEqual(second.uids, [10, null, 11], 'UID 3 is below uidNext: a fresh UID; b is known');
      assert.equal((await store.getMailboxById(accountId, inbox))!.uidNext, 12);
      const found = await store.findImported(accountId, inbox, ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual([...found].sort(), [
        ['a', 5],
        ['b', 9],
        ['c', 10],
        ['d', 11],
      ] as Array<[string, Uid]>);
      // The key stays recorded after an expunge: a deleted message is not imported again.
      await store.storeFlags(accountId, inbox, [uid(5)], { op: 'add', flags: ['\\Deleted'] });
      await store.expunge(accountId, inbox);
      assert.deepEqual((await store.importMessages(accountId, inbox, [await incoming(store, 'a')])).uids, [null]);
    }));

  it('adopts a UIDVALIDITY only for a mailbox that never held a message, and later mailboxes get larger ones', () =>
    withStore(async (store) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const adopted = 4_000_000_000;
      assert.equal(await store.adoptUidValidity(accountId, inbox, adopted), true);
      assert.equal((await store.getMailboxById(accountId, inbox))!.uidValidity, adopted);
      assert.ok((await store.createMailbox(accountId, 'New')).uidValidity > adopted, 'RFC 9051 §2.3.1.1: never reused');
      await store.importMessages(accountId, inbox, [await incoming(store, 'x')]);
      assert.equal(await store.adoptUidValidity(accountId, inbox, adopted), true, 'already equal');
      assert.equal(await store.adoptUidValidity(accountId, inbox, 123), false, 'has held messages');
      const other = await store.createMailbox(accountId, 'Other');
      await store.importMessages(accountId, other.id, [await incoming(store, 'y')]);
      await store.storeFlags(accountId, other.id, [uid(1)], { op: 'add', flags: ['\\Deleted'] });
      await store.expunge(accountId, other.id);
      assert.equal(await store.adoptUidValidity(accountId, other.id, 77), false, 'empty again, but UID 1 was used');
      await assert.rejects(store.adoptUidValidity(accountId, inbox, 0), /invalid UIDVALIDITY/);
    }));

  it('keeps a sync state per mailbox and source, dropped with the mailbox', () =>
    withStore(async (store) => {
      const { accountId } = await accountWithInbox(store);
      const mb = await store.createMailbox(accountId, 'Synced');
      assert.equal(await store.getSyncState(accountId, mb.id, 'imaps://u@h:993/INBOX'), null);
      await store.setSyncState(accountId, mb.id, 'imaps://u@h:993/INBOX', '{"lastUid":1}');
      await store.setSyncState(accountId, mb.id, 'imaps://u@h:993/INBOX', '{"lastUid":2}');
      assert.equal(await store.getSyncState(accountId, mb.id, 'imaps://u@h:993/INBOX'), '{"lastUid":2}');
      await store.importMessages(accountId, mb.id, [await incoming(store, 'k')]);
      await store.deleteMailbox(accountId, mb.id);
      const again = await store.createMailbox(accountId, 'Synced');
      assert.equal(await store.getSyncState(accountId, again.id, 'imaps://u@h:993/INBOX'), null);
      assert.equal((await store.findImported(accountId, again.id, ['k'])).size, 0);
    }));
});
