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
import { checkView } from '../src/imap/session/view-check.js';
import type { ImapError } from '../src/imap/errors.js';
import { analyzeMessage } from '../src/mime/analyze.js';
import { openStore } from '../src/store/open.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';

/** A fresh store and account; `add` appends small messages to its INBOX (or another mailbox). */
async function fixture(name: string) {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-index-'));
  const store = await openStore({ dataDir });
  const account = await store.createAccount(name, await hashPassword('pw'));
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  const bytes = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const blob = await store.blobs.put(bytes);
  const analysis = analyzeMessage(bytes);
  const add = (flags: readonly string[][], mailboxId = inbox.id) =>
    store.appendMessages(
      account.id,
      mailboxId,
      flags.map((f) => ({ blob, analysis, flags: [...f], internalDate: new Date() })),
    );
  const close = async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  return { store, account, inbox, add, close, dataDir };
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
    const changed = await store.storeFlags(account.id, inbox.id, [viewA.messages[0]!.uid], { op: 'add', flags: ['\\Flagged'] });
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

test('views still holding the array a change applies to take the index result; others keep their own', async () => {
  const { store, account, inbox, add: addFlags, close } = await fixture('ad');
  try {
    const add = (n: number) => addFlags(Array.from({ length: n }, () => []));
    await add(2);
    const cache = new MailboxIndexCache(store);
    const snap = await cache.snapshot(account.id, inbox.id);

    await add(1);
    const changes = await cache.changesSince(account.id, inbox.id, snap.modseq);
    assert.equal(changes.result?.appliedTo, snap.summaries, 'the change applies to the snapshot array');
    assert.deepEqual(
      changes.result.summaries.map((s) => s.uid),
      [...snap.summaries, ...changes.changed].map((s) => s.uid),
    );
    assert.equal(snap.summaries.length, 2, 'the array views hold is never changed');
    const again = await cache.changesSince(account.id, inbox.id, snap.modseq);
    assert.equal(again.result?.summaries, changes.result.summaries, 'every view takes the same array');

    // An expunge removes messages a view must still report: no result to take then.
    await store.storeFlags(account.id, inbox.id, [snap.summaries[0]!.uid], { op: 'add', flags: ['\\Deleted'] });
    const before = await cache.snapshot(account.id, inbox.id);
    await store.expunge(account.id, inbox.id);
    const gone = await cache.changesSince(account.id, inbox.id, before.modseq);
    assert.equal(gone.expunged.length, 1);
    assert.equal(gone.result, undefined);
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
    const res = await cache.storeFlags(account.id, inbox.id, uids.slice(0, 2), { op: 'add', flags: ['\\Flagged'] });
    const changes = await cache.changesSince(account.id, inbox.id, snap.modseq);
    assert.equal(reads, 0, 'answered from the commit result');
    assert.deepEqual(
      changes.changed.map((s) => [s.uid, s.flags]),
      uids.slice(0, 2).map((u) => [u, ['\\Flagged']]),
    );
    assert.equal(changes.highestModSeq, res.modseq);

    // Two commits, the first not applied: the second cannot be applied alone, the store is asked.
    await store.storeFlags(account.id, inbox.id, [uids[2]!], { op: 'add', flags: ['\\Seen'] });
    await cache.storeFlags(account.id, inbox.id, [uids[0]!], { op: 'add', flags: ['\\Seen'] });
    const after = await cache.snapshot(account.id, inbox.id);
    assert.equal(reads, 1);
    assert.deepEqual(
      after.summaries.map((s) => [...s.flags].sort()),
      [['\\Flagged', '\\Seen'], ['\\Flagged'], ['\\Seen']],
    );
  } finally {
    await close();
  }
});

test("a STORE that changes nothing does not carry the index past another writer's commit", async () => {
  // Found by the mixed workload on PostgreSQL: a no-op STORE answers the mailbox's current
  // modseq, here an APPEND's; taking it as the STORE's own commit lost the appended message.
  const { store, account, inbox, add, close } = await fixture('np');
  try {
    await add([['\\Flagged']]);
    const cache = new MailboxIndexCache(store);
    const snap = await cache.snapshot(account.id, inbox.id);
    await add([[]]);
    const res = await cache.storeFlags(account.id, inbox.id, [snap.summaries[0]!.uid], { op: 'add', flags: ['\\Flagged'] });
    assert.deepEqual(res.changed, [], 'nothing changed');
    assert.equal(res.modseq, snap.modseq + 1, "the answer is the APPEND's modseq");
    const after = await cache.snapshot(account.id, inbox.id);
    assert.equal(after.summaries.length, 2, 'the appended message is in the index');
    assert.equal(after.modseq, res.modseq);
  } finally {
    await close();
  }
});

test("another process's commits reach each mailbox's index at that mailbox's settle, whichever settled first", async () => {
  // Settling one mailbox must never pass another off as current (as a SQLite settle that read only
  // the mailbox it names yet took every watched one as checked would). The reader's poll timer is
  // off: only settle announces.
  const { store, account, inbox, add, close, dataDir } = await fixture('xs');
  const reader = await openSqliteStore({ path: join(dataDir, 'mailkeep.sqlite3'), blobDir: join(dataDir, 'blobs'), pollIntervalMs: 3_600_000 });
  try {
    const work = await store.createMailbox(account.id, 'Work');
    await add([[]]);
    const cache = new MailboxIndexCache(reader);
    assert.equal((await cache.snapshot(account.id, inbox.id)).summaries.length, 1);
    assert.equal((await cache.snapshot(account.id, work.id)).summaries.length, 0);
    await add([['\\Seen']]);
    await add([[]], work.id);
    assert.equal((await cache.snapshot(account.id, inbox.id)).summaries.length, 2);
    assert.equal((await cache.snapshot(account.id, work.id)).summaries.length, 1, "INBOX's settle left Work's commit to Work's");
    await add([[], []], work.id);
    assert.equal((await cache.snapshot(account.id, inbox.id)).summaries.length, 2);
    assert.equal((await cache.snapshot(account.id, work.id)).summaries.length, 3);
  } finally {
    await reader.close();
    await close();
  }
});

test('the view check accepts a view that lags other commits and names one that diverges', async () => {
  const { store, account, inbox, add, close } = await fixture('vc');
  try {
    await add([['\\Seen'], ['$Work'], []]);
    const snap = await new MailboxIndexCache(store).snapshot(account.id, inbox.id);
    const fresh = () => new MailboxView(inbox.id, 'INBOX', snap.uidValidity, inbox.uidNext, snap.modseq, snap.summaries, snap.facts.keywords);
    const [u1, u2, u3] = snap.summaries.map((s) => s.uid);
    await checkView(store, account.id, fresh());

    // Commits after the view's modseq: a lagging view is still right as of its own modseq.
    await store.storeFlags(account.id, inbox.id, [u1!], { op: 'add', flags: ['\\Flagged'] });
    await add([[]]);
    await store.storeFlags(account.id, inbox.id, [u3!], { op: 'add', flags: ['\\Deleted'] });
    await store.expunge(account.id, inbox.id);
    await checkView(store, account.id, fresh());

    // A view whose flags were edited without the modseq that goes with them diverges.
    const edited = fresh();
    edited.update({ ...edited.messages[1]!, flags: ['$Work', '\\Answered'] });
    await assert.rejects(checkView(store, account.id, edited), (e: ImapError) => e.code === 'SERVERBUG' && e.message.includes(`UID ${u2}: view has modseq`));
    // A keyword the client was never told of.
    const unannounced = new MailboxView(inbox.id, 'INBOX', snap.uidValidity, inbox.uidNext, snap.modseq, snap.summaries, []);
    await assert.rejects(checkView(store, account.id, unannounced), /keyword \$Work never announced/);
    // A view that claims a modseq it has not applied: the expunge and the flag change are missing.
    const claims = fresh();
    claims.modseq = (await store.getMailboxById(account.id, inbox.id))!.highestModSeq;
    await assert.rejects(checkView(store, account.id, claims), /View check failed/);
  } finally {
    await close();
  }
});
