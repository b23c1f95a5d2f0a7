/**
 * The shared mailbox index hands the same array to every SELECT; views copy
 * on their first change and the index copies before applying store changes,
 * so no session ever sees another's changes before its own sync.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { MailboxIndexCache } from '../src/imap/session/mailbox-index.js';
import { MailboxView } from '../src/imap/session/mailbox-view.js';
import { analyzeMessage } from '../src/mime/analyze.js';
import { openStore } from '../src/store/open.js';

/** A fresh store and account; `add` appends small messages to its INBOX. */
async function fixture(name: string) {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-index-'));
  const store = await openStore({ dataDir });
  const account = await store.createAccount(name, await hashPassword('pw'));
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  const bytes = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const blob = await store.blobs.put(bytes);
  const analysis = analyzeMessage(bytes);
  const add = (flags: readonly string[][]) =>
    store.appendMessages(account.id, inbox.id, flags.map((f) => ({ blob, analysis, flags: [...f], internalDate: new Date() })));
  const close = async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  return { store, account, inbox, add, close };
}

test('snapshots share one array until a view or the index changes it', async () => {
  const { store, account, inbox, add, close } = await fixture('ix');
  try {
    await add([['\\Seen'], ['$Work'], ['\\Seen']]);

    const cache = new MailboxIndexCache(store);
    const a = await cache.snapshot(account.id, inbox.id);
    const b = await cache.snapshot(account.id, inbox.id);
    assert.equal(a.summaries, b.summaries, 'no copy per SELECT');
    assert.deepEqual(a.facts, { keywords: ['$Work'], firstUnseen: 1 });

    const viewA = new MailboxView(inbox.id, 'INBOX', a.uidValidity, inbox.uidNext, a.modseq, a.summaries, a.facts.keywords);
    const viewB = new MailboxView(inbox.id, 'INBOX', b.uidValidity, inbox.uidNext, b.modseq, b.summaries, b.facts.keywords);
    const changed = await store.storeFlags(account.id, inbox.id, [viewA.messages[0]!.uid], 'add', ['\\Flagged']);
    viewA.update(changed.changed[0]!);
    assert.ok(viewA.messages[0]!.flags.includes('\\Flagged'));
    assert.ok(!viewB.messages[0]!.flags.includes('\\Flagged'), 'view B is untouched until its own sync');
    assert.ok(!a.summaries[0]!.flags.includes('\\Flagged'), 'the shared index array is untouched');

    // The index applies the store's change to a copy: earlier snapshots keep their contents.
    await store.expunge(account.id, inbox.id, []);
    const c = await cache.snapshot(account.id, inbox.id);
    assert.notEqual(c.summaries, a.summaries);
    assert.ok(c.summaries[0]!.flags.includes('\\Flagged'));
    assert.equal(viewB.messages.length, 3);
    assert.ok(!viewB.messages[0]!.flags.includes('\\Flagged'));
  } finally {
    await close();
  }
});

test('views still holding the array a change applies to adopt the index result; others keep their own', async () => {
  const { store, account, inbox, add: addFlags, close } = await fixture('ad');
  try {
    const add = (n: number) => addFlags(Array.from({ length: n }, () => []));
    await add(2);
    const cache = new MailboxIndexCache(store);
    const snap = await cache.snapshot(account.id, inbox.id);

    await add(1);
    const changes = await cache.changesSince(account.id, inbox.id, snap.modseq);
    assert.equal(changes.successor?.basis, snap.summaries, 'the change applies to the snapshot array');
    assert.deepEqual(changes.successor.summaries.map((s) => s.uid), [...snap.summaries, ...changes.changed].map((s) => s.uid));
    assert.equal(snap.summaries.length, 2, 'the array views hold is never changed');
    const again = await cache.changesSince(account.id, inbox.id, snap.modseq);
    assert.equal(again.successor?.summaries, changes.successor.summaries, 'every view adopts the same array');

    // An expunge removes messages a view must still report: no successor then.
    await store.storeFlags(account.id, inbox.id, [snap.summaries[0]!.uid], 'add', ['\\Deleted']);
    const before = await cache.snapshot(account.id, inbox.id);
    await store.expunge(account.id, inbox.id);
    const gone = await cache.changesSince(account.id, inbox.id, before.modseq);
    assert.equal(gone.expunged.length, 1);
    assert.equal(gone.successor, undefined);
  } finally {
    await close();
  }
});

test('a flag change this process committed is applied from its result, without reading the rows back', async () => {
  const { store, account, inbox, add, close } = await fixture('wt');
  try {
    await add([[], [], []]);
    const cache = new MailboxIndexCache(store);
    const snap = await cache.snapshot(account.id, inbox.id);
    let reads = 0;
    const changesSince = store.changesSince.bind(store);
    store.changesSince = (...args) => (reads++, changesSince(...args));

    const uids = snap.summaries.map((s) => s.uid);
    const res = await cache.storeFlags(account.id, inbox.id, uids.slice(0, 2), 'add', ['\\Flagged']);
    const changes = await cache.changesSince(account.id, inbox.id, snap.modseq);
    assert.equal(reads, 0, 'answered from the commit result');
    assert.deepEqual(changes.changed.map((s) => [s.uid, s.flags]), uids.slice(0, 2).map((u) => [u, ['\\Flagged']]));
    assert.equal(changes.highestModSeq, res.modseq);

    // Two commits, the first not applied: the second cannot be applied alone, the store is asked.
    await store.storeFlags(account.id, inbox.id, [uids[2]!], 'add', ['\\Seen']);
    await cache.storeFlags(account.id, inbox.id, [uids[0]!], 'add', ['\\Seen']);
    const after = await cache.snapshot(account.id, inbox.id);
    assert.equal(reads, 1);
    assert.deepEqual(after.summaries.map((s) => [...s.flags].sort()), [['\\Flagged', '\\Seen'], ['\\Flagged'], ['\\Seen']]);
  } finally {
    await close();
  }
});
