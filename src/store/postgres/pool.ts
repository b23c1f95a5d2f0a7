/**
 * Connections to PostgreSQL with the settings every mailkeep node relies on,
 * and the transaction runner all mutations go through.
 *
 * Invariants: synchronous_commit is forced on for every connection, so a
 * resolved COMMIT is durable (DESIGN invariant 1) whatever the server
 * default; bigint columns arrive as JS numbers and a value beyond 2^53 is an
 * error, never a silently rounded UID; a transaction that PostgreSQL aborted
 * for a deadlock or serialization failure is retried as a whole (it changed
 * nothing), a bounded number of times; a client whose connection broke is
 * destroyed, never returned to the pool.
 */
import pg from 'pg';
import { StoreError } from '../types.js';

/** Default connections per pool (override with `?pool_size=` in the store URL). */
export const DEFAULT_POOL_SIZE = 10;
const MAX_POOL_SIZE = 1000;
/** Attempts of a transaction that keeps hitting deadlocks or serialization failures. */
const MAX_ATTEMPTS = 4;
/** A transaction left open this long by a stuck client is ended by the server. */
const IDLE_IN_TRANSACTION_MS = 60_000;
const INT8_OID = 20;

/** SQLSTATEs of transient aborts that a retry of the whole transaction resolves. */
const RETRYABLE = new Set(['40001', '40P01']);

/** Unique constraints whose violation means "that name is taken". */
const NAME_CONSTRAINTS = new Set(['accounts_name_unique', 'mailboxes_name_unique', 'aliases_address_unique']);

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${text} exceeds the safe integer range`);
  return n;
}

/** Type parsers: bigint as number (checked), everything else as pg's defaults (bytea as Buffer, timestamptz as Date). */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** A store URL split into the pg connection settings and mailkeep's own parameters. */
export interface PgConnectionSettings {
  config: pg.ClientConfig;
  poolSize: number;
}

/**
 * Parses `postgres://user:pass@host:port/db?pool_size=20&sslmode=…`. `pool_size`
 * is mailkeep's; every other parameter is passed to node-postgres. Errors never
 * quote the URL (it may hold a password).
 */
export function connectionSettings(url: string): PgConnectionSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('store URL is not a valid URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`unsupported store URL scheme ${parsed.protocol} (expected postgres:)`);
  }
  const sizeParam = parsed.searchParams.get('pool_size');
  parsed.searchParams.delete('pool_size');
  const poolSize = sizeParam === null ? DEFAULT_POOL_SIZE : Number(sizeParam);
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL_SIZE) {
    throw new Error(`store URL: pool_size must be a whole number from 1 to ${MAX_POOL_SIZE}`);
  }
  // Server options from the URL are kept; ours come last so they win.
  const userOptions = parsed.searchParams.get('options');
  parsed.searchParams.delete('options');
  const options = [userOptions, '-c synchronous_commit=on'].filter((o) => o).join(' ');
  return {
    poolSize,
    config: {
      connectionString: parsed.toString(),
      options,
      types: TYPES,
      application_name: 'mailkeep',
      keepAlive: true,
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    },
  };
}

/** Opens a pool; errors of idle connections (server restart) go to onError instead of crashing the process. */
export function createPool(settings: PgConnectionSettings, onError: (err: unknown) => void): pg.Pool {
  const pool = new pg.Pool({ ...settings.config, max: settings.poolSize });
  pool.on('error', onError);
  return pool;
}

/** The PostgreSQL error fields mailkeep looks at. */
interface PgError {
  code?: string;
  constraint?: string;
}

function pgError(err: unknown): PgError {
  return typeof err === 'object' && err !== null ? (err as PgError) : {};
}

/** Turns constraint violations a client can cause into StoreErrors; anything else is returned as is. */
export function translateError(err: unknown): unknown {
  const { code, constraint } = pgError(err);
  if (code === '23505' && constraint !== undefined && NAME_CONSTRAINTS.has(constraint)) {
    return new StoreError('ALREADYEXISTS', 'name already exists');
  }
  // A row we insert lost its parent to a concurrent delete (account or mailbox).
  if (code === '23503') return new StoreError('NONEXISTENT', 'no such account or mailbox');
  // PostgreSQL text cannot hold NUL: a name containing one cannot exist.
  if (code === '22021') return new StoreError('CANNOT', 'name contains a character that cannot be stored');
  return err;
}

/** Statements to send with COMMIT, in the same round trip (e.g. NOTIFY). */
export type CommitExtras = readonly string[];

/** What a transaction body returns: its result and statements to run just before COMMIT. */
export interface TxOutcome<T> {
  result: T;
  /** Appended to COMMIT in one simple-protocol round trip; must be trusted SQL (no client input). */
  beforeCommit?: CommitExtras;
}

/**
 * Runs body in one READ COMMITTED transaction on a pooled client. Deadlocks
 * and serialization failures roll back and rerun the body (it must have no
 * effects outside the database); other errors roll back and are rethrown,
 * constraint violations translated to StoreErrors.
 */
export async function transaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<TxOutcome<T>>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const outcome = await body(client);
      await client.query([...(outcome.beforeCommit ?? []), 'COMMIT'].join('; '));
      return outcome.result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is gone: destroy it rather than hand it to the next caller.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      const { code } = pgError(err);
      if (code !== undefined && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) continue;
      throw translateError(err);
    } finally {
      client.release(broken);
    }
  }
}
