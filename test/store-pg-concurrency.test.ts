/**
 * Concurrent writers on two PostgreSQL store instances (two nodes' pools):
 * COPY and MOVE in both directions, appends under a quota, flag changes,
 * expunges and renames at once. Lock ordering (pg-store.ts) must keep
 * PostgreSQL from ever detecting a deadlock, and afterwards every count,
 * refcount and UID must agree with the rows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { MailboxId, Uid } from '../src/ids.js';
import { modseq, uid } from '../src/ids.js';
import type { OpenedStore } from '../src/store/open.js';
import { StoreError } from '../src/store/types.js';
import { accountWithInbox, backends, fakeAnalysis, message } from './store-fixtures.js';

const postgres = backends.find((b) => b.name === 'PostgreSQL');

/** PostgreSQL's count of deadlocks detected in a database (statistics are flushed within about a second). */
async function deadlocks(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SELECT pg_stat_clear_snapshot()');
    return Number((await c.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);
  } finally {
    await c.end();
  }
}

let seed = 7;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

describe('PostgreSQL store: concurrent writers on two instances', { skip: postgres ? false : 'no PostgreSQL test server' }, () => {
  it('never deadlock, lose nothing, and leave consistent counts and refcounts', () =>
    postgres!.withStore(async (a, probe) => {
      const b = await probe.open();
      try {
        const { accountId, inbox } = await accountWithInbox(a, 'busy');
        const boxes: MailboxId[] = [inbox, (await a.createMailbox(accountId, 'one')).id, (await a.createMailbox(accountId, 'two')).id];
        await a.setQuota(accountId, { storage: null, messages: 400 });
        const before = await deadlocks(probe.location.url!);
        const pool = ['shared a', 'shared b', 'shared c'].map((s) => message(s));
        const worker = async (store: OpenedStore, w: number) => {
          for (let i = 0; i < 60; i++) {
            const from = boxes[rnd(3)]!;
            const to = boxes[rnd(3)]!;
            const some = async (): Promise<Uid[]> => (await store.listSummaries(accountId, from)).filter(() => rnd(3) === 0).map((s) => s.uid);
            try {
              switch (rnd(7)) {
                case 0:
                case 1: {
                  const bytes = [pool[rnd(3)]!, message(`w${w} i${i}`)];
                  const staged = await Promise.all(bytes.map((x) => store.blobs.put(x)));
                  await store.appendMessages(
                    accountId,
                    from,
                    bytes.map((x, k) => ({ blob: staged[k]!, analysis: fakeAnalysis(x), flags: [], internalDate: new Date() })),
                  );
                  break;
                }
                case 2:
                  await store.copyMessages(accountId, from, await some(), to);
                  break;
                case 3:
                  await store.moveMessages(accountId, from, await some(), to);
                  break;
                case 4:
                  await store.storeFlags(accountId, from, await some(), { op: rnd(2) ? 'add' : 'remove', flags: ['\\Deleted', `kw${w}`] });
                  break;
                case 5:
                  await store.expunge(accountId, from);
                  break;
                default:
                  await store.releaseExpunged(Date.now() + 2 * 60 * 60 * 1000);
              }
            } catch (err) {
              // The only failure a client may see here: the quota.
              if (!(err instanceof StoreError && err.code === 'OVERQUOTA')) throw err;
            }
          }
        };
        await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((w) => worker(w % 2 ? a : b, w)));
        await new Promise((resolve) => setTimeout(resolve, 1100));
        assert.equal(await deadlocks(probe.location.url!), before, 'PostgreSQL detected no deadlock');

        let total = 0;
        for (const id of boxes) {
          const rows = await a.listSummaries(accountId, id);
          total += rows.length;
          assert.deepEqual(await b.mailboxCounts(accountId, id), {
            messages: rows.length,
            unseen: rows.filter((r) => !r.flags.includes('\\Seen')).length,
            deleted: rows.filter((r) => r.flags.includes('\\Deleted')).length,
            size: rows.reduce((sum, r) => sum + r.size, 0),
            recent: rows.length,
            deletedSize: rows.filter((r) => r.flags.includes('\\Deleted')).reduce((sum, r) => sum + r.size, 0),
          });
          // Replaying every change gives the rows; UIDs and modseqs stay below the mailbox's counters.
          const all = await b.changesSince(accountId, id, modseq(0));
          assert.deepEqual(all.changed, rows);
          assert.ok(rows.every((r) => r.uid < all.uidNext && r.modseq <= all.highestModSeq));
          assert.ok(all.expunged.every((u) => u < all.uidNext && !rows.some((r) => r.uid === u)));
          assert.equal(new Set([...all.expunged, ...rows.map((r) => r.uid)]).size, all.expunged.length + rows.length);
        }
        assert.ok(total <= 400, 'the message quota held under concurrent appends');
        assert.equal((await a.getQuotaUsage(accountId)).usedMessages, total);
        await probe.checkBlobRefs();
        assert.deepEqual(await a.getRecords(accountId, inbox, [uid(999_999)]), []);
      } finally {
        await b.close();
      }
    }));
});
