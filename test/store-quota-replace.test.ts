/**
 * The store methods behind QUOTA (RFC 9208) and REPLACE (RFC 8508):
 * getQuotaUsage and replaceMessage, checked through the MailStore interface so
 * every backend can run the same cases.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { AccountId, MailboxId, ModSeq } from '../src/ids.js';
import { modseq } from '../src/ids.js';
import type { MailStore, NewMessage } from '../src/store/types.js';
import { StoreError } from '../src/store/types.js';
import { accountWithInbox, deliver, fakeAnalysis, message, withStore } from './store-fixtures.js';

const code = (c: string) => (e: unknown) => e instanceof StoreError && e.code === c;

async function newMessage(store: MailStore, bytes: Buffer, flags: string[] = []): Promise<NewMessage> {
  return { blob: await store.blobs.put(bytes), analysis: fakeAnalysis(bytes), flags, internalDate: new Date('2025-02-03T04:05:06Z') };
}

/** What a mailbox looks like to a reader: uidNext, modseq and live UIDs. */
async function snapshot(store: MailStore, accountId: AccountId, id: MailboxId) {
  const changes = await store.changesSince(accountId, id, modseq(0) as ModSeq);
  return { uidNext: changes.uidNext, modseq: changes.highestModSeq, uids: (await store.listSummaries(accountId, id)).map((s) => s.uid) };
}

describe('SQLite store: quota usage', () => {
  it('reports limits and live usage across mailboxes; NONEXISTENT for unknown accounts', () =>
    withStore(async (store) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const sent = (await store.getMailbox(accountId, 'Sent'))!.id;
      assert.deepEqual(await store.getQuotaUsage(accountId), { storage: null, messages: null, usedStorage: 0, usedMessages: 0 });
      const a = message('a');
      const b = message('bb', 'longer body');
      const u = await deliver(store, accountId, inbox, a, ['\\Deleted']);
      await deliver(store, accountId, sent, b);
      await store.setQuota(accountId, { storage: 5000, messages: 9 });
      assert.deepEqual(await store.getQuotaUsage(accountId), { storage: 5000, messages: 9, usedStorage: a.length + b.length, usedMessages: 2 });
      await store.expunge(accountId, inbox, [u]);
      assert.deepEqual(await store.getQuotaUsage(accountId), { storage: 5000, messages: 9, usedStorage: b.length, usedMessages: 1 });
      // Another account's mail is not counted.
      const other = await accountWithInbox(store, 'bob');
      await deliver(store, other.accountId, other.inbox, a);
      assert.equal((await store.getQuotaUsage(accountId)).usedMessages, 1);
      await assert.rejects(store.getQuotaUsage(999 as AccountId), code('NONEXISTENT'));
    }));
});

describe('SQLite store: replaceMessage (RFC 8508)', () => {
  it('replaces within one mailbox: new UID and EMAILID, old one a tombstone, flags from the new message only', () =>
    withStore(async (store) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const old = await deliver(store, accountId, inbox, message('v1'), ['\\Flagged']);
      const [oldRec] = await store.getRecords(accountId, inbox, [old]);
      const before = await snapshot(store, accountId, inbox);
      const woken: number[] = [];
      const off = store.bus.subscribe(accountId, inbox, (m) => woken.push(m));
      const res = await store.replaceMessage(accountId, inbox, old, inbox, await newMessage(store, message('v2'), ['\\Seen']));
      off();
      const after = await snapshot(store, accountId, inbox);
      assert.equal(res.uid, old + 1);
      assert.equal(res.uidValidity, (await store.getMailboxById(accountId, inbox))!.uidValidity);
      assert.deepEqual(after.uids, [res.uid]);
      assert.equal(res.modseq, after.modseq);
      assert.ok(after.modseq > before.modseq);
      assert.ok(woken.includes(res.modseq));
      const changes = await store.changesSince(accountId, inbox, before.modseq);
      assert.deepEqual(changes.expunged, [old]);
      assert.deepEqual(
        changes.changed.map((s) => [s.uid, s.flags]),
        [[res.uid, ['\\Seen']]],
      );
      const [rec] = await store.getRecords(accountId, inbox, [res.uid]);
      assert.ok(rec && oldRec);
      assert.notEqual(rec.emailId, oldRec.emailId);
      assert.equal(rec.internalDate.toISOString(), '2025-02-03T04:05:06.000Z');
    }));

  it('replaces into another mailbox, waking both', () =>
    withStore(async (store) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const sent = (await store.getMailbox(accountId, 'Sent'))!.id;
      const old = await deliver(store, accountId, inbox, message('draft'));
      const woken: string[] = [];
      const offs = [inbox, sent].map((id) => store.bus.subscribe(accountId, id, () => woken.push(String(id))));
      const res = await store.replaceMessage(accountId, inbox, old, sent, await newMessage(store, message('final')));
      offs.forEach((off) => off());
      assert.deepEqual((await snapshot(store, accountId, inbox)).uids, []);
      assert.deepEqual((await snapshot(store, accountId, sent)).uids, [res.uid]);
      assert.deepEqual(new Set(woken), new Set([String(inbox), String(sent)]));
    }));

  it('changes nothing when the old message, a mailbox or the quota is missing or short', () =>
    withStore(async (store) => {
      const { accountId, inbox } = await accountWithInbox(store);
      const small = message('s');
      const old = await deliver(store, accountId, inbox, small);
      const before = await snapshot(store, accountId, inbox);
      const replacement = await newMessage(store, message('s', 'a much longer body than before'));
      await assert.rejects(store.replaceMessage(accountId, inbox, (old + 5) as typeof old, inbox, replacement), code('NONEXISTENT'));
      await assert.rejects(store.replaceMessage(accountId, inbox, old, 999 as MailboxId, replacement), code('NONEXISTENT'));
      await assert.rejects(store.replaceMessage(accountId, 999 as MailboxId, old, inbox, replacement), code('NONEXISTENT'));
      // Net growth over the storage limit; at the message limit one in, one out is fine.
      await store.setQuota(accountId, { storage: small.length + 3, messages: 1 });
      await assert.rejects(store.replaceMessage(accountId, inbox, old, inbox, replacement), code('OVERQUOTA'));
      assert.deepEqual(await snapshot(store, accountId, inbox), before);
      // Another account cannot reach this one's message.
      const bob = await accountWithInbox(store, 'bob');
      await assert.rejects(store.replaceMessage(bob.accountId, inbox, old, bob.inbox, replacement), code('NONEXISTENT'));
      assert.deepEqual(await snapshot(store, accountId, inbox), before);
      // Already over a lowered limit, a replacement that does not grow usage still works.
      await store.setQuota(accountId, { storage: 1, messages: 0 });
      const res = await store.replaceMessage(accountId, inbox, old, inbox, await newMessage(store, message('t')));
      assert.deepEqual((await snapshot(store, accountId, inbox)).uids, [res.uid]);
    }));
});
