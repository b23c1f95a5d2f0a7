/**
 * Scale check: a 100,000-message mailbox. Prints timings as test diagnostics;
 * the bounds are loose (shared 2-core CI machines) and only catch regressions
 * of an order of magnitude, such as a per-row query or a full scan per call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { migrate } from '../src/store/sqlite/schema.js';
import { prepareStatements } from '../src/store/sqlite/statements.js';
import type { Uid } from '../src/ids.js';
import { modseq, uid } from '../src/ids.js';
import { accountWithInbox, backends, fakeAnalysis, message } from './store-fixtures.js';

const COUNT = 100_000;
const BATCH = 1000;

function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  return fn().then((v) => [v, performance.now() - t0]);
}

for (const backend of backends) {
  describe(`${backend.name} store: 100k messages`, () => {
    it('lists summaries, fetches records and syncs quickly', (t) =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const bytes = message('bulk');
        const blob = await store.blobs.put(bytes);
        const analysis = fakeAnalysis(bytes);
        const flagSets = [[], ['\\Seen'], ['\\Seen', '\\Flagged'], ['\\Seen', 'Work']];
        const [, appendMs] = await timed(async () => {
          for (let i = 0; i < COUNT; i += BATCH) {
            const batch = Array.from({ length: BATCH }, (_, j) => ({
              blob,
              analysis,
              flags: flagSets[(i + j) % flagSets.length]!,
              internalDate: new Date(1_700_000_000_000 + i + j),
            }));
            await store.appendMessages(accountId, inbox, batch);
          }
        });
        t.diagnostic(`append ${COUNT} in batches of ${BATCH}: ${appendMs.toFixed(0)} ms`);

        const [summaries, listMs] = await timed(() => store.listSummaries(accountId, inbox));
        t.diagnostic(`listSummaries(${COUNT}): ${listMs.toFixed(1)} ms`);
        assert.equal(summaries.length, COUNT);
        assert.equal(summaries[COUNT - 1]?.uid, COUNT);
        assert.deepEqual(summaries[2]?.flags, ['\\Seen', '\\Flagged']);
        summaries[0]?.flags.push('mutated');
        assert.deepEqual(summaries[4]?.flags, [], 'flag lists are not shared between summaries');
        assert.ok(listMs < 3000, `listSummaries took ${listMs} ms`);

        const wanted: Uid[] = Array.from({ length: BATCH }, (_, i) => uid(1 + i * 97));
        const [records, recordsMs] = await timed(() => store.getRecords(accountId, inbox, wanted));
        t.diagnostic(`getRecords(${BATCH} scattered uids): ${recordsMs.toFixed(1)} ms`);
        assert.deepEqual(
          records.map((r) => r.uid),
          wanted,
        );
        assert.ok(recordsMs < 3000, `getRecords took ${recordsMs} ms`);

        const [counts, countsMs] = await timed(() => store.mailboxCounts(accountId, inbox));
        t.diagnostic(`mailboxCounts: ${countsMs.toFixed(2)} ms`);
        assert.deepEqual(counts, { messages: COUNT, unseen: COUNT / 4, deleted: 0, size: COUNT * bytes.length, recent: COUNT, deletedSize: 0 });

        const mb = await store.getMailboxById(accountId, inbox);
        assert.ok(mb);
        await store.storeFlags(accountId, inbox, [uid(5), uid(50_000)], { op: 'add', flags: ['\\Deleted'] });
        const [changes, changesMs] = await timed(() => store.changesSince(accountId, inbox, mb.highestModSeq));
        t.diagnostic(`changesSince (2 of ${COUNT} changed): ${changesMs.toFixed(2)} ms`);
        assert.deepEqual(
          changes.changed.map((c) => c.uid),
          [5, 50_000],
        );
        assert.ok(changesMs < 2000, `changesSince took ${changesMs} ms`);

        const [expunged, expungeMs] = await timed(() => store.expunge(accountId, inbox));
        t.diagnostic(`expunge (2 of ${COUNT} deleted): ${expungeMs.toFixed(2)} ms`);
        assert.deepEqual(expunged.expunged, [5, 50_000]);
        assert.ok(expungeMs < 2000, `expunge took ${expungeMs} ms`);
        assert.deepEqual((await store.changesSince(accountId, inbox, modseq(expunged.modseq - 1))).expunged, [5, 50_000]);

        const all = summaries.filter((x) => x.uid !== 5 && x.uid !== 50_000).map((x) => x.uid);
        const [stored, storeMs] = await timed(() => store.storeFlags(accountId, inbox, all, { op: 'add', flags: ['\\Answered'] }));
        t.diagnostic(`storeFlags on all ${all.length}: ${storeMs.toFixed(0)} ms`);
        assert.equal(stored.changed.length, all.length);
        assert.ok(storeMs < 10_000, `storeFlags took ${storeMs} ms`);
      }));
  });
}

describe('SQLite store: query plans', () => {
  it('answers per-change queries from indexes, never by walking a whole mailbox', () => {
    const db = new Database(':memory:');
    try {
      migrate(db);
      const st = prepareStatements(db);
      const plan = (sql: string) =>
        db
          .prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .all(...Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 1))
          .map((r) => (r as { detail: string }).detail)
          .join(' | ');
      const expectations: Array<[string, RegExp]> = [
        [st.changedPage.source, /INDEX messages_modseq \(account_id=\? AND mailbox_id=\? AND \(modseq,uid\)>\(\?,\?\)\)/],
        [st.expungedPage.source, /PRIMARY KEY \(account_id=\? AND mailbox_id=\? AND \(modseq,uid\)>\(\?,\?\)\)/],
        [st.deletedUids.source, /INDEX messages_deleted/],
        [st.records.source, /PRIMARY KEY \(account_id=\? AND mailbox_id=\? AND uid=\?\)/],
        [st.deletedUidsIn.source, /\(account_id=\? AND mailbox_id=\? AND uid=\?\)/],
        [st.garbage.source, /INDEX blobs_garbage/],
        [st.heldRecords.source, /INDEX expunged_held \(account_id=\? AND mailbox_id=\? AND uid=\?\)/],
        [st.releaseTombstones.source, /INDEX expunged_due \(expunged_at<\?\)/],
        [st.insertTombstones.source, /PRIMARY KEY \(account_id=\? AND mailbox_id=\? AND uid=\?\)/],
        [st.modseqsOf.source, /PRIMARY KEY \(account_id=\? AND mailbox_id=\?\)/],
      ];
      for (const [sql, expected] of expectations) {
        const detail = plan(sql);
        assert.match(detail, expected, sql);
        assert.doesNotMatch(detail, /SCAN (messages|blobs|expunged|mailboxes)(?! USING)/, sql);
      }
    } finally {
      db.close();
    }
  });
});
