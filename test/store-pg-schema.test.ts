/**
 * Opening a PostgreSQL store: the store URL, migrations (once, under an
 * advisory lock, all or nothing, refusing a newer schema), and the session
 * settings durability depends on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openStore } from '../src/store/open.js';
import { connectionSettings, createPool, DEFAULT_POOL_SIZE } from '../src/store/postgres/pool.js';
import { openPgStore } from '../src/store/postgres/pg-store.js';
import { migratePg, PG_MIGRATIONS } from '../src/store/postgres/schema.js';
import type { TestDatabase } from './helpers/pg-database.js';
import { createTestDatabase, pgAvailable } from './helpers/pg-database.js';

describe('PostgreSQL store URL', () => {
  it('takes pool_size and server options, and forces synchronous commits', () => {
    const plain = connectionSettings('postgres://u:secret@db.example:5433/mail?sslmode=require');
    assert.equal(plain.poolSize, DEFAULT_POOL_SIZE);
    assert.equal(plain.config.connectionString, 'postgres://u:secret@db.example:5433/mail?sslmode=require');
    assert.equal(plain.config.options, '-c synchronous_commit=on');
    const sized = connectionSettings('postgresql://u@h/mail?pool_size=25&options=-c%20search_path%3Dmk');
    assert.equal(sized.poolSize, 25);
    assert.equal(sized.config.connectionString, 'postgresql://u@h/mail');
    assert.equal(sized.config.options, '-c search_path=mk -c synchronous_commit=on', 'ours come last and win');
  });

  it('rejects bad URLs without quoting them (they may hold a password)', () => {
    for (const [url, why] of [
      ['not a url', /not a valid URL/],
      ['mysql://u:hunter2@h/db', /scheme mysql:/],
      ['postgres://u:hunter2@h/db?pool_size=0', /pool_size/],
      ['postgres://u:hunter2@h/db?pool_size=2.5', /pool_size/],
      ['postgres://u:hunter2@h/db?pool_size=x', /pool_size/],
    ] as const) {
      assert.throws(
        () => connectionSettings(url),
        (e: unknown) => e instanceof Error && why.test(e.message) && !e.message.includes('hunter2'),
        url,
      );
    }
  });
});

const available = await pgAvailable();

describe('PostgreSQL schema', { skip: available ? false : 'no PostgreSQL test server' }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => db?.drop());

  const withPool = async <T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> => {
    const pool = createPool(connectionSettings(db.url), () => undefined);
    try {
      return await fn(pool);
    } finally {
      await pool.end();
    }
  };

  it('migrates a fresh database once, even when several nodes open it at the same moment', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => openStore({ dataDir: '/nonexistent', url: db.url })));
    try {
      assert.equal((await stores[0]!.createAccount('first', 'h')).name, 'first');
      assert.ok(await stores[2]!.findAccount('FIRST'));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    assert.deepEqual(await withPool((p) => migratePg(p)), { from: PG_MIGRATIONS.length, to: PG_MIGRATIONS.length });
    const version = await withPool(async (p) => (await p.query('SELECT version FROM mailkeep_schema')).rows);
    assert.deepEqual(version, [{ version: PG_MIGRATIONS.length }], 'one version row');
  });

  it('a failing migration changes nothing; a newer schema is refused', async () => {
    const broken = [...PG_MIGRATIONS, 'CREATE TABLE half_done (x integer); SELECT 1 / 0'];
    await assert.rejects(
      withPool((p) => migratePg(p, broken)),
      /division by zero/,
    );
    const left = await withPool(async (p) => {
      const half = (await p.query("SELECT to_regclass('half_done') AS t")).rows[0].t;
      const { version } = (await p.query('SELECT version FROM mailkeep_schema')).rows[0];
      return { half, version };
    });
    assert.deepEqual(left, { half: null, version: PG_MIGRATIONS.length });
    await withPool((p) => p.query('UPDATE mailkeep_schema SET version = version + 1'));
    try {
      await assert.rejects(openPgStore({ url: db.url }), /newer than this mailkeep supports/);
    } finally {
      await withPool((p) => p.query('UPDATE mailkeep_schema SET version = version - 1'));
    }
  });

  it('every store connection commits synchronously and reads bigints as exact numbers', async () => {
    // Even where the database's default says otherwise.
    await withPool((p) => p.query(`ALTER DATABASE ${db.name} SET synchronous_commit = off`));
    const settings = connectionSettings(db.url);
    const client = new pg.Client(settings.config);
    await client.connect();
    try {
      assert.equal((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'on');
      assert.deepEqual((await client.query('SELECT 4294967295::bigint AS n')).rows[0], { n: 4294967295 });
      await assert.rejects(client.query('SELECT 9007199254740993::bigint AS n'), RangeError);
    } finally {
      await client.end();
      await withPool((p) => p.query(`ALTER DATABASE ${db.name} RESET synchronous_commit`));
    }
  });
});
