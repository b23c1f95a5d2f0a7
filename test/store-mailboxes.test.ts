import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccountId } from '../src/ids.js';
import { modseq, uid } from '../src/ids.js';
import { StoreError } from '../src/store/types.js';
import type { StoreErrorCode } from '../src/store/types.js';
import { accountWithInbox, backends, deliver, message } from './store-fixtures.js';

const code = (c: StoreErrorCode) => (e: unknown) => e instanceof StoreError && e.code === c;

for (const backend of backends) {
  describe(`${backend.name} store: accounts`, () => {
    it('creates an account with INBOX and subscribed special-use mailboxes', () =>
      backend.withStore(async (store) => {
        const account = await store.createAccount('Alice', 'h1');
        assert.equal(account.name, 'Alice');
        assert.equal(account.quotaStorage, null);
        const boxes = await store.listMailboxes(account.id);
        assert.deepEqual(
          boxes.map((b) => [b.name, b.specialUse]),
          [
            ['Archive', '\\Archive'],
            ['Drafts', '\\Drafts'],
            ['INBOX', null],
            ['Junk', '\\Junk'],
            ['Sent', '\\Sent'],
            ['Trash', '\\Trash'],
          ],
        );
        for (const b of boxes) {
          assert.equal(b.uidNext, 1);
          assert.equal(b.highestModSeq, 1);
        }
        assert.equal(new Set(boxes.map((b) => b.uidValidity)).size, boxes.length, 'UIDVALIDITY differs per mailbox');
        assert.deepEqual(await store.listSubscriptions(account.id), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      }));

    it('takes the default mailbox list from the options', () =>
      backend.withStore(
        async (store) => {
          const account = await store.createAccount('bob', 'h');
          assert.deepEqual(
            (await store.listMailboxes(account.id)).map((b) => b.name),
            ['INBOX', 'Sent Items'],
          );
        },
        { defaultMailboxes: [{ name: 'Sent Items', specialUse: '\\Sent' }] },
      ));

    it('refuses a default mailbox list that names INBOX or repeats a name', async () => {
      await assert.rejects(
        backend.withStore(async () => undefined, { defaultMailboxes: [{ name: 'inbox', specialUse: null }] }),
        /INBOX/,
      );
      const twice = [
        { name: 'Sent', specialUse: '\\Sent' },
        { name: 'Sent', specialUse: null },
      ];
      await assert.rejects(
        backend.withStore(async () => undefined, { defaultMailboxes: twice }),
        /repeat/,
      );
    });

    it('treats names case-insensitively and rejects duplicates', () =>
      backend.withStore(async (store) => {
        const a = await store.createAccount('Alice', 'h');
        await assert.rejects(store.createAccount('ALICE', 'h'), code('ALREADYEXISTS'));
        assert.equal((await store.findAccount('aLiCe'))?.id, a.id);
        assert.equal(await store.findAccount('nobody'), null);
        assert.equal((await store.getAccount(a.id))?.name, 'Alice');
        await store.createAccount('bob', 'h');
        assert.deepEqual(
          (await store.listAccounts()).map((x) => x.name),
          ['Alice', 'bob'],
        );
      }));

    it('changes password hashes and quotas, NONEXISTENT for unknown ids', () =>
      backend.withStore(async (store) => {
        const a = await store.createAccount('alice', 'old');
        await store.setPasswordHash(a.id, 'new');
        await store.setQuota(a.id, { storage: 1000, messages: 5 });
        const again = await store.getAccount(a.id);
        assert.equal(again?.passwordHash, 'new');
        assert.equal(again?.quotaStorage, 1000);
        assert.equal(again?.quotaMessages, 5);
        await assert.rejects(store.setPasswordHash(999 as AccountId, 'x'), code('NONEXISTENT'));
        await assert.rejects(store.setQuota(999 as AccountId, { storage: null, messages: null }), code('NONEXISTENT'));
      }));

    it('upgrades a password hash only while the stored one is the hash it replaces', () =>
      backend.withStore(async (store) => {
        const a = await store.createAccount('alice', 'scrypt-old');
        assert.equal(await store.upgradePasswordHash(a.id, 'scrypt-old', 'argon2-same'), true);
        assert.equal((await store.getAccount(a.id))?.passwordHash, 'argon2-same');
        // A password change between a login's verification and its re-hash wins.
        await store.setPasswordHash(a.id, 'changed');
        assert.equal(await store.upgradePasswordHash(a.id, 'argon2-same', 'argon2-stale'), false);
        assert.equal((await store.getAccount(a.id))?.passwordHash, 'changed');
        assert.equal(await store.upgradePasswordHash(999 as AccountId, 'changed', 'x'), false);
      }));

    it('deletes an account with everything it owns and releases its blobs', () =>
      backend.withStore(async (store, probe) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const other = await accountWithInbox(store, 'bob');
        const bytes = message('shared');
        await deliver(store, accountId, inbox, bytes);
        const kept = await deliver(store, other.accountId, other.inbox, bytes);
        const only = await deliver(store, accountId, inbox, message('alice only'));
        const [rec] = await store.getRecords(accountId, inbox, [only]);
        const [shared] = await store.getRecords(other.accountId, other.inbox, [kept]);
        assert.ok(rec && shared);
        await store.deleteAccount(accountId);
        assert.equal(await store.getAccount(accountId), null);
        assert.deepEqual(await store.listMailboxes(accountId), []);
        assert.deepEqual(await store.listSubscriptions(accountId), []);
        assert.ok(!(await probe.blobExists(rec.blobId)), 'unshared blob collected');
        assert.ok(await probe.blobExists(shared.blobId), 'blob still referenced by bob stays');
        await assert.rejects(store.deleteAccount(accountId), code('NONEXISTENT'));
      }));
  });

  describe(`${backend.name} store: mailboxes`, () => {
    it('matches INBOX case-insensitively, other names exactly', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        assert.equal((await store.getMailbox(accountId, 'inbox'))?.id, inbox);
        assert.equal((await store.getMailbox(accountId, 'InBoX'))?.name, 'INBOX');
        assert.equal(await store.getMailbox(accountId, 'sent'), null);
        assert.equal((await store.getMailbox(accountId, 'Sent'))?.specialUse, '\\Sent');
        await assert.rejects(store.createMailbox(accountId, 'inbox'), code('ALREADYEXISTS'));
        await assert.rejects(store.createMailbox(accountId, 'Sent'), code('ALREADYEXISTS'));
        const lower = await store.createMailbox(accountId, 'sent');
        assert.equal((await store.getMailboxById(accountId, lower.id))?.name, 'sent');
      }));

    it('keeps accounts apart', () =>
      backend.withStore(async (store) => {
        const a = await accountWithInbox(store, 'a');
        const b = await accountWithInbox(store, 'b');
        assert.notEqual(a.inbox, b.inbox, 'mailbox ids are unique across accounts');
        assert.equal(await store.getMailboxById(b.accountId, a.inbox), null);
        await assert.rejects(store.mailboxCounts(b.accountId, a.inbox), code('NONEXISTENT'));
        await assert.rejects(store.deleteMailbox(b.accountId, a.inbox), code('NONEXISTENT'));
        await assert.rejects(store.listSummaries(b.accountId, a.inbox), code('NONEXISTENT'));
        await assert.rejects(store.createMailbox(999 as AccountId, 'x'), code('NONEXISTENT'));
      }));

    it('creates children without parents and gives fresh, increasing UIDVALIDITY across delete + recreate', () =>
      backend.withStore(async (store) => {
        const { accountId } = await accountWithInbox(store);
        const deep = await store.createMailbox(accountId, 'a/b/c', '\\Flagged');
        assert.equal(deep.specialUse, '\\Flagged');
        assert.equal(await store.getMailbox(accountId, 'a'), null);
        const first = await store.createMailbox(accountId, 'x');
        await deliver(store, accountId, first.id, message('1'));
        await store.deleteMailbox(accountId, first.id);
        assert.equal(await store.getMailbox(accountId, 'x'), null);
        await assert.rejects(store.deleteMailbox(accountId, first.id), code('NONEXISTENT'));
        const second = await store.createMailbox(accountId, 'x');
        assert.ok(second.uidValidity > first.uidValidity);
        assert.notEqual(second.id, first.id, 'mailbox ids are not reused');
        assert.equal(second.uidNext, 1);
      }));

    it('refuses to delete INBOX', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        await assert.rejects(store.deleteMailbox(accountId, inbox), code('CANNOT'));
      }));

    it('renames a mailbox with its inferiors and subscriptions, keeping ids and UIDVALIDITY', () =>
      backend.withStore(async (store) => {
        const { accountId } = await accountWithInbox(store);
        const a = await store.createMailbox(accountId, 'a');
        const ab = await store.createMailbox(accountId, 'a/b');
        const abc = await store.createMailbox(accountId, 'a/b/c');
        const sibling = await store.createMailbox(accountId, 'ab');
        const dash = await store.createMailbox(accountId, 'a-z');
        await store.setSubscribed(accountId, 'a', true);
        await store.setSubscribed(accountId, 'a/b/c', true);
        await store.setSubscribed(accountId, 'ab', true);
        const u = await deliver(store, accountId, ab.id, message('kept'));
        await store.renameMailbox(accountId, 'a', 'x');
        assert.equal(await store.getMailbox(accountId, 'a'), null);
        assert.equal((await store.getMailbox(accountId, 'x'))?.id, a.id);
        assert.equal((await store.getMailbox(accountId, 'x'))?.uidValidity, a.uidValidity);
        assert.equal((await store.getMailbox(accountId, 'x/b'))?.id, ab.id);
        assert.equal((await store.getMailbox(accountId, 'x/b/c'))?.id, abc.id);
        assert.equal((await store.getMailbox(accountId, 'ab'))?.id, sibling.id, 'a sibling with the same prefix is untouched');
        assert.equal((await store.getMailbox(accountId, 'a-z'))?.id, dash.id);
        assert.deepEqual(
          (await store.getRecords(accountId, ab.id, [u])).map((r) => r.uid),
          [u],
        );
        const subs = await store.listSubscriptions(accountId);
        assert.ok(subs.includes('x') && subs.includes('x/b/c') && subs.includes('ab'));
        assert.ok(!subs.includes('a') && !subs.includes('a/b/c'));
      }));

    it('reports rename errors', () =>
      backend.withStore(async (store) => {
        const { accountId } = await accountWithInbox(store);
        await store.createMailbox(accountId, 'a');
        await store.createMailbox(accountId, 'a/b');
        await store.createMailbox(accountId, 'y/b');
        await store.createMailbox(accountId, 'z');
        await assert.rejects(store.renameMailbox(accountId, 'nope', 'q'), code('NONEXISTENT'));
        await assert.rejects(store.renameMailbox(accountId, 'a', 'z'), code('ALREADYEXISTS'));
        await assert.rejects(store.renameMailbox(accountId, 'a', 'inbox'), code('ALREADYEXISTS'));
        await assert.rejects(store.renameMailbox(accountId, 'a', 'a/q'), code('CANNOT'));
        // The inferior a/b would collide with y/b: nothing is renamed.
        await assert.rejects(store.renameMailbox(accountId, 'a', 'y'), code('ALREADYEXISTS'));
        assert.ok(await store.getMailbox(accountId, 'a'));
        assert.ok(await store.getMailbox(accountId, 'a/b'));
        assert.equal(await store.getMailbox(accountId, 'y'), null);
      }));

    it('renaming INBOX moves its messages to a new mailbox and leaves INBOX empty (RFC 9051 §6.3.6)', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const child = await store.createMailbox(accountId, 'INBOX/child');
        const u1 = await deliver(store, accountId, inbox, message('one'), ['\\Seen', 'Work']);
        const u2 = await deliver(store, accountId, inbox, message('two'));
        const before = await store.getMailboxById(accountId, inbox);
        const [r1] = await store.getRecords(accountId, inbox, [u1]);
        assert.ok(before && r1);
        await store.renameMailbox(accountId, 'inbox', 'Old Mail');
        const old = await store.getMailbox(accountId, 'Old Mail');
        const after = await store.getMailboxById(accountId, inbox);
        assert.ok(old && after);
        assert.notEqual(old.id, inbox);
        assert.ok(old.uidValidity > before.uidValidity);
        const moved = await store.listSummaries(accountId, old.id);
        assert.deepEqual(
          moved.map((s) => [s.uid, s.flags]),
          [
            [1, ['\\Seen', 'Work']],
            [2, []],
          ],
        );
        const [m1] = await store.getRecords(accountId, old.id, [uid(1)]);
        assert.equal(m1?.emailId, r1.emailId);
        assert.equal(m1?.blobId, r1.blobId);
        // INBOX: same mailbox, same UIDVALIDITY, empty, UIDs not reused, tombstones for the moved UIDs.
        assert.equal(after.name, 'INBOX');
        assert.equal(after.uidValidity, before.uidValidity);
        assert.equal(after.uidNext, before.uidNext);
        assert.deepEqual(await store.listSummaries(accountId, inbox), []);
        const changes = await store.changesSince(accountId, inbox, before.highestModSeq);
        assert.deepEqual(changes.expunged, [u1, u2]);
        assert.ok(changes.highestModSeq > before.highestModSeq);
        assert.equal((await store.getMailbox(accountId, 'INBOX/child'))?.id, child.id, "INBOX's inferiors stay");
        assert.equal((await store.mailboxCounts(accountId, inbox)).messages, 0);
        assert.equal((await store.mailboxCounts(accountId, old.id)).messages, 2);
      }));

    it('stores subscriptions as names that need not exist', () =>
      backend.withStore(async (store) => {
        const { accountId } = await accountWithInbox(store);
        await store.setSubscribed(accountId, 'ghost/box', true);
        await store.setSubscribed(accountId, 'ghost/box', true);
        await store.setSubscribed(accountId, 'Trash', false);
        await store.setSubscribed(accountId, 'inbox', false);
        assert.deepEqual(await store.listSubscriptions(accountId), ['Archive', 'Drafts', 'Junk', 'Sent', 'ghost/box']);
        const x = await store.createMailbox(accountId, 'x');
        await store.setSubscribed(accountId, 'x', true);
        await store.deleteMailbox(accountId, x.id);
        assert.ok((await store.listSubscriptions(accountId)).includes('x'), 'RFC 9051 §6.3.9: not removed unilaterally');
      }));

    it('deleting a mailbox removes its messages, tombstones and unshared blobs, and wakes its listeners', () =>
      backend.withStore(async (store, probe) => {
        const { accountId } = await accountWithInbox(store);
        const box = await store.createMailbox(accountId, 'box');
        const u = await deliver(store, accountId, box.id, message('doomed'));
        const [rec] = await store.getRecords(accountId, box.id, [u]);
        assert.ok(rec);
        const woke: number[] = [];
        store.bus.subscribe(accountId, box.id, (m) => woke.push(m));
        await store.deleteMailbox(accountId, box.id);
        assert.equal(woke.length, 1);
        assert.ok(!(await probe.blobExists(rec.blobId)));
        assert.equal(await store.getAnalysis(rec.blobId), null);
        await assert.rejects(store.changesSince(accountId, box.id, modseq(0)), code('NONEXISTENT'));
      }));
  });
}
