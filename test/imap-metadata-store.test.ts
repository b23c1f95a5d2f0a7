/**
 * The store side of METADATA (RFC 5464): getMetadata / setMetadata on the
 * SQLite store — depth, limits and all-or-nothing, the mailbox modseq bump
 * (RFC 7162 §3.2), entries following RENAME and going with DELETE, account
 * isolation, persistence and the schema migration of an older database.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AccountId, MailboxId } from '../src/ids.js';
import { openDatabase } from '../src/store/sqlite/db.js';
import { migrate, MIGRATIONS } from '../src/store/sqlite/schema.js';
import { openStore } from '../src/store/open.js';
import type { MailStore, MetadataEntry } from '../src/store/types.js';
import { StoreError } from '../src/store/types.js';
import { tempDir, withStore } from './store-fixtures.js';

const v = (s: string): Buffer => Buffer.from(s);
const show = (entries: MetadataEntry[]): string[] => entries.map((e) => `${e.name}=${e.value.toString()}`);

async function account(store: MailStore, name = 'meta'): Promise<{ id: AccountId; mailbox: (n: string) => Promise<MailboxId> }> {
  const acct = await store.createAccount(name, 'x');
  return {
    id: acct.id,
    mailbox: async (n) => {
      const mb = (await store.getMailbox(acct.id, n)) ?? (await store.createMailbox(acct.id, n));
      return mb.id;
    },
  };
}

test('entries are set, replaced, removed and found by depth, case-insensitively', async () => {
  await withStore(async (store) => {
    const { id, mailbox } = await account(store);
    const inbox = await mailbox('INBOX');
    await store.setMetadata(id, inbox, [
      ['/private/filters/values/small', v('SMALLER 5000')],
      ['/private/filters/values/Boss', v('FROM boss')],
      ['/private/filters/values/boss/deep', v('deeper')],
      ['/private/filtersX', v('not below')],
      ['/private/comment', v('first')],
    ]);
    await store.setMetadata(id, inbox, [['/PRIVATE/Comment', v('second')]]);
    assert.deepEqual(show(await store.getMetadata(id, inbox, ['/private/comment', '/shared/comment'])), ['/private/comment=second']);
    assert.deepEqual(show(await store.getMetadata(id, inbox, ['/private/filters/values'], 1)), [
      '/private/filters/values/boss=FROM boss',
      '/private/filters/values/small=SMALLER 5000',
    ]);
    assert.deepEqual(show(await store.getMetadata(id, inbox, ['/private/filters'], 'infinity')), [
      '/private/filters/values/boss=FROM boss',
      '/private/filters/values/boss/deep=deeper',
      '/private/filters/values/small=SMALLER 5000',
    ]);
    assert.deepEqual(await store.getMetadata(id, inbox, ['/private/filters/values'], 0), []);
    await store.setMetadata(id, inbox, [
      ['/private/comment', null],
      ['/private/never-set', null],
    ]);
    assert.deepEqual(await store.getMetadata(id, inbox, ['/private/comment']), []);
    // Binary values keep every octet.
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a]);
    await store.setMetadata(id, null, [['/shared/vendor/x/bin', bytes]]);
    assert.deepEqual((await store.getMetadata(id, null, ['/shared/vendor/x/bin']))[0]?.value, bytes);
  });
});

test('server-level and mailbox entries are separate, and so are accounts', async () => {
  await withStore(async (store) => {
    const a = await account(store, 'a');
    const b = await account(store, 'b');
    await store.setMetadata(a.id, null, [['/shared/comment', v('server of a')]]);
    await store.setMetadata(a.id, await a.mailbox('INBOX'), [['/shared/comment', v('inbox of a')]]);
    assert.deepEqual(show(await store.getMetadata(a.id, null, ['/shared/comment'])), ['/shared/comment=server of a']);
    assert.deepEqual(await store.getMetadata(b.id, null, ['/shared/comment']), []);
    assert.deepEqual(await store.getMetadata(b.id, await b.mailbox('INBOX'), ['/shared/comment']), []);
    // A mailbox id of another account is not reachable.
    await assert.rejects(store.getMetadata(b.id, await a.mailbox('INBOX'), ['/shared/comment']), (e) => e instanceof StoreError && e.code === 'NONEXISTENT');
    await assert.rejects(
      store.setMetadata(b.id, await a.mailbox('INBOX'), [['/shared/comment', v('x')]]),
      (e) => e instanceof StoreError && e.code === 'NONEXISTENT',
    );
    await store.deleteAccount(a.id);
    const again = await account(store, 'a');
    assert.deepEqual(await store.getMetadata(again.id, null, ['/shared/comment']), []);
  });
});

test('maxEntries: a change that adds beyond the limit changes nothing; removals always pass', async () => {
  await withStore(async (store) => {
    const { id, mailbox } = await account(store);
    const box = await mailbox('Work');
    await store.setMetadata(
      id,
      box,
      [
        ['/private/a', v('1')],
        ['/private/b', v('2')],
      ],
      3,
    );
    const before = (await store.getMailboxById(id, box))!.highestModSeq;
    await assert.rejects(
      store.setMetadata(
        id,
        box,
        [
          ['/private/a', v('changed')],
          ['/private/c', v('3')],
          ['/private/d', v('4')],
        ],
        3,
      ),
      (e) => e instanceof StoreError && e.code === 'LIMIT',
    );
    assert.deepEqual(show(await store.getMetadata(id, box, ['/private'], 'infinity')), ['/private/a=1', '/private/b=2']);
    assert.equal((await store.getMailboxById(id, box))!.highestModSeq, before);
    // Replacing and swapping within the limit is fine, so is shrinking below a lowered limit.
    await store.setMetadata(
      id,
      box,
      [
        ['/private/a', null],
        ['/private/c', v('3')],
        ['/private/d', v('4')],
      ],
      3,
    );
    await store.setMetadata(id, box, [['/private/b', null]], 1);
    assert.deepEqual(show(await store.getMetadata(id, box, ['/private'], 'infinity')), ['/private/c=3', '/private/d=4']);
  });
});

test('a changed mailbox annotation raises its modseq and wakes its watchers; an unchanged one does not', async () => {
  await withStore(async (store) => {
    const { id, mailbox } = await account(store);
    const box = await mailbox('Work');
    const other = await mailbox('Other');
    const woken: number[] = [];
    const stop = store.bus.subscribe(id, box, (m) => woken.push(m));
    const start = (await store.getMailboxById(id, box))!.highestModSeq;
    await store.setMetadata(id, box, [['/private/comment', v('x')]]);
    assert.equal((await store.getMailboxById(id, box))!.highestModSeq, start + 1);
    assert.deepEqual(woken, [start + 1]);
    await store.setMetadata(id, box, [
      ['/private/comment', v('x')],
      ['/private/absent', null],
    ]);
    await store.setMetadata(id, null, [['/private/comment', v('server')]]);
    const otherBefore = (await store.getMailboxById(id, other))!.highestModSeq;
    await store.setMetadata(id, other, [['/private/comment', v('y')]]);
    assert.equal((await store.getMailboxById(id, box))!.highestModSeq, start + 1);
    assert.equal((await store.getMailboxById(id, other))!.highestModSeq, otherBefore + 1);
    assert.deepEqual(woken, [start + 1]);
    // The bump is a change like any other: changesSince reports the new highest modseq.
    assert.equal((await store.changesSince(id, box, start)).highestModSeq, start + 1);
    stop();
  });
});

test('entries follow RENAME, are copied by renaming INBOX, and go with DELETE', async () => {
  await withStore(async (store) => {
    const { id, mailbox } = await account(store);
    const parent = await mailbox('Projects');
    const child = await mailbox('Projects/Q1');
    await store.setMetadata(id, parent, [['/private/comment', v('parent')]]);
    await store.setMetadata(id, child, [['/private/comment', v('child')]]);
    await store.renameMailbox(id, 'Projects', 'Archive/Projects');
    assert.deepEqual(show(await store.getMetadata(id, (await store.getMailbox(id, 'Archive/Projects/Q1'))!.id, ['/private/comment'])), [
      '/private/comment=child',
    ]);
    assert.deepEqual(show(await store.getMetadata(id, (await store.getMailbox(id, 'Archive/Projects'))!.id, ['/private/comment'])), [
      '/private/comment=parent',
    ]);

    const inbox = await mailbox('INBOX');
    await store.setMetadata(id, inbox, [['/shared/comment', v('inbox note')]]);
    await store.renameMailbox(id, 'INBOX', 'Old Inbox');
    assert.deepEqual(show(await store.getMetadata(id, inbox, ['/shared/comment'])), ['/shared/comment=inbox note']);
    const moved = (await store.getMailbox(id, 'Old Inbox'))!.id;
    assert.deepEqual(show(await store.getMetadata(id, moved, ['/shared/comment'])), ['/shared/comment=inbox note']);

    await store.deleteMailbox(id, moved);
    const recreated = await mailbox('Old Inbox');
    assert.deepEqual(await store.getMetadata(id, recreated, ['/shared/comment']), []);
  });
});

test('entries survive a restart, and an older database gains the table', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // A database from before the metadata migration (found by probing: later ones may follow it).
    const probe = openDatabase(':memory:');
    const hasTable = (): boolean => probe.prepare("SELECT 1 FROM sqlite_master WHERE name = 'metadata'").get() !== undefined;
    let version = 0;
    while (!hasTable()) migrate(probe, MIGRATIONS.slice(0, ++version));
    probe.close();
    const db = openDatabase(join(dir, 'mailkeep.sqlite3'));
    migrate(db, MIGRATIONS.slice(0, version - 1));
    assert.equal(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'metadata'").get(), undefined);
    db.close();
    let store = await openStore({ dataDir: dir, defaultMailboxes: [] });
    const { id } = await account(store);
    await store.setMetadata(id, null, [['/shared/comment', v('kept')]]);
    await store.close();
    store = await openStore({ dataDir: dir, defaultMailboxes: [] });
    assert.deepEqual(show(await store.getMetadata(id, null, ['/shared/comment'])), ['/shared/comment=kept']);
    await store.close();
  } finally {
    await cleanup();
  }
});
