/**
 * Small query helpers shared by the PostgreSQL store modules.
 */
import type pg from 'pg';

/** A client inside a transaction. */
export type Client = pg.PoolClient;
/** A transaction's client, or the pool for a single-statement read. */
export type Queryable = Client | pg.Pool;

/** The WHERE clause of one mailbox: $1 account, $2 mailbox. */
export const SCOPE = 'account_id = $1 AND mailbox_id = $2';

/** PostgreSQL text cannot hold NUL, so no stored name contains one. */
export function storable(name: string): boolean {
  return !name.includes('\0');
}

/** All rows of a query. */
export async function rowsOf<R extends pg.QueryResultRow>(c: Queryable, text: string, values: unknown[]): Promise<R[]> {
  return (await c.query<R>(text, values)).rows;
}

/** The first row of a query, if any. */
export async function firstOf<R extends pg.QueryResultRow>(c: Queryable, text: string, values: unknown[]): Promise<R | undefined> {
  return (await c.query<R>(text, values)).rows[0];
}
