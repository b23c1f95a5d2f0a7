/**
 * Shared helpers for the store tests: temp data directories, a fake
 * MessageAnalysis (the real analyzer lives in src/mime), one-call delivery,
 * and the store backends every store suite runs against.
 *
 * `backends` always holds SQLite, and PostgreSQL when a server answers at
 * MAILKEEP_TEST_PG (see helpers/pg-database.ts). A suite loops over it
 * (`for (const backend of backends) describe(`${backend.name} store: …`)`), so
 * the same cases check both. PostgreSQL stores of one test file share one
 * throwaway database, emptied before each store is opened and dropped when
 * the file ends; a StoreProbe looks at a store's storage from outside.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { AccountId, MailboxId, Uid } from '../src/ids.js';
import type { MessageAnalysis } from '../src/mime/types.js';
import type { OpenedStore, OpenStoreOptions } from '../src/store/open.js';
import { openStore } from '../src/store/open.js';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { MailStore } from '../src/store/types.js';
import { waitUntil } from './helpers/eventually.js';
import type { TestDatabase } from './helpers/pg-database.js';
import { createTestDatabase, pgAvailable } from './helpers/pg-database.js';

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailkeep-store-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs fn with a SQLite store in a temp data directory, then closes and removes it. */
export async function withStore<T>(fn: (store: SqliteStore, dataDir: string) => Promise<T>, opts: Omit<OpenStoreOptions, 'dataDir' | 'url'> = {}): Promise<T> {
  const { dir, cleanup } = await tempDir();
  try {
    // No URL: openStore opens SQLite.
    const store = (await openStore({ ...opts, dataDir: dir })) as SqliteStore;
    try {
      return await fn(store, dir);
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
}

/** Options a backend passes on to openStore. */
export type TestStoreOptions = Omit<OpenStoreOptions, 'dataDir' | 'url'>;

/** Looks at a store's storage from outside the store. */
export interface StoreProbe {
  /** Where the storage is: what a child process passes to openStore. */
  location: { dataDir: string; url: string | null };
  /** Opens another store on the same storage (another process or node); the caller closes it. */
  open(opts?: TestStoreOptions): Promise<OpenedStore>;
  /** Whether the bytes of a plain blob are stored. */
  blobExists(blobId: string): Promise<boolean>;
  /** The blob's refcount column; undefined once its row is gone. */
  refcount(blobId: string): Promise<number | undefined>;
  /** Ids of every stored plain blob. */
  blobIds(): Promise<string[]>;
  /** Whether nothing is left half-staged (temp files, staging rows). */
  stagingEmpty(): Promise<boolean>;
  /**
   * Every refcount equals the message rows and held tombstones pointing at the
   * blob (composites: see each schema), every referenced blob is stored, and
   * nothing unreferenced is left but freshly staged blobs.
   */
  checkBlobRefs(): Promise<void>;
}

/** A store backend the store suites run against. */
export interface StoreBackend {
  name: 'SQLite' | 'PostgreSQL';
  /** Runs fn with a fresh, empty store, then closes it and discards its storage. */
  withStore<T>(fn: (store: OpenedStore, probe: StoreProbe) => Promise<T>, opts?: TestStoreOptions): Promise<T>;
}

async function withOpened<T>(
  location: StoreProbe['location'],
  probe: Omit<StoreProbe, 'location' | 'open'>,
  fn: (store: OpenedStore, probe: StoreProbe) => Promise<T>,
  opts: TestStoreOptions,
): Promise<T> {
  const open = (more: TestStoreOptions = {}) => openStore({ ...opts, ...more, ...location });
  const store = await open();
  try {
    return await fn(store, { ...probe, location, open });
  } finally {
    await store.close();
  }
}

/** Runs a query on a SQLite data directory through a second, read-only connection. */
function sqliteRead<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, 'mailkeep.sqlite3'), { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const sqlite: StoreBackend = {
  name: 'SQLite',
  async withStore(fn, opts = {}) {
    const { dir, cleanup } = await tempDir();
    const blobDir = join(dir, 'blobs');
    const probe: Omit<StoreProbe, 'location' | 'open'> = {
      async blobExists(blobId) {
        return (await readdir(join(blobDir, blobId.slice(0, 2))).catch(() => [] as string[])).includes(blobId);
      },
      async refcount(blobId) {
        return sqliteRead(dir, (db) => db.prepare<[string], number>('SELECT refcount FROM blobs WHERE blob_id = ?').pluck().get(blobId));
      },
      async blobIds() {
        const dirs = (await readdir(blobDir)).filter((d) => d !== 'tmp');
        return (await Promise.all(dirs.map((d) => readdir(join(blobDir, d))))).flat().sort();
      },
      async stagingEmpty() {
        return (await readdir(join(blobDir, 'tmp'))).length === 0;
      },
      async checkBlobRefs() {
        const rows = sqliteRead(dir, (db) =>
          db
            .prepare(
              `SELECT b.blob_id AS blobId, b.refcount, b.base_id AS baseId,
                      (SELECT count(*) FROM messages m WHERE m.blob_id = b.blob_id)
                      + (SELECT count(*) FROM expunged e WHERE e.blob_id = b.blob_id)
                      + (SELECT count(*) FROM blobs c WHERE c.base_id = b.blob_id) AS refs
               FROM blobs b`,
            )
            .all(),
        ) as Array<{ blobId: string; refcount: number; baseId: string | null; refs: number }>;
        for (const r of rows) {
          assert.equal(r.refcount, r.refs, `refcount of ${r.blobId}`);
          assert.ok(r.refs > 0, `garbage blob ${r.blobId} left`);
          if (r.baseId === null) assert.ok(await probe.blobExists(r.blobId), `file of ${r.blobId}`);
        }
        const dangling = sqliteRead(dir, (db) =>
          db
            .prepare(
              `SELECT count(*) FROM (SELECT blob_id FROM messages UNION SELECT blob_id FROM expunged WHERE blob_id IS NOT NULL)
               WHERE blob_id NOT IN (SELECT blob_id FROM blobs)`,
            )
            .pluck()
            .get(),
        );
        assert.equal(dangling, 0, 'every referenced blob has a row');
      },
    };
    try {
      return await withOpened({ dataDir: dir, url: null }, probe, fn, opts);
    } finally {
      await cleanup();
    }
  },
};

/** This file's PostgreSQL database: created on first use, dropped when the file's tests end. */
let fileDatabase: Promise<TestDatabase> | null = null;
after(async () => {
  if (fileDatabase) await (await fileDatabase).drop();
});

/** Runs fn with a client on the database at url. */
async function pgQuery<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const postgres: StoreBackend = {
  name: 'PostgreSQL',
  async withStore(fn, opts = {}) {
    fileDatabase ??= createTestDatabase();
    const { url } = await fileDatabase;
    // An empty database for every store: the previous one's schema goes with everything in it.
    await pgQuery(url, (c) => c.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public'));
    const { dir, cleanup } = await tempDir();
    // The probe's own connection, opened on first use.
    const own: { client: Promise<pg.Client> | null } = { client: null };
    const rows = async <R extends pg.QueryResultRow>(sql: string, values: unknown[] = []) => {
      own.client ??= (async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      })();
      return (await (await own.client).query<R>(sql, values)).rows;
    };
    const probe: Omit<StoreProbe, 'location' | 'open'> = {
      async blobExists(blobId) {
        return (await rows('SELECT 1 FROM blobs WHERE blob_id = $1 AND data IS NOT NULL', [blobId])).length === 1;
      },
      async refcount(blobId) {
        return (await rows<{ refcount: string }>('SELECT refcount FROM blobs WHERE blob_id = $1', [blobId])).map((r) => Number(r.refcount))[0];
      },
      async blobIds() {
        return (await rows<{ blob_id: string }>('SELECT blob_id FROM blobs WHERE data IS NOT NULL ORDER BY blob_id')).map((r) => r.blob_id);
      },
      async stagingEmpty() {
        return (await rows('SELECT 1 FROM blob_staging LIMIT 1')).length === 0;
      },
      async checkBlobRefs() {
        // A reference to a composite counts on it and on its base (postgres/schema.ts).
        const found = await rows<{ blob_id: string; refcount: string; refs: string; staged: boolean }>(
          `WITH direct AS (
             SELECT blob_id, count(*) AS n
             FROM (SELECT blob_id FROM messages UNION ALL SELECT blob_id FROM expunged WHERE blob_id IS NOT NULL) r GROUP BY blob_id),
           via AS (SELECT c.base_id AS blob_id, sum(d.n) AS n FROM blobs c JOIN direct d ON d.blob_id = c.blob_id GROUP BY c.base_id)
           SELECT b.blob_id, b.refcount, coalesce(d.n, 0) + coalesce(v.n, 0) AS refs, coalesce(b.staged_until > now(), false) AS staged
           FROM blobs b LEFT JOIN direct d ON d.blob_id = b.blob_id LEFT JOIN via v ON v.blob_id = b.blob_id`,
        );
        for (const r of found) {
          assert.equal(Number(r.refcount), Number(r.refs), `refcount of ${r.blob_id}`);
          assert.ok(Number(r.refs) > 0 || r.staged, `garbage blob ${r.blob_id} left`);
        }
        const dangling = await rows(
          `SELECT 1 FROM (SELECT blob_id FROM messages UNION SELECT blob_id FROM expunged WHERE blob_id IS NOT NULL) r
           WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.blob_id = r.blob_id)`,
        );
        assert.equal(dangling.length, 0, 'every referenced blob has a row');
      },
    };
    try {
      return await withOpened({ dataDir: dir, url }, probe, fn, opts);
    } finally {
      if (own.client) await (await own.client).end();
      await cleanup();
    }
  },
};

/** The backends the store suites run against: SQLite always, PostgreSQL when its test server answers. */
export const backends: readonly StoreBackend[] = (await pgAvailable()) ? [sqlite, postgres] : [sqlite];

/** A message text with CRLF line ends. */
export function message(subject: string, body = 'Hello.'): Buffer {
  return Buffer.from(`Subject: ${subject}\r\nFrom: a@example.org\r\n\r\n${body}\r\n`);
}

/** A small MessageAnalysis that conforms to src/mime/types.ts; buffers include non-UTF-8 bytes. */
export function fakeAnalysis(bytes: Buffer): MessageAnalysis {
  const bs = bytes.indexOf('\r\n\r\n') + 4;
  return {
    root: {
      hs: 0,
      bs,
      be: bytes.length,
      type: 'text',
      subtype: 'plain',
      encoding: '7bit',
      charset: 'us-ascii',
    },
    envelope: Buffer.concat([Buffer.from('(NIL "s" '), Buffer.from([0xff, 0x00, 0x80]), Buffer.from(')')]),
    bodyStructure: Buffer.from('("text" "plain" NIL NIL NIL "7bit" 8 1 NIL NIL NIL NIL)'),
    body: Buffer.from('("text" "plain" NIL NIL NIL "7bit" 8 1)'),
    sentDate: 1_700_000_000_000,
    headers: [
      ['subject', bytes.subarray(9, bytes.indexOf('\r\n')).toString()],
      ['from', 'a@example.org'],
    ],
    bodyText: bytes.subarray(bs).toString(),
  };
}

/** Stores bytes and appends them as one message; returns its UID. */
export async function deliver(
  store: MailStore,
  accountId: AccountId,
  mailboxId: MailboxId,
  bytes: Buffer,
  flags: string[] = [],
  internalDate = new Date('2024-01-02T03:04:05Z'),
): Promise<Uid> {
  const blob = await store.blobs.put(bytes);
  const { uids } = await store.appendMessages(accountId, mailboxId, [{ blob, analysis: fakeAnalysis(bytes), flags, internalDate }]);
  const first = uids[0];
  if (first === undefined) throw new Error('append returned no UID');
  return first;
}

/** Creates an account and returns it with its INBOX id. */
export async function accountWithInbox(store: MailStore, name = 'alice'): Promise<{ accountId: AccountId; inbox: MailboxId }> {
  const account = await store.createAccount(name, 'hash');
  const inbox = await store.getMailbox(account.id, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  return { accountId: account.id, inbox: inbox.id };
}

/** Resolves when fn() returns (or resolves to) true, polling every few ms; rejects after timeoutMs. */
export function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  return waitUntil('the condition', fn, timeoutMs, 5);
}
