/**
 * The PostgreSQL MailStore: many mailkeep nodes share one database; message
 * bytes live in it too (../blobs/pg-blob-store.ts) and wake-ups travel by
 * LISTEN/NOTIFY (../../events/pg-bus.ts). Semantics are those of the SQLite
 * store (../sqlite/sqlite-store.ts); the same test suites run on both.
 *
 * Invariants (see also store/types.ts and schema.ts):
 * - Every mutation is one READ COMMITTED transaction; its NOTIFY is sent in
 *   the COMMIT round trip, so other nodes hear of exactly the committed
 *   changes; the local wake-up follows the COMMIT (DESIGN invariant 1).
 * - Writers of one mailbox serialize on its row: UIDs and the modseq are
 *   allocated by `UPDATE mailboxes SET uid_next = uid_next + n,
 *   highest_modseq = highest_modseq + 1 … RETURNING`, which also carries the
 *   count deltas. Modseq order is therefore commit order, and no two writers
 *   on any node get the same UID.
 * - Row locks are taken in one order, so writers do not deadlock one another:
 *   account (quota, server metadata, deletion) → mailboxes by mailbox_id →
 *   the UIDVALIDITY counter → message and tombstone rows → blobs by blob_id.
 *   (PostgreSQL still detects a cycle, e.g. two first deliveries of one
 *   composite blob; the runner retries such aborts.)
 * - A message row references a blob only if the blob row exists under our
 *   row lock at commit time; a blob row is deleted only by the GC, only at
 *   refcount 0 and after its staging grace period.
 * - An expunge turns each message row into a tombstone that still references
 *   its blob (RFC 2180 §4.1) until releaseExpunged() drops the reference.
 * - No await between BEGIN and COMMIT other than the transaction's own
 *   statements (DESIGN invariant 5).
 *
 * Modules: pool.ts (connections, the transaction runner), schema.ts,
 * mailbox-tx.ts (the statements inside transactions), blob-refs.ts,
 * metadata.ts, rows.ts; the bytes in ../blobs/pg-blob-store.ts.
 */
import pg from 'pg';
import type { AccountId, MailboxId, ModSeq, Uid } from '../../ids.js';
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { MessageAnalysis } from '../../mime/types.js';
import type { ChangeNote } from '../../events/pg-bus.js';
import { notifyStatement, PgChangeBus, readModSeqs } from '../../events/pg-bus.js';
import { PgBlobStore, STAGE_GRACE_SECONDS } from '../blobs/pg-blob-store.js';
import { AnalysisCache } from '../analysis-cache.js';
import { composedAnalysis } from '../composite-analysis.js';
import { rowInsert, type SqlDialect } from '../copy/row-inserts.js';
import { pageRecords, pageSql } from '../copy/sections.js';
import { decodeAnalysis, encodeAnalysis } from '../shared/analysis-codec.js';
import { encodeHeaderFacts } from '../../mime/header-facts.js';
import { BackgroundJobs, DEFAULT_RETENTION_MS, GC_BATCH, RELEASE_BATCH, releasePeriodMs, warnBackgroundError, yieldToLoop } from '../shared/background.js';
import type { DefaultMailbox } from '../shared/default-mailboxes.js';
import { checkStoreOptions, DEFAULT_MAILBOXES } from '../shared/default-mailboxes.js';
import type { FlagSet } from '../shared/flags.js';
import { applyFlagOp, DELETED, flagList, IS_DELETED_SQL, keywordsFromText, keywordsToText, parseFlags, SEEN } from '../shared/flags.js';
import { canonicalName, checkSourceKey, INBOX, newEmailId } from '../shared/names.js';
import type { FlagRow, MailboxRow } from '../shared/rows.js';
import { RECORD_COLUMNS, toAccount, toMailbox, toRecord, toSummary } from '../shared/rows.js';
import type {
  Account,
  Alias,
  CopyResult,
  DumpKey,
  DumpRecord,
  DumpSection,
  FlagChangeResult,
  FlagOp,
  ImportedMessage,
  ImportResult,
  Mailbox,
  MailboxChanges,
  MailboxCounts,
  MailStore,
  MessageRecord,
  MessageSummary,
  MetadataDepth,
  MetadataEntry,
  NewMessage,
  QuotaLimits,
  QuotaUsage,
  ReplaceResult,
  RestoredMessage,
  RestoreRecord,
} from '../types.js';
import { StoreError } from '../types.js';
import { BlobRefs } from './blob-refs.js';
import type { PgConnectionSettings } from './pool.js';
import { connectionSettings, createPool, transaction } from './pool.js';
import type { AccountRow, NewRow, RecordRow } from './rows.js';
import { countDelta } from './rows.js';
import {
  allocateUidValidity,
  dropMessages,
  enforceQuota,
  importedUids,
  insertMailboxes,
  insertMessageRows,
  insertRows,
  lockMailbox,
  lockPair,
  lockQuota,
  recordsOf,
  refuseExisting,
  removeMessages,
  bumpNamespace,
  renameInbox,
  requireMailbox,
  transfer,
} from './mailbox-tx.js';
import { readMetadata, writeMetadata } from './metadata.js';
import { migratePg } from './schema.js';
import type { Client } from './sql.js';
import { firstOf, MAX_UID, rowsOf, SCOPE, storable } from './sql.js';

/** Options of openPgStore. */
export interface PgStoreOptions {
  /** `postgres://user:password@host:port/database?pool_size=10` */
  url: string;
  /** Mailboxes created (and subscribed) with every account besides INBOX; default DEFAULT_MAILBOXES. */
  defaultMailboxes?: readonly DefaultMailbox[];
  /** Receives background errors (LISTEN connection, catch-up poll, GC); default: a process warning. */
  onError?: (err: unknown) => void;
  /** How long expunged messages stay fetchable before their blobs are released, in ms (default 1 hour). */
  expungedRetentionMs?: number;
  /** Period of the change bus catch-up poll in ms (default 1000). */
  catchUpIntervalMs?: number;
}

/** How the shared copy statements (store/copy/row-inserts.ts) are spelled here; account ids are an identity column. */
const PG_DIALECT: SqlDialect = { placeholder: (i) => `$${i}`, time: (d) => d, identityOverride: 'OVERRIDING SYSTEM VALUE' };
/** The accounts identity sequence, by name as the schema created it. */
const ACCOUNT_IDS = "pg_get_serial_sequence('accounts', 'account_id')::regclass";

/** A message to insert, with the blob reference it brings. */
interface Incoming {
  row: NewRow;
  message: NewMessage;
}

/** The PostgreSQL MailStore. Create it with openPgStore(). */
export class PgStore implements MailStore {
  readonly blobs: PgBlobStore;
  readonly bus: PgChangeBus;
  /** Decoded analyses by blob id (immutable, so never stale). */
  private readonly analysisCache = new AnalysisCache();
  private readonly defaults: readonly DefaultMailbox[];
  private readonly onError: (err: unknown) => void;
  private readonly retentionMs: number;
  private releaseTimer: NodeJS.Timeout | null = null;
  /** Background GC and release runs that close() waits for. */
  private readonly background: BackgroundJobs;
  private closing: Promise<void> | null = null;

  /** Wraps a pool on a migrated database; use openPgStore(). */
  constructor(
    private readonly pool: pg.Pool,
    settings: PgConnectionSettings,
    opts: Omit<PgStoreOptions, 'url'> = {},
  ) {
    this.defaults = opts.defaultMailboxes ?? DEFAULT_MAILBOXES;
    this.onError = opts.onError ?? warnBackgroundError;
    this.background = new BackgroundJobs(this.onError);
    this.retentionMs = opts.expungedRetentionMs ?? DEFAULT_RETENTION_MS;
    this.blobs = new PgBlobStore(pool);
    this.bus = new PgChangeBus(
      { newClient: () => new pg.Client(settings.config), readModSeqs: (m) => readModSeqs(pool, m) },
      { catchUpIntervalMs: opts.catchUpIntervalMs, onError: this.onError },
    );
  }

  /** Connects the change bus and starts the retention sweep. */
  async start(): Promise<void> {
    await this.bus.start();
    const period = releasePeriodMs(this.retentionMs);
    // unref: the sweep alone must not keep the process alive.
    this.releaseTimer = setInterval(() => void this.background.run(() => this.releaseExpunged()), period).unref();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.releaseTimer) clearInterval(this.releaseTimer);
      await this.background.settled();
      await this.bus.close();
      await this.pool.end();
    })();
    return this.closing;
  }

  // ---- Accounts ----

  async createAccount(name: string, passwordHash: string): Promise<Account> {
    if (!storable(name)) throw new StoreError('CANNOT', 'invalid account name');
    return this.write(async (c) => {
      const key = name.toLowerCase();
      if (await firstOf(c, 'SELECT 1 FROM accounts WHERE name_key = $1', [key])) throw new StoreError('ALREADYEXISTS', 'account exists');
      const row = await firstOf<AccountRow>(
        c,
        'INSERT INTO accounts (name, name_key, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
        [name, key, passwordHash, new Date()],
      );
      if (!row) throw new Error('account insert returned nothing');
      const boxes = [{ name: INBOX, specialUse: null }, ...this.defaults].map((d) => ({ ...d, name: canonicalName(d.name) }));
      await insertMailboxes(c, row.account_id, boxes);
      await c.query('INSERT INTO subscriptions (account_id, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [
        row.account_id,
        boxes.map((b) => b.name),
      ]);
      return [toAccount(row), []];
    });
  }

  async findAccount(name: string): Promise<Account | null> {
    if (!storable(name)) return null;
    const row = await firstOf<AccountRow>(this.pool, 'SELECT * FROM accounts WHERE name_key = $1', [name.toLowerCase()]);
    return row ? toAccount(row) : null;
  }

  async getAccount(id: AccountId): Promise<Account | null> {
    const row = await firstOf<AccountRow>(this.pool, 'SELECT * FROM accounts WHERE account_id = $1', [id]);
    return row ? toAccount(row) : null;
  }

  async listAccounts(): Promise<Account[]> {
    return (await rowsOf<AccountRow>(this.pool, 'SELECT * FROM accounts ORDER BY name_key', [])).map(toAccount);
  }

  async setPasswordHash(id: AccountId, passwordHash: string): Promise<void> {
    const res = await this.pool.query('UPDATE accounts SET password_hash = $1 WHERE account_id = $2', [passwordHash, id]);
    if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such account');
  }

  async setQuota(id: AccountId, limits: QuotaLimits): Promise<void> {
    const res = await this.pool.query('UPDATE accounts SET quota_storage = $1, quota_messages = $2 WHERE account_id = $3', [
      limits.storage,
      limits.messages,
      id,
    ]);
    if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such account');
  }

  async getQuotaUsage(id: AccountId): Promise<QuotaUsage> {
    // The per-mailbox aggregates: one row per mailbox, no message scan.
    const row = await firstOf<QuotaUsage>(
      this.pool,
      `SELECT a.quota_storage AS storage, a.quota_messages AS messages,
              coalesce(sum(m.total_size), 0)::bigint AS "usedStorage", coalesce(sum(m.message_count), 0)::bigint AS "usedMessages"
       FROM accounts a LEFT JOIN mailboxes m ON m.account_id = a.account_id
       WHERE a.account_id = $1 GROUP BY a.account_id`,
      [id],
    );
    if (!row) throw new StoreError('NONEXISTENT', 'no such account');
    return row;
  }

  async deleteAccount(id: AccountId): Promise<void> {
    await this.write(async (c) => {
      // Lock order: the account, then its mailboxes, so no writer adds a message we would not count.
      if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1 FOR UPDATE', [id]))) {
        throw new StoreError('NONEXISTENT', 'no such account');
      }
      await c.query('SELECT 1 FROM mailboxes WHERE account_id = $1 ORDER BY mailbox_id FOR UPDATE', [id]);
      const refs = await dropMessages(c, id, null);
      // Cascades to mailboxes, subscriptions, aliases, metadata, import records and sync states.
      await c.query('DELETE FROM accounts WHERE account_id = $1', [id]);
      await refs.apply(c);
      return [undefined, []];
    });
    await this.background.run(() => this.collectGarbage());
  }

  // ---- Aliases ----

  async addAlias(address: string, accountId: AccountId): Promise<void> {
    if (!storable(address)) throw new StoreError('CANNOT', 'invalid address');
    await this.write(async (c) => {
      if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1', [accountId]))) {
        throw new StoreError('NONEXISTENT', 'no such account');
      }
      const key = address.toLowerCase();
      if (await firstOf(c, 'SELECT 1 FROM aliases WHERE address_key = $1', [key])) throw new StoreError('ALREADYEXISTS', 'alias exists');
      await c.query('INSERT INTO aliases (address_key, address, account_id, created_at) VALUES ($1, $2, $3, $4)', [
        key,
        address,
        accountId,
        new Date(),
      ]);
      return [undefined, []];
    });
  }

  async deleteAlias(address: string): Promise<void> {
    const res = await this.pool.query('DELETE FROM aliases WHERE address_key = $1', [address.toLowerCase()]);
    if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such alias');
  }

  async findAlias(address: string): Promise<Alias | null> {
    if (!storable(address)) return null;
    const row = await firstOf<Alias>(this.pool, 'SELECT address, account_id AS "accountId" FROM aliases WHERE address_key = $1', [
      address.toLowerCase(),
    ]);
    return row ?? null;
  }

  async listAliases(): Promise<Alias[]> {
    return rowsOf<Alias>(this.pool, 'SELECT address, account_id AS "accountId" FROM aliases ORDER BY address_key', []);
  }

  // ---- Mailboxes ----

  async listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
    return (await rowsOf<MailboxRow>(this.pool, 'SELECT * FROM mailboxes WHERE account_id = $1 ORDER BY name', [accountId])).map(toMailbox);
  }

  async getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null> {
    if (!storable(name)) return null;
    const row = await firstOf<MailboxRow>(this.pool, 'SELECT * FROM mailboxes WHERE account_id = $1 AND name = $2', [
      accountId,
      canonicalName(name),
    ]);
    return row ? toMailbox(row) : null;
  }

  async getMailboxById(accountId: AccountId, id: MailboxId): Promise<Mailbox | null> {
    const row = await firstOf<MailboxRow>(this.pool, `SELECT * FROM mailboxes WHERE ${SCOPE}`, [accountId, id]);
    return row ? toMailbox(row) : null;
  }

  async createMailbox(accountId: AccountId, name: string, specialUse: string | null = null): Promise<Mailbox> {
    if (!storable(name)) throw new StoreError('CANNOT', 'invalid mailbox name');
    const canonical = canonicalName(name);
    return this.write(async (c) => {
      if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1', [accountId]))) {
        throw new StoreError('NONEXISTENT', 'no such account');
      }
      await refuseExisting(c, accountId, canonical);
      const [row] = await insertMailboxes(c, accountId, [{ name: canonical, specialUse }]);
      if (!row) throw new Error('mailbox insert returned nothing');
      return [toMailbox(row), [await bumpNamespace(c, accountId)]];
    });
  }

  async deleteMailbox(accountId: AccountId, id: MailboxId): Promise<void> {
    await this.write(async (c) => {
      const mb = await lockMailbox(c, accountId, id, 'UPDATE');
      if (mb.name === INBOX) throw new StoreError('CANNOT', 'INBOX cannot be deleted');
      // Messages and tombstones go at once, releasing their blobs: the mailbox's sessions
      // are disconnected, so nobody may still FETCH. Subscriptions stay (RFC 9051 §6.3.9).
      const refs = await dropMessages(c, accountId, id);
      await c.query(`DELETE FROM metadata WHERE ${SCOPE}`, [accountId, id]);
      // Cascades to import records and sync states.
      await c.query(`DELETE FROM mailboxes WHERE ${SCOPE}`, [accountId, id]);
      await refs.apply(c);
      // Sessions that have it selected wake up and find it gone.
      return [undefined, [{ accountId, mailboxId: id, modseq: mb.highest_modseq + 1 }, await bumpNamespace(c, accountId)]];
    });
    this.bus.markGone(accountId, id);
    await this.background.run(() => this.collectGarbage());
  }

  async renameMailbox(accountId: AccountId, from: string, to: string): Promise<void> {
    const source = canonicalName(from);
    const target = canonicalName(to);
    if (!storable(source)) throw new StoreError('NONEXISTENT', 'no such mailbox');
    if (!storable(target)) throw new StoreError('CANNOT', 'invalid mailbox name');
    await this.write(async (c): Promise<[undefined, ChangeNote[]]> => {
      const channel = await bumpNamespace(c, accountId);
      // The source and its inferiors (names strictly between `x/` and `x0`; '0' follows '/'), locked by id.
      const tree = await rowsOf<MailboxRow>(
        c,
        `SELECT * FROM mailboxes WHERE account_id = $1 AND (name = $2 OR (name > $3 AND name < $4))
         ORDER BY mailbox_id FOR UPDATE`,
        [accountId, source, `${source}/`, `${source}0`],
      );
      const src = tree.find((mb) => mb.name === source);
      if (!src) throw new StoreError('NONEXISTENT', 'no such mailbox');
      await refuseExisting(c, accountId, target, 'target mailbox exists');
      if (source === INBOX) return [undefined, [...(await renameInbox(c, accountId, src, target)), channel]];
      if (target.startsWith(`${source}/`)) throw new StoreError('CANNOT', 'cannot rename a mailbox under itself');
      // RFC 9051 §6.3.6: inferior names are renamed too.
      const renamed = (name: string) => target + name.slice(source.length);
      const taken = await firstOf<{ name: string }>(c, 'SELECT name FROM mailboxes WHERE account_id = $1 AND name = ANY($2::text[]) LIMIT 1', [
        accountId,
        tree.filter((mb) => mb !== src).map((mb) => renamed(mb.name)),
      ]);
      if (taken) throw new StoreError('ALREADYEXISTS', `${taken.name} exists`);
      await c.query(
        `UPDATE mailboxes m SET name = r.name FROM unnest($2::bigint[], $3::text[]) AS r (mailbox_id, name)
         WHERE m.account_id = $1 AND m.mailbox_id = r.mailbox_id`,
        [accountId, tree.map((mb) => mb.mailbox_id), tree.map((mb) => renamed(mb.name))],
      );
      // Subscriptions follow the mailboxes they name.
      const subs = await rowsOf<{ name: string }>(
        c,
        'DELETE FROM subscriptions WHERE account_id = $1 AND (name = $2 OR (name > $3 AND name < $4)) RETURNING name',
        [accountId, source, `${source}/`, `${source}0`],
      );
      if (subs.length > 0) {
        await c.query('INSERT INTO subscriptions (account_id, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [
          accountId,
          subs.map((s) => renamed(s.name)),
        ]);
      }
      return [undefined, [channel]];
    });
  }

  async setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void> {
    if (!storable(name)) throw new StoreError('CANNOT', 'invalid mailbox name');
    const canonical = canonicalName(name);
    await this.write(async (c) => {
      if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1', [accountId]))) {
        throw new StoreError('NONEXISTENT', 'no such account');
      }
      if (subscribed) {
        await c.query('INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [accountId, canonical]);
      } else {
        await c.query('DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [accountId, canonical]);
      }
      return [undefined, [await bumpNamespace(c, accountId)]];
    });
  }

  async listSubscriptions(accountId: AccountId): Promise<string[]> {
    const rows = await rowsOf<{ name: string }>(this.pool, 'SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name', [accountId]);
    return rows.map((r) => r.name);
  }

  async mailboxCounts(accountId: AccountId, id: MailboxId): Promise<MailboxCounts> {
    // Kept with every change: no scan, whatever the mailbox size.
    const mb = await requireMailbox(this.pool, accountId, id);
    let deletedSize = 0;
    if (mb.deleted_count > 0) {
      const row = await firstOf<{ n: string }>(this.pool, `SELECT coalesce(sum(size), 0) AS n FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND ${IS_DELETED_SQL}`, [accountId, id]);
      deletedSize = Number(row?.n ?? 0);
    }
    return { messages: mb.message_count, unseen: mb.unseen_count, deleted: mb.deleted_count, size: mb.total_size, recent: mb.recent_count, deletedSize };
  }

  // ---- Messages ----

  async appendMessages(
    accountId: AccountId,
    id: MailboxId,
    messages: NewMessage[],
  ): Promise<{ uidValidity: number; uids: Uid[]; modseq: ModSeq }> {
    // Validate and encode before taking any lock.
    const incoming = this.incoming(messages);
    return this.write(async (c) => {
      if (messages.length === 0) {
        const mb = await requireMailbox(c, accountId, id);
        return [{ uidValidity: mb.uid_validity, uids: [], modseq: toModSeq(mb.highest_modseq) }, []];
      }
      const limits = await lockQuota(c, accountId);
      await enforceQuota(c, accountId, limits, messages.length, messages.reduce((sum, m) => sum + m.blob.size, 0));
      const { mb, uids } = await insertRows(c, accountId, id, incoming.map((m) => m.row));
      await this.referenceNew(c, incoming);
      const modseq = mb.highest_modseq;
      return [{ uidValidity: mb.uid_validity, uids: uids.map(toUid), modseq: toModSeq(modseq) }, [{ accountId, mailboxId: id, modseq }]];
    });
  }

  async listSummaries(accountId: AccountId, id: MailboxId): Promise<MessageSummary[]> {
    // One statement: the mailbox row tells "missing" (no row) from "empty" (a row of NULLs).
    const res = await this.pool.query<[number | null, number, number, string, number]>({
      text: `SELECT m.uid, m.modseq, m.system_flags, m.keywords, m.size
             FROM mailboxes b LEFT JOIN messages m ON m.account_id = b.account_id AND m.mailbox_id = b.mailbox_id
             WHERE b.account_id = $1 AND b.mailbox_id = $2 ORDER BY m.uid`,
      values: [accountId, id],
      rowMode: 'array',
    });
    if (res.rows.length === 0) throw new StoreError('NONEXISTENT', 'no such mailbox');
    // Most messages share a few flag combinations: build each list once, copy per row.
    const lists = new Map<string, string[]>();
    const out: MessageSummary[] = [];
    for (const [uid, modseq, system, keywords, size] of res.rows) {
      if (uid === null) continue;
      const key = keywords === '' ? String(system) : `${system} ${keywords}`;
      let flags = lists.get(key);
      if (!flags) lists.set(key, (flags = flagList(system, keywords)));
      out.push({ uid: uid as Uid, modseq: modseq as ModSeq, flags: flags.slice(), size });
    }
    return out;
  }

  async getRecords(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<MessageRecord[]> {
    if (uids.length === 0) return [];
    // One statement, one snapshot: live messages and (RFC 2180 §4.1) expunged ones not yet released.
    // A UID is never both live and a tombstone.
    const rows = await rowsOf<RecordRow>(
      this.pool,
      `SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} AND uid = ANY($3::bigint[])
       UNION ALL
       SELECT ${RECORD_COLUMNS} FROM expunged WHERE ${SCOPE} AND blob_id IS NOT NULL AND uid = ANY($3::bigint[])
       ORDER BY uid`,
      [accountId, id, uids],
    );
    return rows.map(toRecord);
  }

  async getBlobIds(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>> {
    if (uids.length === 0) return new Map();
    // As getRecords: one snapshot of live messages and (RFC 2180 §4.1) held tombstones.
    const res = await this.pool.query<[number, string]>({
      text: `SELECT uid, blob_id FROM messages WHERE ${SCOPE} AND uid = ANY($3::bigint[])
             UNION ALL
             SELECT uid, blob_id FROM expunged WHERE ${SCOPE} AND blob_id IS NOT NULL AND uid = ANY($3::bigint[])`,
      values: [accountId, id, uids],
      rowMode: 'array',
    });
    return new Map(res.rows.map(([uid, blobId]) => [Number(uid) as Uid, blobId]));
  }

  async getHeaderFacts(blobIds: readonly string[]): Promise<Map<string, string>> {
    if (blobIds.length === 0) return new Map();
    const res = await this.pool.query<[blobId: string, facts: string]>({
      text: `SELECT b.blob_id, coalesce(b.header_facts, base.header_facts)
             FROM blobs b LEFT JOIN blobs base ON base.blob_id = b.base_id
             WHERE b.blob_id = ANY($1::text[]) AND coalesce(b.header_facts, base.header_facts) IS NOT NULL`,
      values: [blobIds],
      rowMode: 'array',
    });
    return new Map(res.rows);
  }

  async saveHeaderFacts(facts: ReadonlyMap<string, string>, version: number): Promise<void> {
    if (facts.size === 0) return;
    // A composite's facts are its base's (getHeaderFacts); a blob gone meanwhile joins nothing.
    // The stored version is read off the text's start (encodeHeaderFacts writes `{"v":N,` first):
    // a cast of malformed text to jsonb would fail the whole statement.
    await this.pool.query(
      `UPDATE blobs b SET header_facts = f.facts
       FROM (SELECT coalesce(c.base_id, c.blob_id) AS target, f.facts
             FROM unnest($1::text[], $2::text[]) AS f(blob_id, facts) JOIN blobs c ON c.blob_id = f.blob_id) f
       WHERE b.blob_id = f.target AND coalesce(substring(b.header_facts from '^\\{"v":(\\d{1,9})[,}]')::int, 0) < $3`,
      [[...facts.keys()], [...facts.values()], version],
    );
  }

  async getAnalysis(blobId: string, options: { bodyText?: boolean } = {}): Promise<MessageAnalysis | null> {
    // The cache drops long body text: a caller that needs none must say so, or every such message misses.
    const cached = this.analysisCache.get(blobId, options.bodyText ?? true);
    if (cached) return cached;
    const row = await firstOf<{ analysis: Buffer | null; prefix: Buffer | null; base_analysis: Buffer | null }>(
      this.pool,
      `SELECT b.analysis, b.prefix, base.analysis AS base_analysis
       FROM blobs b LEFT JOIN blobs base ON base.blob_id = b.base_id WHERE b.blob_id = $1`,
      [blobId],
    );
    // A composite's analysis is derived from its base's (store/composite-analysis.ts).
    const stored = row?.prefix ? row.base_analysis : row?.analysis;
    if (!row || !stored) return null;
    const decoded = decodeAnalysis(stored.toString('utf8'));
    const analysis = row.prefix ? composedAnalysis(decoded, row.prefix) : decoded;
    this.analysisCache.set(blobId, analysis);
    return analysis;
  }

  async changesSince(accountId: AccountId, id: MailboxId, since: ModSeq): Promise<MailboxChanges> {
    // One statement, one snapshot: the mailbox row (kind 0), changed messages (1) and tombstones (2).
    const res = await this.pool.query<[number, number, number | null, number | null, number | null, string | null, number | null]>({
      text: `SELECT 0 AS kind, uid_validity, uid_next, highest_modseq, NULL::smallint, NULL::text, NULL::bigint
               FROM mailboxes WHERE ${SCOPE}
             UNION ALL
             SELECT 1, uid, modseq, NULL, system_flags, keywords, size FROM messages WHERE ${SCOPE} AND modseq > $3
             UNION ALL
             SELECT 2, uid, NULL, NULL, NULL, NULL, NULL FROM expunged WHERE ${SCOPE} AND modseq > $3
             ORDER BY 1, 2`,
      values: [accountId, id, since],
      rowMode: 'array',
    });
    const [head, ...rest] = res.rows;
    if (!head || head[0] !== 0) throw new StoreError('NONEXISTENT', 'no such mailbox');
    const changed: MessageSummary[] = [];
    const expunged: Uid[] = [];
    for (const [kind, uid, modseq, , system, keywords, size] of rest) {
      if (kind === 2) expunged.push(toUid(uid));
      else changed.push(toSummary({ uid, modseq: modseq ?? 0, system_flags: system ?? 0, keywords: keywords ?? '', size: size ?? 0 }));
    }
    return { uidValidity: head[1], uidNext: toUid(head[2] ?? 0), highestModSeq: toModSeq(head[3] ?? 0), changed, expunged };
  }

  async storeFlags(
    accountId: AccountId,
    id: MailboxId,
    uids: readonly Uid[],
    op: FlagOp,
    flags: readonly string[],
    unchangedSince?: ModSeq,
  ): Promise<FlagChangeResult> {
    const change = parseFlags(flags);
    return this.write(async (c): Promise<[FlagChangeResult, ChangeNote[]]> => {
      const mb = await lockMailbox(c, accountId, id);
      const next = mb.highest_modseq + 1;
      const changed: MessageSummary[] = [];
      const conflicts: Uid[] = [];
      const updates: FlagRow[] = [];
      const rows = uids.length === 0 ? [] : await recordsOf(c, accountId, id, uids);
      let unseen = 0;
      let deleted = 0;
      for (const row of rows) {
        // RFC 7162 §3.2: UNCHANGEDSINCE fails for messages modified after the given modseq.
        if (unchangedSince !== undefined && row.modseq > unchangedSince) {
          conflicts.push(toUid(row.uid));
          continue;
        }
        const updated = applyFlagOp({ system: row.system_flags, keywords: keywordsFromText(row.keywords) }, op, change);
        if (!updated) continue;
        const after: FlagRow = { ...row, system_flags: updated.system, keywords: keywordsToText(updated.keywords), modseq: next };
        unseen += Number((after.system_flags & SEEN) === 0) - Number((row.system_flags & SEEN) === 0);
        deleted += Number((after.system_flags & DELETED) !== 0) - Number((row.system_flags & DELETED) !== 0);
        updates.push(after);
        changed.push(toSummary(after));
      }
      if (updates.length === 0) return [{ modseq: toModSeq(mb.highest_modseq), changed, conflicts }, []];
      await c.query(
        `UPDATE messages m SET system_flags = u.system_flags, keywords = u.keywords, modseq = $3
         FROM unnest($4::bigint[], $5::smallint[], $6::text[]) AS u (uid, system_flags, keywords)
         WHERE m.account_id = $1 AND m.mailbox_id = $2 AND m.uid = u.uid`,
        [accountId, id, next, updates.map((u) => u.uid), updates.map((u) => u.system_flags), updates.map((u) => u.keywords)],
      );
      await c.query(
        `UPDATE mailboxes SET highest_modseq = $3, unseen_count = unseen_count + $4, deleted_count = deleted_count + $5 WHERE ${SCOPE}`,
        [accountId, id, next, unseen, deleted],
      );
      return [{ modseq: toModSeq(next), changed, conflicts }, [{ accountId, mailboxId: id, modseq: next }]];
    });
  }

  async copyMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult> {
    return (await this.write((c) => transfer(c, accountId, from, uids, to, false))).result;
  }

  async moveMessages(
    accountId: AccountId,
    from: MailboxId,
    uids: readonly Uid[],
    to: MailboxId,
  ): Promise<CopyResult & { modseq: ModSeq }> {
    const { result, sourceModseq } = await this.write((c) => transfer(c, accountId, from, uids, to, true));
    return { ...result, modseq: toModSeq(sourceModseq) };
  }

  async replaceMessage(accountId: AccountId, from: MailboxId, uid: Uid, to: MailboxId, message: NewMessage): Promise<ReplaceResult> {
    const incoming = this.incoming([message]);
    return this.write(async (c): Promise<[ReplaceResult, ChangeNote[]]> => {
      const limits = await lockQuota(c, accountId);
      const { src } = await lockPair(c, accountId, from, to);
      const [old] = await recordsOf(c, accountId, from, [uid]);
      if (!old) throw new StoreError('NONEXISTENT', 'the message to replace no longer exists');
      // RFC 8508 §3.4: only the net consumption counts against the quota.
      await enforceQuota(c, accountId, limits, 0, message.blob.size - old.size);
      const added = await insertRows(c, accountId, to, incoming.map((m) => m.row));
      // When source and target are one mailbox, the insert raised its modseq.
      const current = from === to ? added.mb : src;
      const removed = await removeMessages(c, accountId, current, [uid], false);
      await this.referenceNew(c, incoming);
      return [
        { uidValidity: added.mb.uid_validity, uid: toUid(added.uids[0]!), modseq: toModSeq(removed.modseq) },
        [
          { accountId, mailboxId: to, modseq: added.mb.highest_modseq },
          { accountId, mailboxId: from, modseq: removed.modseq },
        ],
      ];
    });
  }

  async expunge(accountId: AccountId, id: MailboxId, uids?: readonly Uid[]): Promise<{ expunged: Uid[]; modseq: ModSeq }> {
    return this.write(async (c): Promise<[{ expunged: Uid[]; modseq: ModSeq }, ChangeNote[]]> => {
      const mb = await lockMailbox(c, accountId, id);
      // RFC 9051 §6.4.3 EXPUNGE; RFC 4315 §2.1 UID EXPUNGE limits it to the given UIDs.
      if (mb.deleted_count === 0 || uids?.length === 0) return [{ expunged: [], modseq: toModSeq(mb.highest_modseq) }, []];
      const removed = await removeMessages(c, accountId, mb, uids ?? null, true);
      if (removed.uids.length === 0) return [{ expunged: [], modseq: toModSeq(mb.highest_modseq) }, []];
      // No GC here: the tombstones hold the blobs (releaseExpunged).
      return [{ expunged: removed.uids.map(toUid), modseq: toModSeq(removed.modseq) }, [{ accountId, mailboxId: id, modseq: removed.modseq }]];
    });
  }

  async claimRecent(accountId: AccountId, id: MailboxId): Promise<Uid> {
    // Nothing arrived since the last claim: no write transaction (a later arrival is the next claim's).
    const seen = await firstOf<{ first_recent_uid: number; uid_next: number }>(
      this.pool,
      `SELECT first_recent_uid, uid_next FROM mailboxes WHERE ${SCOPE}`,
      [accountId, id],
    );
    if (seen && seen.first_recent_uid === seen.uid_next) return toUid(seen.first_recent_uid);
    return this.write(async (c) => {
      const mb = await lockMailbox(c, accountId, id);
      if (mb.first_recent_uid !== mb.uid_next) {
        await c.query(`UPDATE mailboxes SET first_recent_uid = uid_next, recent_count = 0 WHERE ${SCOPE}`, [accountId, id]);
      }
      return [toUid(mb.first_recent_uid), []];
    });
  }

  async firstRecentUid(accountId: AccountId, id: MailboxId): Promise<Uid> {
    return toUid((await requireMailbox(this.pool, accountId, id)).first_recent_uid);
  }

  // ---- Import and migration ----

  async importMessages(accountId: AccountId, id: MailboxId, messages: ImportedMessage[]): Promise<ImportResult> {
    // Validate before taking any lock.
    for (const m of messages) checkSourceKey(m.sourceKey, storable);
    const incoming = this.incoming(messages);
    return this.write(async (c): Promise<[ImportResult, ChangeNote[]]> => {
      const limits = await lockQuota(c, accountId);
      const mb = await lockMailbox(c, accountId, id);
      const recorded = await importedUids(c, accountId, id, messages.map((m) => m.sourceKey));
      const uids: Array<Uid | null> = messages.map(() => null);
      // The first message of each key not yet recorded; the others are skipped.
      const keys = new Set<string>();
      const fresh = messages.flatMap((m, i) => {
        if (keys.has(m.sourceKey) || recorded.has(m.sourceKey)) return [];
        keys.add(m.sourceKey);
        return [i];
      });
      if (fresh.length === 0) return [{ uidValidity: mb.uid_validity, uids, modseq: toModSeq(mb.highest_modseq) }, []];
      await enforceQuota(c, accountId, limits, fresh.length, fresh.reduce((sum, i) => sum + messages[i]!.blob.size, 0));
      const inserted = await insertRows(
        c,
        accountId,
        id,
        fresh.map((i) => incoming[i]!.row),
        fresh.map((i) => messages[i]!.uid),
        mb,
      );
      await c.query(
        `INSERT INTO import_records (account_id, mailbox_id, source_key, uid) SELECT $1, $2, k, u FROM unnest($3::text[], $4::bigint[]) AS r (k, u)`,
        [accountId, id, fresh.map((i) => messages[i]!.sourceKey), inserted.uids],
      );
      fresh.forEach((i, k) => (uids[i] = toUid(inserted.uids[k]!)));
      await this.referenceNew(c, fresh.map((i) => incoming[i]!));
      const modseq = inserted.mb.highest_modseq;
      return [{ uidValidity: mb.uid_validity, uids, modseq: toModSeq(modseq) }, [{ accountId, mailboxId: id, modseq }]];
    });
  }

  async findImported(accountId: AccountId, id: MailboxId, sourceKeys: readonly string[]): Promise<Map<string, Uid>> {
    return importedUids(this.pool, accountId, id, sourceKeys);
  }

  async adoptUidValidity(accountId: AccountId, id: MailboxId, uidValidity: number): Promise<boolean> {
    if (!Number.isInteger(uidValidity) || uidValidity < 1 || uidValidity > MAX_UID) throw new StoreError('CANNOT', 'invalid UIDVALIDITY');
    return this.write(async (c) => {
      const mb = await lockMailbox(c, accountId, id);
      if (mb.uid_validity === uidValidity) return [true, []];
      // Only a mailbox that never held a message: no client can have cached a UID of it.
      if (mb.uid_next !== 1) return [false, []];
      await c.query(`UPDATE mailboxes SET uid_validity = $3 WHERE ${SCOPE}`, [accountId, id, uidValidity]);
      // Mailboxes created later (this name again included) get larger values (RFC 9051 §2.3.1.1).
      await allocateUidValidity(c, uidValidity, 1);
      return [true, []];
    });
  }

  async getSyncState(accountId: AccountId, id: MailboxId, source: string): Promise<string | null> {
    if (!storable(source)) return null;
    const row = await firstOf<{ state: string }>(this.pool, `SELECT state FROM sync_states WHERE ${SCOPE} AND source = $3`, [accountId, id, source]);
    return row?.state ?? null;
  }

  async setSyncState(accountId: AccountId, id: MailboxId, source: string, state: string): Promise<void> {
    if (!storable(source) || !storable(state)) throw new StoreError('CANNOT', 'invalid sync state');
    await this.write(async (c) => {
      await requireMailbox(c, accountId, id);
      await c.query(
        `INSERT INTO sync_states (account_id, mailbox_id, source, state) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, mailbox_id, source) DO UPDATE SET state = EXCLUDED.state`,
        [accountId, id, source, state],
      );
      return [undefined, []];
    });
  }

  // ---- Metadata (RFC 5464) ----

  async getMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly string[], depth: MetadataDepth = 0): Promise<MetadataEntry[]> {
    return readMetadata(this.pool, accountId, mailboxId, entries, depth);
  }

  async setMetadata(
    accountId: AccountId,
    mailboxId: MailboxId | null,
    entries: readonly (readonly [name: string, value: Buffer | null])[],
    maxEntries = Infinity,
  ): Promise<void> {
    if (entries.some(([name]) => !storable(name))) throw new StoreError('CANNOT', 'invalid metadata entry name');
    await this.write(async (c) => [undefined, await writeMetadata(c, accountId, mailboxId, entries, maxEntries)]);
  }

  // ---- Whole-store copy (store/copy/) ----

  async dumpPage(section: DumpSection, after: DumpKey | null, limit: number): Promise<DumpRecord[]> {
    if (section === 'counters') {
      if (after) return [];
      const row = await firstOf<{ a: number; m: number; u: number }>(
        this.pool,
        `SELECT coalesce(pg_sequence_last_value(${ACCOUNT_IDS}), 0) AS a, coalesce(pg_sequence_last_value('mailbox_ids'), 0) AS m,
                coalesce((SELECT value FROM counters WHERE name = 'uid_validity'), 0) AS u`,
        [],
      );
      return [{ kind: 'counters', lastAccountId: row?.a ?? 0, lastMailboxId: row?.m ?? 0, lastUidValidity: row?.u ?? 0 }];
    }
    const rows = await rowsOf(this.pool, pageSql(section, after !== null, (i) => `$${i}`), [...(after ?? []), limit]);
    return pageRecords(section, rows);
  }

  async restorableBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    // A staged row has bytes but no analysis yet: it still needs one.
    const rows = await rowsOf<{ blob_id: string }>(
      this.pool,
      'SELECT blob_id FROM blobs WHERE blob_id = ANY($1::text[]) AND (analysis IS NOT NULL OR base_id IS NOT NULL)',
      [blobIds],
    );
    return new Set(rows.map((r) => r.blob_id));
  }

  async restore(records: readonly RestoreRecord[]): Promise<void> {
    await this.write(async (c) => {
      const messages = records.filter((r): r is RestoredMessage => r.kind === 'message');
      if (messages.length > 0) await this.restoreMessages(c, messages);
      for (const r of records) {
        if (r.kind === 'message') continue;
        if (r.kind === 'counters') {
          // Raised, never lowered: the target may have handed out larger values already.
          await c.query(
            `INSERT INTO counters (name, value) VALUES ('uid_validity', $1)
             ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value, EXCLUDED.value)`,
            [r.lastUidValidity],
          );
          await c.query(`SELECT setval(${ACCOUNT_IDS}, $1) WHERE $1 > coalesce(pg_sequence_last_value(${ACCOUNT_IDS}), 0)`, [r.lastAccountId]);
          await c.query(`SELECT setval('mailbox_ids', $1) WHERE $1 > coalesce(pg_sequence_last_value('mailbox_ids'), 0)`, [r.lastMailboxId]);
        } else {
          const { sql, values } = rowInsert(r, PG_DIALECT);
          await c.query(sql, values);
        }
      }
      return [undefined, []];
    });
  }

  // ---- Maintenance ----

  /**
   * Ends the RFC 2180 §4.1 grace period of messages expunged at least the
   * retention period before `now`: their tombstones drop the FETCH data and
   * the blob reference (the rows stay for VANISHED), in batches; then
   * unreferenced blobs are collected. Several nodes may run it at once (rows
   * being released elsewhere are skipped). Returns how many were released.
   */
  async releaseExpunged(now = Date.now()): Promise<number> {
    const before = new Date(now - this.retentionMs);
    let released = 0;
    for (;;) {
      const n = await this.write(async (c) => {
        const due = await rowsOf<{ blob_id: string; n: number }>(
          c,
          `WITH due AS (
             SELECT account_id, mailbox_id, modseq, uid, blob_id FROM expunged
             WHERE blob_id IS NOT NULL AND expunged_at <= $1
             ORDER BY expunged_at LIMIT $2 FOR UPDATE SKIP LOCKED),
           released AS (
             UPDATE expunged e SET blob_id = NULL, system_flags = NULL, keywords = NULL, internal_date = NULL,
               save_date = NULL, size = NULL, email_id = NULL, expunged_at = NULL
             FROM due WHERE (e.account_id, e.mailbox_id, e.modseq, e.uid) = (due.account_id, due.mailbox_id, due.modseq, due.uid))
           SELECT blob_id, count(*) AS n FROM due GROUP BY blob_id`,
          [before, RELEASE_BATCH],
        );
        const refs = new BlobRefs();
        for (const d of due) refs.add(d.blob_id, -d.n);
        await refs.apply(c);
        return [due.reduce((sum, d) => sum + d.n, 0), []];
      });
      released += n;
      if (n < RELEASE_BATCH) break;
      await yieldToLoop();
    }
    // Also when nothing was released: blobs may be left over from a crash or an abandoned APPEND.
    await this.collectGarbage();
    return released;
  }

  /**
   * Deletes unreferenced blobs whose staging grace period is over, in
   * batches (rows another node is deleting or referencing are skipped), and
   * staging chunks abandoned by crashed writers.
   */
  async collectGarbage(): Promise<void> {
    const garbage = 'refcount = 0 AND (staged_until IS NULL OR staged_until < now())';
    for (;;) {
      const gone = await rowsOf<{ blob_id: string }>(
        this.pool,
        `DELETE FROM blobs WHERE ${garbage} AND blob_id IN (SELECT blob_id FROM blobs WHERE ${garbage} LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING blob_id`,
        [GC_BATCH],
      );
      // Other nodes may keep a collected blob's analysis cached: harmless, as no message refers to it.
      for (const { blob_id } of gone) this.analysisCache.delete(blob_id);
      if (gone.length < GC_BATCH) break;
      await yieldToLoop();
    }
    await this.pool.query(`DELETE FROM blob_staging WHERE created_at < now() - make_interval(secs => ${STAGE_GRACE_SECONDS})`);
  }

  // ---- Internals ----

  /**
   * Runs body in a transaction; the changes it reports are announced by
   * NOTIFY in the COMMIT round trip and then to local listeners.
   */
  private async write<T>(body: (c: Client) => Promise<[T, ChangeNote[]]>): Promise<T> {
    let wakes: ChangeNote[] = [];
    const result = await transaction(this.pool, async (c) => {
      const [value, changes] = await body(c);
      wakes = changes;
      return { result: value, beforeCommit: changes.map(notifyStatement) };
    });
    for (const w of wakes) this.bus.publish(w.accountId, w.mailboxId, toModSeq(w.modseq));
    return result;
  }

  /** Rows for new messages (append, replace, import), validated and encoded before any lock is taken. */
  private incoming(messages: readonly NewMessage[]): Incoming[] {
    const now = new Date();
    return messages.map((message) => {
      const flags: FlagSet = parseFlags(message.flags);
      return {
        message,
        row: {
          system_flags: flags.system,
          keywords: keywordsToText(flags.keywords),
          internal_date: message.internalDate,
          save_date: now,
          size: message.blob.size,
          blob_id: message.blob.blobId,
          // RFC 8474 §5.1: a new message gets a new EMAILID.
          email_id: newEmailId(),
        },
      };
    });
  }

  /** Takes the references of new messages on their (staged) blobs, storing each analysis once. */
  /**
   * Inserts restored messages verbatim (store restore) and keeps what the
   * store derives from them, as its own insertions do: the mailboxes' counts
   * and the blob references (a new blob's analysis stored by referenceNew).
   */
  private async restoreMessages(c: Client, messages: readonly RestoredMessage[]): Promise<void> {
    const rows = messages.map(restoredRow);
    const byMailbox = new Map<string, { accountId: number; mailboxId: number; rows: Array<NewRow & { uid: number }> }>();
    messages.forEach((m, i) => {
      const key = `${m.accountId}/${m.mailboxId}`;
      let group = byMailbox.get(key);
      if (!group) byMailbox.set(key, (group = { accountId: m.accountId, mailboxId: m.mailboxId, rows: [] }));
      group.rows.push({ ...rows[i]!, uid: m.uid });
    });
    // Lock order (module comment): mailboxes, then messages, then blobs.
    for (const group of byMailbox.values()) {
      const { accountId, mailboxId } = group;
      const mb = await lockMailbox(c, accountId, mailboxId);
      const d = countDelta(group.rows, 1, mb.first_recent_uid);
      await c.query(
        `UPDATE mailboxes SET message_count = message_count + $3, total_size = total_size + $4,
           unseen_count = unseen_count + $5, deleted_count = deleted_count + $6, recent_count = recent_count + $7
         WHERE ${SCOPE}`,
        [accountId, mailboxId, d.messages, d.size, d.unseen, d.deleted, d.recent],
      );
    }
    await insertMessageRows(c, messages.map((m, i) => ({ accountId: m.accountId, mailboxId: m.mailboxId, uid: m.uid, modseq: m.modseq, row: rows[i]! })));
    // Blobs new here get their analysis stored as by any insertion; the others only gain a reference.
    const fresh: Incoming[] = [];
    const known = new BlobRefs();
    messages.forEach((m, i) => {
      if (!m.analysis) known.add(m.blob.blobId, 1);
      else fresh.push({ message: { blob: m.blob, analysis: m.analysis, flags: m.flags, internalDate: m.internalDate }, row: rows[i]! });
    });
    await this.referenceNew(c, fresh);
    await known.apply(c);
  }

  private async referenceNew(c: Client, incoming: readonly Incoming[]): Promise<void> {
    const refs = new BlobRefs();
    for (const { message } of incoming) {
      refs.addStaged(message.blob, Buffer.from(encodeAnalysis(message.analysis)), encodeHeaderFacts(message.analysis));
    }
    await refs.apply(c);
  }

}

/** The stored row of a restored message (flags validated, everything else verbatim). */
function restoredRow(m: RestoredMessage): NewRow {
  const flags = parseFlags(m.flags);
  return {
    system_flags: flags.system,
    keywords: keywordsToText(flags.keywords),
    internal_date: m.internalDate,
    save_date: m.saveDate,
    size: m.blob.size,
    blob_id: m.blob.blobId,
    email_id: m.emailId,
  };
}

/** Opens (migrating as needed) a PostgreSQL store and connects its change bus. */
export async function openPgStore(opts: PgStoreOptions): Promise<PgStore> {
  checkStoreOptions(opts);
  const settings = connectionSettings(opts.url);
  const pool = createPool(settings, opts.onError ?? warnBackgroundError);
  const store = new PgStore(pool, settings, opts);
  try {
    await migratePg(pool);
    await store.start();
    // Grace periods that ended while no node ran, and blobs left unreferenced by a crash.
    await store.releaseExpunged();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
