/**
 * Throwaway PostgreSQL databases for tests. The server is named by
 * MAILKEEP_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres, an
 * empty value disables PostgreSQL tests); each caller gets its own database
 * `mailkeep_test_<random>`, dropped (connections and all) when done.
 * A migrated one is a copy of `mailkeep_template_<hash of the migrations>`,
 * made once per schema and kept: copying is faster than migrating anew.
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectionSettings, createPool } from '../../src/store/postgres/pool.js';
import { migratePg, PG_MIGRATIONS } from '../../src/store/postgres/schema.js';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const PROBE_TIMEOUT_MS = 2000;

/** The administrative URL, or null when PostgreSQL tests are disabled. */
export const TEST_PG_URL: string | null = process.env.MAILKEEP_TEST_PG === '' ? null : (process.env.MAILKEEP_TEST_PG ?? DEFAULT_URL);

let probe: Promise<boolean> | null = null;

/**
 * Whether the test server answers. An explicitly configured server that does
 * not answer is an error, not a skip: CI must not silently test less.
 */
export function pgAvailable(): Promise<boolean> {
  probe ??= (async () => {
    if (TEST_PG_URL === null) return false;
    const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (err) {
      if (process.env.MAILKEEP_TEST_PG !== undefined) throw new Error(`MAILKEEP_TEST_PG is set but unreachable: ${(err as Error).message}`);
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return probe;
}

/** A database created for one test file or server. */
export interface TestDatabase {
  /** Connection URL of the new database. */
  url: string;
  name: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  if (TEST_PG_URL === null) throw new Error('PostgreSQL tests are disabled (MAILKEEP_TEST_PG is empty)');
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const databaseUrl = (name: string): string => {
  const url = new URL(TEST_PG_URL!);
  url.pathname = `/${name}`;
  return url.toString();
};

async function migrate(name: string): Promise<void> {
  const pool = createPool(connectionSettings(databaseUrl(name)), () => undefined);
  try {
    await migratePg(pool);
  } finally {
    await pool.end();
  }
}

let template: Promise<string> | null = null;

/**
 * The name of the migrated template of this schema, made if missing: migrated under a name of its own,
 * then renamed, so no copy is taken of a half-migrated database (nor while a connection is open to it,
 * which CREATE DATABASE refuses); another process that renamed first wins.
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const name = `mailkeep_template_${createHash('sha256').update(PG_MIGRATIONS.join('\0')).digest('hex').slice(0, 16)}`;
    if ((await admin((c) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]))).rowCount) return name;
    const building = `mailkeep_test_${randomBytes(6).toString('hex')}`;
    await admin((c) => c.query(`CREATE DATABASE ${building}`));
    try {
      await migrate(building);
      await admin((c) => c.query(`ALTER DATABASE ${building} RENAME TO ${name}`));
    } catch (err) {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`));
      if ((err as { code?: string }).code !== '42P04') throw err; // duplicate_database: made meanwhile
    }
    return name;
  })();
  return template;
}

/**
 * Creates a database on the test server: empty, or with mailkeep's schema
 * (so a server started on it opens at once: fewer moments between picking
 * free ports and listening on them).
 */
export async function createTestDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `mailkeep_test_${randomBytes(6).toString('hex')}`;
  const from = opts.migrated ? ` TEMPLATE ${await migratedTemplate()}` : '';
  await admin((c) => c.query(`CREATE DATABASE ${name}${from}`));
  let dropped: Promise<void> | null = null;
  return {
    url: databaseUrl(name),
    name,
    drop() {
      dropped ??= admin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}
