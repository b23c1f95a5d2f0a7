import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { AccountId, MailboxId, ModSeq, Uid } from '../src/ids.js';
import { modseq, uid } from '../src/ids.js';
import { StoreError } from '../src/store/types.js';
import type { MailStore, MessageSummary, StoreErrorCode } from '../src/store/types.js';
import { accountWithInbox, backends, deliver, fakeAnalysis, message } from './store-fixtures.js';

const code = (c: StoreErrorCode) => (e: unknown) => e instanceof StoreError && e.code === c;
const uids = (...n: number[]): Uid[] => n.map(uid);
/** Just past the default retention of expunged messages. */
const AFTER_RETENTION_MS = 60 * 60 * 1000 + 1;

async function highest(store: MailStore, accountId: AccountId, id: MailboxId): Promise<ModSeq> {
  const mb = await store.getMailboxById(accountId, id);
  assert.ok(mb);
  return mb.highestModSeq;
}

for (const backend of backends) {
  describe(`${backend.name} store: append`, () => {
    it('assigns consecutive UIDs and one new modseq, keeps flags, dates and analysis', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const before = await store.getMailboxById(accountId, inbox);
        assert.ok(before);
        const bytes = [message('a'), message('b'), message('c')];
        const blobs = await Promise.all(bytes.map((b) => store.blobs.put(b)));
        const date = new Date('2023-05-06T07:08:09.123Z');
        const t0 = Date.now();
        const res = await store.appendMessages(
          accountId,
          inbox,
          bytes.map((b, i) => ({
            blob: blobs[i]!,
            analysis: fakeAnalysis(b),
            flags: i === 0 ? ['\\seen', '$Label1', '\\Recent', '$label1'] : [],
            internalDate: date,
          })),
        );
        assert.deepEqual(res.uids, [1, 2, 3]);
        assert.equal(res.modseq, before.highestModSeq + 1);
        assert.equal(res.uidValidity, before.uidValidity);
        const after = await store.getMailboxById(accountId, inbox);
        assert.equal(after?.uidNext, 4);
        assert.equal(after?.highestModSeq, res.modseq);
        const records = await store.getRecords(accountId, inbox, uids(3, 1, 2, 99));
        assert.deepEqual(
          records.map((r) => r.uid),
          [1, 2, 3],
          'ascending, missing skipped',
        );
        const [r1] = records;
        assert.ok(r1);
        assert.deepEqual(r1.flags, ['\\Seen', '$Label1']);
        assert.equal(r1.modseq, res.modseq);
        assert.equal(r1.size, bytes[0]!.length);
        assert.equal(r1.blobId, blobs[0]!.blobId);
        assert.equal(r1.internalDate.getTime(), date.getTime());
        assert.ok(r1.saveDate.getTime() >= t0 && r1.saveDate.getTime() <= Date.now());
        assert.match(r1.emailId, /^[A-Za-z0-9_-]{1,255}$/);
        assert.equal(new Set(records.map((r) => r.emailId)).size, 3);
        assert.deepEqual(await store.getAnalysis(r1.blobId), fakeAnalysis(bytes[0]!));
        assert.equal(await store.getAnalysis('f'.repeat(64)), null);
      }));

    it('is all or nothing', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const good = await store.blobs.put(message('good'));
        const bad = { blobId: 'e'.repeat(64), size: 10 };
        await assert.rejects(
          store.appendMessages(accountId, inbox, [
            { blob: good, analysis: fakeAnalysis(message('good')), flags: [], internalDate: new Date() },
            { blob: bad, analysis: fakeAnalysis(message('bad')), flags: [], internalDate: new Date() },
          ]),
          code('CANNOT'),
        );
        assert.deepEqual(await store.listSummaries(accountId, inbox), []);
        assert.equal((await store.getMailboxById(accountId, inbox))?.uidNext, 1);
        assert.equal(await store.getAnalysis(good.blobId), null);
      }));

    it('appending nothing changes nothing; unknown mailbox is NONEXISTENT', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const res = await store.appendMessages(accountId, inbox, []);
        assert.deepEqual(res.uids, []);
        assert.equal(res.modseq, 1);
        await assert.rejects(store.appendMessages(accountId, 12345 as MailboxId, []), code('NONEXISTENT'));
      }));

    it('never reuses UIDs after expunge, and modseqs only grow', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const seen: number[] = [];
        let last = 1;
        for (let round = 0; round < 3; round++) {
          const u = await deliver(store, accountId, inbox, message(`r${round}`), ['\\Deleted']);
          seen.push(u);
          const { modseq: m } = await store.expunge(accountId, inbox);
          assert.ok(m > last);
          last = m;
        }
        assert.deepEqual(seen, [1, 2, 3]);
        assert.equal(await deliver(store, accountId, inbox, message('next')), 4);
      }));

    it('enforces the message and storage quotas (OVERQUOTA)', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const sent = await store.getMailbox(accountId, 'Sent');
        assert.ok(sent);
        const m = message('q');
        await store.setQuota(accountId, { storage: null, messages: 2 });
        await deliver(store, accountId, inbox, m);
        const u2 = await deliver(store, accountId, sent.id, m);
        await assert.rejects(deliver(store, accountId, inbox, m), code('OVERQUOTA'));
        await assert.rejects(store.copyMessages(accountId, sent.id, [u2], inbox), code('OVERQUOTA'));
        // MOVE does not change usage.
        await store.moveMessages(accountId, sent.id, [u2], inbox);
        await store.setQuota(accountId, { storage: 3 * m.length - 1, messages: null });
        await assert.rejects(deliver(store, accountId, inbox, m), code('OVERQUOTA'));
        await store.setQuota(accountId, { storage: 3 * m.length, messages: null });
        await deliver(store, accountId, inbox, m);
        await store.setQuota(accountId, { storage: null, messages: null });
        await deliver(store, accountId, inbox, m);
      }));
  });

  describe(`${backend.name} store: flags`, () => {
    it('stamps only rows that change, with one new modseq', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        await deliver(store, accountId, inbox, message('1'), ['\\Seen']);
        await deliver(store, accountId, inbox, message('2'));
        await deliver(store, accountId, inbox, message('3'));
        const m0 = await highest(store, accountId, inbox);
        const res = await store.storeFlags(accountId, inbox, uids(1, 2, 3, 42), { op: 'add', flags: ['\\Seen', 'Work'] });
        assert.equal(res.modseq, m0 + 1);
        assert.deepEqual(
          res.changed.map((c) => [c.uid, c.flags, c.modseq]),
          [
            [1, ['\\Seen', 'Work'], m0 + 1],
            [2, ['\\Seen', 'Work'], m0 + 1],
            [3, ['\\Seen', 'Work'], m0 + 1],
          ],
        );
        const again = await store.storeFlags(accountId, inbox, uids(1, 2), { op: 'add', flags: ['\\SEEN', 'work'] });
        assert.deepEqual(again.changed, []);
        assert.equal(again.modseq, m0 + 1, 'nothing changed: modseq not raised');
        assert.equal(await highest(store, accountId, inbox), m0 + 1);
        const rm = await store.storeFlags(accountId, inbox, uids(2), { op: 'remove', flags: ['Work'] });
        assert.deepEqual(
          rm.changed.map((c) => [c.uid, c.flags]),
          [[2, ['\\Seen']]],
        );
        const set = await store.storeFlags(accountId, inbox, uids(1, 2, 3), { op: 'set', flags: ['\\Flagged'] });
        assert.equal(set.modseq, m0 + 3);
        const summaries = await store.listSummaries(accountId, inbox);
        assert.deepEqual(
          summaries.map((s) => [s.uid, s.flags, s.modseq]),
          [
            [1, ['\\Flagged'], m0 + 3],
            [2, ['\\Flagged'], m0 + 3],
            [3, ['\\Flagged'], m0 + 3],
          ],
        );
      }));

    it('UNCHANGEDSINCE skips and reports messages modified later (RFC 7162 §3.2)', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        await deliver(store, accountId, inbox, message('1'));
        await deliver(store, accountId, inbox, message('2'));
        await deliver(store, accountId, inbox, message('3'));
        const base = await highest(store, accountId, inbox);
        await store.storeFlags(accountId, inbox, uids(2), { op: 'add', flags: ['\\Answered'] });
        const res = await store.storeFlags(accountId, inbox, uids(1, 2, 3), { op: 'add', flags: ['\\Flagged'], unchangedSince: base });
        assert.deepEqual(res.conflicts, [2]);
        assert.deepEqual(
          res.changed.map((c) => c.uid),
          [1, 3],
        );
        const [r2] = await store.getRecords(accountId, inbox, uids(2));
        assert.deepEqual(r2?.flags, ['\\Answered']);
        // Equal to UNCHANGEDSINCE is allowed.
        const eq = await store.storeFlags(accountId, inbox, uids(2), { op: 'add', flags: ['\\Draft'], unchangedSince: r2!.modseq });
        assert.deepEqual(eq.conflicts, []);
        assert.deepEqual(
          eq.changed.map((c) => c.uid),
          [2],
        );
        // UNCHANGEDSINCE 0 always fails for existing messages.
        const zero = await store.storeFlags(accountId, inbox, uids(1), { op: 'add', flags: ['x'], unchangedSince: modseq(0) });
        assert.deepEqual(zero.conflicts, [1]);
      }));

    it('keeps \\Recent out and rejects malformed flags before touching anything', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        await deliver(store, accountId, inbox, message('1'));
        const res = await store.storeFlags(accountId, inbox, uids(1), { op: 'set', flags: ['\\Recent'] });
        assert.deepEqual(res.changed, []);
        await assert.rejects(store.storeFlags(accountId, inbox, uids(1), { op: 'add', flags: ['bad flag'] }), code('CANNOT'));
      }));
  });

  describe(`${backend.name} store: copy, move, expunge`, () => {
    it('copies in source-UID order to consecutive UIDs, sharing blobs, keeping flags, dates and EMAILID', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const dest = await store.createMailbox(accountId, 'dest');
        await deliver(store, accountId, dest.id, message('already there'));
        for (const s of ['a', 'b', 'c']) await deliver(store, accountId, inbox, message(s), s === 'b' ? ['\\Flagged', 'K'] : []);
        const src = await store.getRecords(accountId, inbox, uids(1, 2, 3));
        const destBefore = await highest(store, accountId, dest.id);
        const res = await store.copyMessages(accountId, inbox, uids(3, 1, 7, 2), dest.id);
        assert.equal(res.uidValidity, dest.uidValidity);
        assert.deepEqual(res.sourceUids, [1, 2, 3]);
        assert.deepEqual(res.destUids, [2, 3, 4]);
        const copies = await store.getRecords(accountId, dest.id, res.destUids);
        copies.forEach((c, i) => {
          const s = src[i]!;
          assert.equal(c.blobId, s.blobId);
          assert.equal(c.emailId, s.emailId);
          assert.deepEqual(c.flags, s.flags);
          assert.equal(c.internalDate.getTime(), s.internalDate.getTime());
          assert.ok(c.saveDate.getTime() >= s.saveDate.getTime());
          assert.equal(c.modseq, destBefore + 1);
        });
        assert.equal((await store.listSummaries(accountId, inbox)).length, 3, 'source untouched');
        const none = await store.copyMessages(accountId, inbox, uids(50), dest.id);
        assert.deepEqual(none, { uidValidity: dest.uidValidity, sourceUids: [], destUids: [] });
        await assert.rejects(store.copyMessages(accountId, inbox, uids(1), 999 as MailboxId), code('NONEXISTENT'));
      }));

    it('copies into the same mailbox', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        await deliver(store, accountId, inbox, message('a'));
        const res = await store.copyMessages(accountId, inbox, uids(1), inbox);
        assert.deepEqual(res.destUids, [2]);
        assert.equal((await store.mailboxCounts(accountId, inbox)).messages, 2);
      }));

    it('moves with tombstones in the source (RFC 6851)', () =>
      backend.withStore(async (store, probe) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const dest = await store.createMailbox(accountId, 'dest');
        for (const s of ['a', 'b', 'c']) await deliver(store, accountId, inbox, message(s));
        const [before] = await store.getRecords(accountId, inbox, uids(3));
        const m0 = await highest(store, accountId, inbox);
        const res = await store.moveMessages(accountId, inbox, uids(3, 1), dest.id);
        assert.deepEqual(res.sourceUids, [1, 3]);
        assert.deepEqual(res.destUids, [1, 2]);
        assert.equal(res.modseq, m0 + 1);
        const changes = await store.changesSince(accountId, inbox, m0);
        assert.deepEqual(changes.expunged, [1, 3]);
        assert.deepEqual(changes.changed, []);
        assert.deepEqual(
          (await store.listSummaries(accountId, inbox)).map((s) => s.uid),
          [2],
        );
        const [moved] = await store.getRecords(accountId, dest.id, uids(2));
        assert.equal(moved?.emailId, before?.emailId);
        assert.ok(await probe.blobExists(moved!.blobId));
      }));

    it('moves within one mailbox to new UIDs', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        await deliver(store, accountId, inbox, message('a'));
        await deliver(store, accountId, inbox, message('b'));
        const m0 = await highest(store, accountId, inbox);
        const res = await store.moveMessages(accountId, inbox, uids(1), inbox);
        assert.deepEqual(res.destUids, [3]);
        const changes = await store.changesSince(accountId, inbox, m0);
        assert.deepEqual(changes.expunged, [1]);
        assert.deepEqual(
          changes.changed.map((c) => c.uid),
          [3],
        );
        assert.ok(changes.highestModSeq >= res.modseq);
        assert.deepEqual(
          (await store.listSummaries(accountId, inbox)).map((s) => s.uid),
          [2, 3],
        );
      }));

    it('expunges only \\Deleted messages, intersected with given UIDs', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        for (let i = 1; i <= 5; i++) await deliver(store, accountId, inbox, message(`m${i}`), i % 2 ? ['\\Deleted'] : []);
        const m0 = await highest(store, accountId, inbox);
        const partial = await store.expunge(accountId, inbox, uids(5, 2, 3));
        assert.deepEqual(partial.expunged, [3, 5]);
        assert.equal(partial.modseq, m0 + 1);
        const rest = await store.expunge(accountId, inbox);
        assert.deepEqual(rest.expunged, [1]);
        const none = await store.expunge(accountId, inbox);
        assert.deepEqual(none.expunged, []);
        assert.equal(none.modseq, rest.modseq, 'nothing expunged: modseq not raised');
        const changes = await store.changesSince(accountId, inbox, m0);
        assert.deepEqual(changes.expunged, [1, 3, 5]);
        assert.deepEqual((await store.changesSince(accountId, inbox, partial.modseq)).expunged, [1]);
        assert.deepEqual(
          (await store.listSummaries(accountId, inbox)).map((s) => s.uid),
          [2, 4],
        );
      }));

    it('collects a blob when its last reference goes, not while a copy remains', () =>
      backend.withStore(async (store, probe) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const other = await store.createMailbox(accountId, 'other');
        const bytes = message('shared');
        await deliver(store, accountId, inbox, bytes, ['\\Deleted']);
        await store.copyMessages(accountId, inbox, uids(1), other.id);
        await store.storeFlags(accountId, other.id, uids(1), { op: 'remove', flags: ['\\Deleted'] });
        const [rec] = await store.getRecords(accountId, inbox, uids(1));
        assert.ok(rec);
        await store.expunge(accountId, inbox);
        await store.releaseExpunged(Date.now() + AFTER_RETENTION_MS);
        assert.ok(await probe.blobExists(rec.blobId), 'the copy still references it');
        assert.ok(await store.getAnalysis(rec.blobId));
        await store.expunge(accountId, other.id);
        assert.ok(await probe.blobExists(rec.blobId), 'copy was not \\Deleted');
        await store.storeFlags(accountId, other.id, uids(1), { op: 'add', flags: ['\\Deleted'] });
        await store.expunge(accountId, other.id);
        assert.ok(await probe.blobExists(rec.blobId), 'the tombstone holds it during the retention period');
        await store.releaseExpunged(Date.now() + AFTER_RETENTION_MS);
        assert.ok(!(await probe.blobExists(rec.blobId)), 'last reference gone: bytes deleted');
        assert.equal(await store.getAnalysis(rec.blobId), null);
        assert.ok(await probe.stagingEmpty());
        // The same bytes can come back later.
        await deliver(store, accountId, inbox, bytes);
        assert.ok(await probe.blobExists(rec.blobId));
      }));

    it('stores one blob for the same message delivered to many accounts', () =>
      backend.withStore(async (store, probe) => {
        const bytes = message('to everyone');
        const blob = await store.blobs.put(bytes);
        for (let i = 0; i < 5; i++) {
          const { accountId, inbox } = await accountWithInbox(store, `user${i}`);
          await store.appendMessages(accountId, inbox, [{ blob, analysis: fakeAnalysis(bytes), flags: [], internalDate: new Date() }]);
        }
        assert.deepEqual(await probe.blobIds(), [blob.blobId]);
      }));
  });

  describe(`${backend.name} store: sync`, () => {
    it('changesSince returns changed rows and tombstones after a modseq', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        for (let i = 1; i <= 4; i++) await deliver(store, accountId, inbox, message(`m${i}`));
        const base = await highest(store, accountId, inbox);
        await store.storeFlags(accountId, inbox, uids(2, 4), { op: 'add', flags: ['\\Seen', '\\Deleted'] });
        await store.expunge(accountId, inbox, uids(4));
        await deliver(store, accountId, inbox, message('m5'));
        const ch = await store.changesSince(accountId, inbox, base);
        assert.deepEqual(
          ch.changed.map((c) => [c.uid, c.flags]),
          [
            [2, ['\\Seen', '\\Deleted']],
            [5, []],
          ],
        );
        assert.deepEqual(ch.expunged, [4]);
        assert.equal(ch.uidNext, 6);
        assert.equal(ch.highestModSeq, base + 3);
        const all = await store.changesSince(accountId, inbox, modseq(0));
        assert.deepEqual(
          all.changed.map((c) => c.uid),
          [1, 2, 3, 5],
        );
        const none = await store.changesSince(accountId, inbox, ch.highestModSeq);
        assert.deepEqual([none.changed, none.expunged], [[], []]);
      }));

    it('claimRecent hands each new message to exactly one claimer', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        await deliver(store, accountId, inbox, message('1'));
        await deliver(store, accountId, inbox, message('2'));
        assert.equal((await store.mailboxCounts(accountId, inbox)).recent, 2);
        assert.equal(await store.claimRecent(accountId, inbox), 1);
        assert.equal((await store.mailboxCounts(accountId, inbox)).recent, 0);
        assert.equal(await store.claimRecent(accountId, inbox), 3);
        await deliver(store, accountId, inbox, message('3'));
        assert.equal((await store.mailboxCounts(accountId, inbox)).recent, 1);
        assert.equal(await store.claimRecent(accountId, inbox), 3);
        assert.equal(await store.claimRecent(accountId, inbox), 4);
      }));

    it('publishes (account, mailbox, modseq) after the commit', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const seen: Array<[number, number]> = [];
        const off = store.bus.subscribe(accountId, inbox, (m) => {
          // The listener runs after COMMIT: the store already shows the new modseq.
          void store.getMailboxById(accountId, inbox).then((mb) => seen.push([m, mb?.highestModSeq ?? -1]));
        });
        await deliver(store, accountId, inbox, message('x'));
        await store.storeFlags(accountId, inbox, uids(1), { op: 'add', flags: ['\\Deleted'] });
        await store.storeFlags(accountId, inbox, uids(1), { op: 'add', flags: ['\\Deleted'] }); // no change, no wake-up
        await store.expunge(accountId, inbox);
        off();
        await deliver(store, accountId, inbox, message('after unsubscribe'));
        assert.deepEqual(seen, [
          [2, 2],
          [3, 3],
          [4, 4],
        ]);
      }));

    it('counts, change replay, held tombstones and blob refcounts agree with the rows under random operations', async () => {
      await backend.withStore(async (store, probe) => {
        const { accountId } = await accountWithInbox(store);
        const other = await store.createMailbox(accountId, 'other');
        const flagPool = ['\\Seen', '\\Deleted', '\\Flagged', 'kw', 'KW2'];
        const op = fc.oneof(
          fc.record({ t: fc.constant('append' as const), n: fc.integer({ min: 1, max: 3 }), flags: fc.subarray(flagPool) }),
          fc.record({
            t: fc.constant('flags' as const),
            uids: fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 6 }),
            op: fc.constantFrom('add' as const, 'remove' as const, 'set' as const),
            flags: fc.subarray(flagPool),
          }),
          fc.record({ t: fc.constant('expunge' as const), uids: fc.option(fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 6 })) }),
          fc.record({ t: fc.constant('move' as const), uids: fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 4 }) }),
          fc.record({ t: fc.constant('claim' as const) }),
          // late: past the retention period, so every held tombstone is released; otherwise none is.
          fc.record({ t: fc.constant('release' as const), late: fc.boolean() }),
        );
        // Counts kept by triggers must equal what the rows say.
        const checkCounts = async (id: MailboxId, firstRecent: number) => {
          const rows = await store.listSummaries(accountId, id);
          assert.deepEqual(await store.mailboxCounts(accountId, id), {
            messages: rows.length,
            unseen: rows.filter((r) => !r.flags.includes('\\Seen')).length,
            deleted: rows.filter((r) => r.flags.includes('\\Deleted')).length,
            size: rows.reduce((sum, r) => sum + r.size, 0),
            recent: rows.filter((r) => r.uid >= firstRecent).length,
            deletedSize: rows.filter((r) => r.flags.includes('\\Deleted')).reduce((sum, r) => sum + r.size, 0),
          });
        };
        let run = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
            const box = await store.createMailbox(accountId, `box${run++}`);
            let view = new Map<number, MessageSummary>();
            let synced: ModSeq = modseq(0);
            let firstRecent = 1;
            /** Expunged UIDs whose tombstones still hold their message. */
            const held = new Set<number>();
            for (const o of ops) {
              if (o.t === 'append') {
                // A small pool of contents, so blobs are shared and collected along the way.
                const bytes = Array.from({ length: o.n }, (_, i) => message(`pool ${i % 2}`));
                const staged = await Promise.all(bytes.map((b) => store.blobs.put(b)));
                await store.appendMessages(
                  accountId,
                  box.id,
                  bytes.map((b, i) => ({ blob: staged[i]!, analysis: fakeAnalysis(b), flags: o.flags, internalDate: new Date() })),
                );
              } else if (o.t === 'flags') {
                await store.storeFlags(accountId, box.id, o.uids.map(uid), { op: o.op, flags: o.flags });
              } else if (o.t === 'expunge') {
                await store.expunge(accountId, box.id, o.uids?.map(uid));
              } else if (o.t === 'move') {
                await store.moveMessages(accountId, box.id, o.uids.map(uid), other.id);
              } else if (o.t === 'release') {
                const released = await store.releaseExpunged(Date.now() + (o.late ? AFTER_RETENTION_MS : 0));
                if (o.late) held.clear();
                else assert.equal(released, 0, 'nothing is due within the retention period');
              } else {
                assert.equal(await store.claimRecent(accountId, box.id), firstRecent);
                firstRecent = (await store.getMailboxById(accountId, box.id))?.uidNext ?? 0;
              }
              // Replaying changes onto the previous view must give the current rows.
              const ch = await store.changesSince(accountId, box.id, synced);
              assert.ok(ch.highestModSeq >= synced);
              // A held tombstone reports the message as it was when expunged (RFC 2180 §4.1).
              const gone = await store.getRecords(accountId, box.id, ch.expunged);
              assert.deepEqual(
                gone.map((r) => r.uid),
                ch.expunged,
              );
              for (const r of gone) {
                const was = view.get(r.uid);
                assert.ok(was, `expunged UID ${r.uid} was in the view`);
                assert.deepEqual([r.flags, r.size], [was.flags, was.size]);
                assert.ok(r.modseq > was.modseq && r.modseq <= ch.highestModSeq);
                held.add(r.uid);
              }
              for (const u of ch.expunged) view.delete(u);
              for (const c of ch.changed) view.set(c.uid, c);
              synced = ch.highestModSeq;
              const rows = await store.listSummaries(accountId, box.id);
              assert.deepEqual(
                [...view.values()].sort((a, b) => a.uid - b.uid),
                rows,
              );
              view = new Map(rows.map((r) => [r.uid, r]));
              const below = Array.from({ length: ch.uidNext - 1 }, (_, i) => uid(i + 1));
              assert.deepEqual(
                (await store.getRecords(accountId, box.id, below)).map((r) => r.uid),
                [...rows.map((r) => r.uid), ...held].sort((a, b) => a - b),
                'getRecords returns live messages and held tombstones',
              );
              await checkCounts(box.id, firstRecent);
              await checkCounts(other.id, 1);
              await probe.checkBlobRefs();
            }
          }),
          { numRuns: 40 },
        );
      });
    });
  });
}
