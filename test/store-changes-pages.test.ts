/**
 * changesSince in pages (store/shared/changes-pages.ts), on each backend: a
 * catch-up longer than a page, with commits landing between its pages,
 * misses nothing. Its answer as of its modseq H plus changesSince(H) read
 * afterwards must say exactly what one quiet changesSince says.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Uid } from '../src/ids.js';
import { CHANGES_PAGE } from '../src/store/shared/changes-pages.js';
import type { MailboxChanges, MessageSummary } from '../src/store/types.js';
import { accountWithInbox, backends, fakeAnalysis, message } from './store-fixtures.js';

/** More than two pages of changed rows, and more than a page of tombstones. */
const MESSAGES = CHANGES_PAGE * 2 + 500;

/** `first`, then what changed after it (`then`), as one answer: each message's latest state, none expunged. */
function combine(first: MailboxChanges, then: MailboxChanges): { changed: MessageSummary[]; expunged: number[] } {
  const changed = new Map<number, MessageSummary>(first.changed.map((s) => [s.uid, s]));
  for (const s of then.changed) changed.set(s.uid, s);
  for (const u of then.expunged) changed.delete(u);
  return {
    changed: [...changed.values()].sort((a, b) => a.uid - b.uid),
    expunged: [...new Set([...first.expunged, ...then.expunged])].sort((a, b) => a - b),
  };
}

for (const backend of backends) {
  describe(`${backend.name} store: changesSince in pages`, () => {
    it('a catch-up with commits between its pages misses nothing', () =>
      backend.withStore(async (store) => {
        const { accountId, inbox } = await accountWithInbox(store);
        const bytes = message('paged');
        const blob = await store.blobs.put(bytes);
        const since = (await store.getMailboxById(accountId, inbox))!.highestModSeq;
        const uids: Uid[] = [];
        for (let done = 0; done < MESSAGES; done += 1000) {
          const batch = Array.from({ length: Math.min(1000, MESSAGES - done) }, () => ({
            blob,
            analysis: fakeAnalysis(bytes),
            flags: [],
            internalDate: new Date(),
          }));
          uids.push(...(await store.appendMessages(accountId, inbox, batch)).uids);
        }
        await store.storeFlags(accountId, inbox, uids, { op: 'add', flags: ['\\Flagged'] });
        const doomed = uids.filter((u) => u % 3 === 0);
        await store.storeFlags(accountId, inbox, doomed, { op: 'add', flags: ['\\Deleted'] });
        await store.expunge(accountId, inbox);

        // Commits while the catch-up reads: flags of rows on either side of its cursor, an expunge, a new message.
        const reading = store.changesSince(accountId, inbox, since);
        const writing = (async () => {
          for (const u of [uids[1]!, uids[uids.length - 2]!, uids[CHANGES_PAGE + 1]!]) {
            await new Promise((r) => setImmediate(r));
            await store.storeFlags(accountId, inbox, [u], { op: 'add', flags: ['\\Seen'] });
          }
          await store.storeFlags(accountId, inbox, [uids[4]!], { op: 'add', flags: ['\\Deleted'] });
          await store.expunge(accountId, inbox);
          await store.appendMessages(accountId, inbox, [{ blob, analysis: fakeAnalysis(bytes), flags: ['\\Answered'], internalDate: new Date() }]);
        })();
        const [paged] = await Promise.all([reading, writing]);

        const ascending = (xs: readonly number[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
        assert.ok(ascending(paged.changed.map((s) => s.uid)));
        assert.ok(ascending(paged.expunged));
        const gone = new Set<number>(paged.expunged);
        assert.ok(paged.changed.every((s) => !gone.has(s.uid) && s.modseq <= paged.highestModSeq));
        assert.ok(paged.expunged.length >= doomed.length);

        const rest = await store.changesSince(accountId, inbox, paged.highestModSeq);
        const quiet = await store.changesSince(accountId, inbox, since);
        assert.equal(quiet.changed.length + quiet.expunged.length, MESSAGES + 1);
        assert.deepEqual(combine(paged, rest), { changed: quiet.changed, expunged: quiet.expunged });
        assert.equal(rest.highestModSeq, quiet.highestModSeq);
      }));
  });
}
