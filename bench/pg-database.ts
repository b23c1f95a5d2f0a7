/**
 * Throwaway PostgreSQL databases for the benchmarks: `mailkeep_bench_<random>`
 * on the server named by MAILKEEP_BENCH_PG (default
 * postgres://postgres@127.0.0.1:5432/postgres), dropped when done.
 *
 * Unlike the tests' helper this one is patient: on a loaded machine an
 * administrative connection can take seconds, and a drop that gave up would
 * leave a database of hundreds of megabytes behind. A drop that still fails
 * says which database to drop by hand.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sleep } from './proc.js';

const ADMIN_URL = process.env.MAILKEEP_BENCH_PG || 'postgres://postgres@127.0.0.1:5432/postgres';
const CONNECT_TIMEOUT_MS = 30_000;
const DROP_ATTEMPTS = 3;
const RETRY_PAUSE_MS = 2_000;

/** A database made for one benchmark run. */
export interface BenchDatabase {
  name: string;
  /** Connection URL of the database. */
  url: string;
  /** Drops it, ending any connection still open to it. */
  drop(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (mailkeep migrates it on first open). */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `mailkeep_bench_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      for (let attempt = 1; ; attempt++) {
        try {
          return await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } catch (err) {
          if (attempt >= DROP_ATTEMPTS) throw new Error(`cannot drop database ${name} (drop it by hand): ${(err as Error).message}`);
          await sleep(RETRY_PAUSE_MS);
        }
      }
    },
  };
}
