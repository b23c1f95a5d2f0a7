/**
 * RFC 5464 METADATA in the PostgreSQL store: a mailbox's entries, or with
 * mailbox id 0 the account's server-level ones (schema.ts `metadata`).
 * Semantics as in the SQLite store: names compared in lower case, DEPTH
 * 0 / 1 / infinity, all-or-nothing changes under an entry limit, and a changed
 * mailbox annotation raising the mailbox's modseq (RFC 7162 §3.2).
 */
import type { AccountId, MailboxId } from '../../ids.js';
import type { ChangeNote } from '../../events/pg-bus.js';
import { StoreError } from '../types.js';
import type { MetadataDepth, MetadataEntry, MetadataStore, MetadataWrite } from '../types.js';
import type { PgBase } from './core.js';
import { bumpNamespace, lockMailbox } from './mailbox-tx.js';
import { firstOf, rowsOf, SCOPE, storable, type Client, type Queryable } from './sql.js';

/** The owner id of server-level entries (no mailbox has id 0). */
const SERVER_METADATA = 0;

/** Entries by name and, with a depth, those below them, ascending by name; NONEXISTENT for a missing mailbox. */
async function readMetadata(
  c: Queryable,
  accountId: AccountId,
  mailboxId: MailboxId | null,
  entries: readonly string[],
  depth: MetadataDepth,
): Promise<MetadataEntry[]> {
  const names = [...new Set(entries.map((e) => e.toLowerCase()))].filter(storable);
  // One statement: the mailbox check and every candidate (exact names and, with a depth, names below them:
  // strictly between `x/` and `x0`, as '0' follows '/').
  const rows = await rowsOf<{ name: string | null; value: Buffer | null }>(
    c,
    `SELECT m.name, m.value FROM (SELECT 1 WHERE $2::bigint = 0 OR EXISTS (SELECT 1 FROM mailboxes WHERE ${SCOPE})) AS ok (one)
     LEFT JOIN metadata m ON m.account_id = $1 AND m.mailbox_id = $2 AND (m.name = ANY($3::text[]) OR ($4 AND EXISTS (
       SELECT 1 FROM unnest($3::text[]) AS e (name) WHERE m.name > e.name || '/' AND m.name < e.name || '0')))`,
    [accountId, mailboxId ?? SERVER_METADATA, names, depth !== 0],
  );
  if (rows.length === 0) throw new StoreError('NONEXISTENT', 'no such mailbox');
  const found = new Map<string, Buffer>();
  for (const { name, value } of rows) {
    if (name === null || value === null) continue;
    // DEPTH 1: an exact entry, or a child (not a grandchild) of one.
    const wanted = depth !== 1 || names.some((e) => name === e || (name.startsWith(`${e}/`) && !name.includes('/', e.length + 1)));
    if (wanted) found.set(name, value);
  }
  return [...found.keys()].sort().map((name) => ({ name, value: found.get(name)! }));
}

/**
 * Sets (value) or removes (null) entries in the transaction of `c`; fails
 * with LIMIT (the caller rolls back) if the owner ends up with more entries
 * than before and more than maxEntries. Returns the wake-up to announce.
 */
async function writeMetadata(
  c: Client,
  accountId: AccountId,
  mailboxId: MailboxId | null,
  entries: readonly MetadataWrite[],
  maxEntries: number,
): Promise<ChangeNote[]> {
  // Writers of one owner serialize on its row (the mailbox, or the account for server-level entries).
  const mb = mailboxId === null ? null : await lockMailbox(c, accountId, mailboxId);
  if (!mb && !(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1 FOR NO KEY UPDATE', [accountId]))) {
    throw new StoreError('NONEXISTENT', 'no such account');
  }
  const owner = mailboxId ?? SERVER_METADATA;
  const count = async (): Promise<number> =>
    (await firstOf<{ n: number }>(c, 'SELECT count(*) AS n FROM metadata WHERE account_id = $1 AND mailbox_id = $2', [accountId, owner]))?.n ?? 0;
  const before = await count();
  let changed = false;
  for (const [name, value] of entries) {
    const key = name.toLowerCase();
    const res =
      value === null
        ? await c.query('DELETE FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND name = $3', [accountId, owner, key])
        : // Changes no row when the value is already that: rowCount tells whether anything changed.
          await c.query(
            `INSERT INTO metadata (account_id, mailbox_id, name, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, mailbox_id, name) DO UPDATE SET value = EXCLUDED.value WHERE metadata.value <> EXCLUDED.value`,
            [accountId, owner, key, value],
          );
    if ((res.rowCount ?? 0) > 0) changed = true;
  }
  const after = await count();
  // RFC 5464 §4.3: all or nothing.
  if (after > before && after > maxEntries) throw new StoreError('LIMIT', 'too many metadata entries');
  if (!changed) return [];
  // Server entries: the account channel carries the change (RFC 5465 §5.7).
  if (!mb) return [await bumpNamespace(c, accountId)];
  const next = mb.highest_modseq + 1;
  await c.query(`UPDATE mailboxes SET highest_modseq = $3 WHERE ${SCOPE}`, [accountId, mb.mailbox_id, next]);
  return [{ accountId, mailboxId: mb.mailbox_id as MailboxId, modseq: next }];
}

/** Adds the MetadataStore role to the PostgreSQL store. */
export function withMetadata<B extends PgBase>(Base: B) {
  return class PgMetadata extends Base implements MetadataStore {
    async getMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly string[], depth: MetadataDepth = 0): Promise<MetadataEntry[]> {
      return readMetadata(this.pool, accountId, mailboxId, entries, depth);
    }

    async setMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly MetadataWrite[], maxEntries = Infinity): Promise<void> {
      if (entries.some(([name]) => !storable(name))) throw new StoreError('CANNOT', 'invalid metadata entry name');
      await this.write(async (c) => [undefined, await writeMetadata(c, accountId, mailboxId, entries, maxEntries)]);
    }
  };
}
