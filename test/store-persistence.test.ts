import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { Uid } from '../src/ids.js';
import { modseq } from '../src/ids.js';
import { openStore } from '../src/store/open.js';
import { migrate, MIGRATIONS } from '../src/store/sqlite/schema.js';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Migration } from '../src/store/sqlite/schema.js';
import { accountWithInbox, backends, deliver, message, tempDir, waitFor } from './store-fixtures.js';

describe('SQLite store: persistence', () => {
  it('creates a private data directory with the database and blobs', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const dataDir = join(dir, 'data');
      const store = await openStore({ dataDir });
      await store.close();
      assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
      assert.ok((await stat(join(dataDir, 'mailkeep.sqlite3'))).isFile());
      assert.ok((await stat(join(dataDir, 'blobs', 'tmp'))).isDirectory());
      const db = new Database(join(dataDir, 'mailkeep.sqlite3'));
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      db.close();
    } finally {
      await cleanup();
    }
  });

  it('finishes garbage collection and sweeps temp files left by a crash, at open', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      let store = await openStore({ dataDir: dir });
      const { accountId, inbox } = await accountWithInbox(store);
      const u = await deliver(store, accountId, inbox, message('orphan'));
      const [rec] = await store.getRecords(accountId, inbox, [u]);
      assert.ok(rec);
      await store.close();
      // A crash after the expunge commit, before the GC transaction: refcount 0, file still there.
      const db = new Database(join(dir, 'mailkeep.sqlite3'));
      db.prepare('DELETE FROM messages WHERE account_id = ? AND mailbox_id = ?').run(accountId, inbox);
      assert.equal(db.prepare('SELECT refcount FROM blobs WHERE blob_id = ?').pluck().get(rec.blobId), 0);
      db.close();
      const deadTemp = join(dir, 'blobs', 'tmp', '4194305-crashed');
      await writeFile(deadTemp, 'partial');
      store = await openStore({ dataDir: dir });
      assert.ok(!(store as SqliteStore).blobs.existsSync(rec.blobId));
      assert.equal(await store.getAnalysis(rec.blobId), null);
      await assert.rejects(stat(deadTemp));
      await store.close();
    } finally {
      await cleanup();
    }
  });
});

describe('SQLite store: migrations', () => {
  it('upgrades an older database and refuses a newer one', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const path = join(dir, 'mailkeep.sqlite3');
      const db = new Database(path);
      assert.deepEqual(migrate(db, MIGRATIONS.slice(0, 1)), { from: 0, to: 1 });
      db.prepare("INSERT INTO accounts (name, name_key, password_hash, created_at) VALUES ('old', 'old', 'h', 0)").run();
      const ran: number[] = [];
      const next: Migration = (d) => {
        ran.push(1);
        d.exec('CREATE TABLE future (account_id INTEGER PRIMARY KEY)');
      };
      assert.deepEqual(migrate(db, [...MIGRATIONS.slice(0, 1), next]), { from: 1, to: 2 });
      assert.deepEqual(migrate(db, [...MIGRATIONS.slice(0, 1), next]), { from: 2, to: 2 });
      assert.deepEqual(ran, [1], 'each migration runs once');
      assert.equal(db.pragma('user_version', { simple: true }), 2);
      assert.equal(db.prepare('SELECT name FROM accounts').pluck().get(), 'old', 'data kept');
      db.close();
      // A file written by a newer mailkeep (one more migration than this build knows) is left alone.
      const newer = new Database(join(dir, 'mailkeep.sqlite3.tmp'));
      migrate(newer, [...MIGRATIONS, next]);
      newer.close();
      await rename(join(dir, 'mailkeep.sqlite3.tmp'), path);
      await assert.rejects(openStore({ dataDir: dir }), /newer/);
    } finally {
      await cleanup();
    }
  });

  it('a failing migration leaves the database as it was', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = new Database(join(dir, 'x.sqlite3'));
      const broken: Migration = (d) => {
        d.exec('CREATE TABLE half (account_id INTEGER)');
        throw new Error('boom');
      };
      assert.throws(() => migrate(db, [...MIGRATIONS, broken]), /boom/);
      assert.equal(db.pragma('user_version', { simple: true }), 0);
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('half', 'accounts')").pluck().get(), 0);
      db.close();
    } finally {
      await cleanup();
    }
  });

  it('opening a current database again migrates nothing and keeps its data', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const first = await openStore({ dataDir: dir });
      await first.createAccount('carol', 'h');
      await first.close();
      const second = await openStore({ dataDir: dir });
      assert.ok(await second.findAccount('CAROL'));
      await second.close();
      const db = new Database(join(dir, 'mailkeep.sqlite3'));
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      db.close();
    } finally {
      await cleanup();
    }
  });
});

/**
 * Code for a child process that appends messages forever, printing each UID once its promise resolved.
 * (It does not import the test fixtures: they register test hooks, which would print to stdout.)
 */
const WRITER = `
const [open, analyze] = await Promise.all([import(process.env.OPEN_URL), import(process.env.ANALYZE_URL)]);
const store = await open.openStore({ dataDir: process.env.DATA_DIR, url: process.env.STORE_URL || null });
const accountId = Number(process.env.ACCOUNT_ID), inbox = Number(process.env.INBOX_ID);
for (let i = 0; ; i++) {
  const bytes = Buffer.from('Subject: crash ' + i + '\\r\\nFrom: a@example.org\\r\\n\\r\\nHello.\\r\\n');
  const blob = await store.blobs.put(bytes);
  const { uids } = await store.appendMessages(accountId, inbox, [{ blob, analysis: analyze.analyzeMessage(bytes), flags: [], internalDate: new Date() }]);
  process.stdout.write(uids[0] + ' ' + i + '\\n');
}
`;

for (const backend of backends) {
  describe(`${backend.name} store: persistence`, () => {
    it('keeps everything across close and reopen', () =>
      backend.withStore(async (first, probe) => {
        const { accountId, inbox } = await accountWithInbox(first);
        await first.setQuota(accountId, { storage: 10_000, messages: 10 });
        const box = await first.createMailbox(accountId, 'kept');
        await first.setSubscribed(accountId, 'kept', true);
        await deliver(first, accountId, inbox, message('one'), ['\\Seen', 'Work']);
        await deliver(first, accountId, inbox, message('two'), ['\\Deleted']);
        await first.expunge(accountId, inbox);
        await first.claimRecent(accountId, inbox);
        const before = {
          mailboxes: await first.listMailboxes(accountId),
          summaries: await first.listSummaries(accountId, inbox),
          records: await first.getRecords(accountId, inbox, [1 as Uid]),
          changes: await first.changesSince(accountId, inbox, modseq(0)),
          counts: await first.mailboxCounts(accountId, inbox),
          account: await first.getAccount(accountId),
        };
        const store = await probe.open();
        try {
          assert.deepEqual(await store.listMailboxes(accountId), before.mailboxes);
          assert.deepEqual(await store.listSummaries(accountId, inbox), before.summaries);
          assert.deepEqual(await store.getRecords(accountId, inbox, [1 as Uid]), before.records);
          assert.deepEqual(await store.changesSince(accountId, inbox, modseq(0)), before.changes);
          assert.deepEqual(await store.mailboxCounts(accountId, inbox), before.counts);
          assert.deepEqual(await store.getAccount(accountId), before.account);
          assert.ok((await store.listSubscriptions(accountId)).includes('kept'));
          const [rec] = before.records;
          assert.ok(rec && (await store.blobs.read(rec.blobId)).equals(message('one')));
          // Allocators survive too: no UID, mailbox id or UIDVALIDITY is handed out twice.
          assert.equal(await deliver(store, accountId, inbox, message('three')), 3);
          const again = await store.createMailbox(accountId, 'new');
          assert.ok(again.id > box.id && again.uidValidity > box.uidValidity);
        } finally {
          await store.close();
        }
      }));
  });

  describe(`${backend.name} store: crash safety`, () => {
    it('keeps every acknowledged append across kill -9, and UIDs keep growing', () =>
      backend.withStore(async (setup, probe) => {
        const { accountId, inbox } = await accountWithInbox(setup, 'crash');
        const here = dirname(fileURLToPath(import.meta.url));
        const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: {
            ...process.env,
            OPEN_URL: pathToFileURL(join(here, '..', 'src', 'store', 'open.js')).href,
            ANALYZE_URL: pathToFileURL(join(here, '..', 'src', 'mime', 'analyze.js')).href,
            DATA_DIR: probe.location.dataDir,
            STORE_URL: probe.location.url ?? '',
            ACCOUNT_ID: String(accountId),
            INBOX_ID: String(inbox),
          },
        });
        const acked = new Map<number, number>();
        const exited = new Promise((resolve) => child.on('exit', resolve));
        for await (const line of createInterface({ input: child.stdout })) {
          const [u, i] = line.split(' ').map(Number);
          acked.set(u!, i!);
          if (acked.size === 40) child.kill('SIGKILL');
        }
        await exited;
        assert.ok(acked.size >= 40);

        const store = await probe.open();
        try {
          const records = await store.getRecords(accountId, inbox, [...acked.keys()] as Uid[]);
          assert.equal(records.length, acked.size, 'every acknowledged message is there');
          for (const r of records) {
            assert.ok((await store.blobs.read(r.blobId)).equals(message(`crash ${acked.get(r.uid)}`)));
          }
          const next = await deliver(store, accountId, inbox, message('after crash'));
          assert.ok(next > Math.max(...acked.keys()));
          assert.ok(await probe.stagingEmpty(), "the dead writer's staged bytes are swept");
        } finally {
          await store.close();
        }
      }));
  });

  describe(`${backend.name} store: several processes on one store`, () => {
    it("wakes a subscriber of one instance soon after another instance's commit", () =>
      backend.withStore(async (a, probe) => {
        const b = await probe.open();
        try {
          const { accountId, inbox } = await accountWithInbox(a);
          const woke: number[] = [];
          const off = b.bus.subscribe(accountId, inbox, (m) => woke.push(m));
          const started = Date.now();
          const u = await deliver(a, accountId, inbox, message('cross-process'));
          await waitFor(() => woke.length > 0, 2000);
          const elapsed = Date.now() - started;
          const mb = await b.getMailboxById(accountId, inbox);
          assert.deepEqual(woke, [mb?.highestModSeq]);
          assert.ok(elapsed < 2000, `woke after ${elapsed} ms`);
          assert.deepEqual(
            (await b.changesSince(accountId, inbox, modseq(0))).changed.map((c) => c.uid),
            [u],
          );
          // A commit B makes itself is published once, not again by its poller or notification.
          await b.storeFlags(accountId, inbox, [u], { op: 'add', flags: ['\\Seen'] });
          await new Promise((resolve) => setTimeout(resolve, 250));
          assert.equal(woke.length, 2);
          off();
        } finally {
          await b.close();
        }
      }));

    it('interleaved writers never hand out a UID twice', () =>
      backend.withStore(async (a, probe) => {
        const b = await probe.open();
        try {
          const { accountId, inbox } = await accountWithInbox(a);
          const got = await Promise.all(Array.from({ length: 20 }, (_, i) => deliver(i % 2 ? a : b, accountId, inbox, message(`m${i}`))));
          assert.deepEqual(
            [...got].sort((x, y) => x - y),
            Array.from({ length: 20 }, (_, i) => i + 1),
          );
          assert.equal((await b.mailboxCounts(accountId, inbox)).messages, 20);
        } finally {
          await b.close();
        }
      }));

    it('announces a mailbox deleted by another instance', () =>
      backend.withStore(async (a, probe) => {
        const b = await probe.open();
        try {
          const { accountId } = await accountWithInbox(a);
          const box = await a.createMailbox(accountId, 'doomed');
          const woke: number[] = [];
          b.bus.subscribe(accountId, box.id, (m) => woke.push(m));
          await a.deleteMailbox(accountId, box.id);
          await waitFor(() => woke.length > 0, 2000);
          assert.equal(await b.getMailboxById(accountId, box.id), null);
        } finally {
          await b.close();
        }
      }));
  });
}
