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
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AccountId, MailboxId, ModSeq, Uid } from '../../ids.js';
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { MessageAnalysis } from '../../mime/types.js';
import type { ChangeNote } from '../../events/pg-bus.js';
import { notifyStatement, PgChangeBus, readModSeqs } from '../../events/pg-bus.js';
import { PgBlobStore, STAGE_GRACE_SECONDS } from '../blobs/pg-blob-store.js';
import { composedAnalysis } from '../composite-analysis.js';
import { decodeAnalysis, encodeAnalysis } from '../sqlite/analysis-codec.js';
import type { FlagSet } from '../sqlite/flags.js';
import { applyFlagOp, DELETED, IS_DELETED_SQL, keywordsFromText, keywordsToText, parseFlags, SEEN, flagList } from '../sqlite/flags.js';
import type { DefaultMailbox } from '../sqlite/sqlite-store.js';
import { DEFAULT_MAILBOXES } from '../sqlite/sqlite-store.js';
import type {
  Account,
  Alias,
  CopyResult,
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
} from '../types.js';
import { MAX_SOURCE_KEY, StoreError } from '../types.js';
import { BlobRefs } from './blob-refs.js';
import type { PgConnectionSettings } from './pool.js';
import { connectionSettings, createPool, transaction } from './pool.js';
import type { AccountRow, FlagRow, MailboxRow, NewRow, RecordRow } from './rows.js';
import { countDelta, KEPT_COLUMNS, RECORD_COLUMNS, toAccount, toMailbox, toRecord, toSummary } from './rows.js';
import { migratePg } from './schema.js';

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

const MAX_UID = 0xffffffff;
/** Blob rows removed per GC statement; the loop yields between batches. */
const GC_BATCH = 200;
/** Tombstones released per transaction; the loop yields between batches. */
const RELEASE_BATCH = 500;
const DEFAULT_RETENTION_MS = 60 * 60 * 1000;
/** The retention sweep runs this often, or once per retention period when that is shorter (but not below a second). */
const RELEASE_PERIOD_MS = 5 * 60 * 1000;
const MIN_RELEASE_PERIOD_MS = 1000;
const INBOX = 'INBOX';
/** The metadata owner id of server-level entries (no mailbox has id 0). */
const SERVER_METADATA = 0;
const SCOPE = 'account_id = $1 AND mailbox_id = $2';

type Client = pg.PoolClient;
type Queryable = Client | pg.Pool;

/** 'INBOX' in any case is INBOX (RFC 9051 §5.1); every other name is exact. ASCII-only match on purpose. */
function canonicalName(name: string): string {
  return /^inbox$/i.test(name) ? INBOX : name;
}

/** RFC 8474 objectid: letters, digits, '-' and '_'. */
function newEmailId(): string {
  return `M${randomBytes(12).toString('base64url')}`;
}

/** PostgreSQL text cannot hold NUL, so no stored name contains one. */
function storable(name: string): boolean {
  return !name.includes('\0');
}

/** Source keys are bounded like every other stored input. */
function checkSourceKey(key: string): void {
  if (key.length === 0 || key.length > MAX_SOURCE_KEY || !storable(key)) throw new StoreError('CANNOT', 'invalid import source key');
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function warn(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'MailStoreBackgroundError');
}

async function rowsOf<R extends pg.QueryResultRow>(c: Queryable, text: string, values: unknown[]): Promise<R[]> {
  return (await c.query<R>(text, values)).rows;
}

async function firstOf<R extends pg.QueryResultRow>(c: Queryable, text: string, values: unknown[]): Promise<R | undefined> {
  return (await c.query<R>(text, values)).rows[0];
}

/** A message to insert, with the blob reference it brings. */
interface Incoming {
  row: NewRow;
  message: NewMessage;
}

/** The PostgreSQL MailStore. Create it with openPgStore(). */
export class PgStore implements MailStore {
  readonly blobs: PgBlobStore;
  readonly bus: PgChangeBus;
  private readonly defaults: readonly DefaultMailbox[];
  private readonly onError: (err: unknown) => void;
  private readonly retentionMs: number;
  private releaseTimer: NodeJS.Timeout | null = null;
  /** Background GC and release runs that close() waits for. */
  private readonly pendingGc = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;

  /** Wraps a pool on a migrated database; use openPgStore(). */
  constructor(
    private readonly pool: pg.Pool,
    settings: PgConnectionSettings,
    opts: Omit<PgStoreOptions, 'url'> = {},
  ) {
    this.defaults = opts.defaultMailboxes ?? DEFAULT_MAILBOXES;
    this.onError = opts.onError ?? warn;
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
    const period = Math.max(MIN_RELEASE_PERIOD_MS, Math.min(RELEASE_PERIOD_MS, this.retentionMs));
    // unref: the sweep alone must not keep the process alive.
    this.releaseTimer = setInterval(() => void this.quietly(() => this.releaseExpunged()), period).unref();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.releaseTimer) clearInterval(this.releaseTimer);
      await Promise.all(this.pendingGc);
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
      await this.insertMailboxes(c, row.account_id, boxes);
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
      const refs = await this.dropMessages(c, id, null);
      // Cascades to mailboxes, subscriptions, aliases, metadata, import records and sync states.
      await c.query('DELETE FROM accounts WHERE account_id = $1', [id]);
      await refs.apply(c);
      return [undefined, []];
    });
    await this.quietly(() => this.collectGarbage());
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
      await this.refuseExisting(c, accountId, canonical);
      const [row] = await this.insertMailboxes(c, accountId, [{ name: canonical, specialUse }]);
      if (!row) throw new Error('mailbox insert returned nothing');
      return [toMailbox(row), []];
    });
  }

  async deleteMailbox(accountId: AccountId, id: MailboxId): Promise<void> {
    await this.write(async (c) => {
      const mb = await this.lockMailbox(c, accountId, id, 'UPDATE');
      if (mb.name === INBOX) throw new StoreError('CANNOT', 'INBOX cannot be deleted');
      // Messages and tombstones go at once, releasing their blobs: the mailbox's sessions
      // are disconnected, so nobody may still FETCH. Subscriptions stay (RFC 9051 §6.3.9).
      const refs = await this.dropMessages(c, accountId, id);
      await c.query(`DELETE FROM metadata WHERE ${SCOPE}`, [accountId, id]);
      // Cascades to import records and sync states.
      await c.query(`DELETE FROM mailboxes WHERE ${SCOPE}`, [accountId, id]);
      await refs.apply(c);
      // Sessions that have it selected wake up and find it gone.
      return [undefined, [{ accountId, mailboxId: id, modseq: mb.highest_modseq + 1 }]];
    });
    this.bus.markGone(accountId, id);
    await this.quietly(() => this.collectGarbage());
  }

  async renameMailbox(accountId: AccountId, from: string, to: string): Promise<void> {
    const source = canonicalName(from);
    const target = canonicalName(to);
    if (!storable(source)) throw new StoreError('NONEXISTENT', 'no such mailbox');
    if (!storable(target)) throw new StoreError('CANNOT', 'invalid mailbox name');
    await this.write(async (c): Promise<[undefined, ChangeNote[]]> => {
      // The source and its inferiors (names strictly between `x/` and `x0`; '0' follows '/'), locked by id.
      const tree = await rowsOf<MailboxRow>(
        c,
        `SELECT * FROM mailboxes WHERE account_id = $1 AND (name = $2 OR (name > $3 AND name < $4))
         ORDER BY mailbox_id FOR UPDATE`,
        [accountId, source, `${source}/`, `${source}0`],
      );
      const src = tree.find((mb) => mb.name === source);
      if (!src) throw new StoreError('NONEXISTENT', 'no such mailbox');
      await this.refuseExisting(c, accountId, target, 'target mailbox exists');
      if (source === INBOX) return [undefined, await this.renameInbox(c, accountId, src, target)];
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
      return [undefined, []];
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
      return [undefined, []];
    });
  }

  async listSubscriptions(accountId: AccountId): Promise<string[]> {
    const rows = await rowsOf<{ name: string }>(this.pool, 'SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name', [accountId]);
    return rows.map((r) => r.name);
  }

  async mailboxCounts(accountId: AccountId, id: MailboxId): Promise<MailboxCounts> {
    // Kept with every change: no scan, whatever the mailbox size.
    const mb = await this.requireMailbox(this.pool, accountId, id);
    return { messages: mb.message_count, unseen: mb.unseen_count, deleted: mb.deleted_count, size: mb.total_size, recent: mb.recent_count };
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
        const mb = await this.requireMailbox(c, accountId, id);
        return [{ uidValidity: mb.uid_validity, uids: [], modseq: toModSeq(mb.highest_modseq) }, []];
      }
      const limits = await this.lockQuota(c, accountId);
      await this.enforceQuota(c, accountId, limits, messages.length, messages.reduce((sum, m) => sum + m.blob.size, 0));
      const { mb, uids } = await this.insertRows(c, accountId, id, incoming.map((m) => m.row));
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

  async getAnalysis(blobId: string): Promise<MessageAnalysis | null> {
    const row = await firstOf<{ analysis: Buffer | null; prefix: Buffer | null; base_analysis: Buffer | null }>(
      this.pool,
      `SELECT b.analysis, b.prefix, base.analysis AS base_analysis
       FROM blobs b LEFT JOIN blobs base ON base.blob_id = b.base_id WHERE b.blob_id = $1`,
      [blobId],
    );
    if (!row) return null;
    // A composite's analysis is derived from its base's (store/composite-analysis.ts).
    if (row.prefix !== null) return row.base_analysis ? composedAnalysis(decodeAnalysis(row.base_analysis.toString('utf8')), row.prefix) : null;
    return row.analysis ? decodeAnalysis(row.analysis.toString('utf8')) : null;
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
      const mb = await this.lockMailbox(c, accountId, id);
      const next = mb.highest_modseq + 1;
      const changed: MessageSummary[] = [];
      const conflicts: Uid[] = [];
      const updates: FlagRow[] = [];
      const rows = uids.length === 0 ? [] : await this.recordsOf(c, accountId, id, uids);
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
    return (await this.write((c) => this.transfer(c, accountId, from, uids, to, false))).result;
  }

  async moveMessages(
    accountId: AccountId,
    from: MailboxId,
    uids: readonly Uid[],
    to: MailboxId,
  ): Promise<CopyResult & { modseq: ModSeq }> {
    const { result, sourceModseq } = await this.write((c) => this.transfer(c, accountId, from, uids, to, true));
    return { ...result, modseq: toModSeq(sourceModseq) };
  }

  async replaceMessage(accountId: AccountId, from: MailboxId, uid: Uid, to: MailboxId, message: NewMessage): Promise<ReplaceResult> {
    const incoming = this.incoming([message]);
    return this.write(async (c): Promise<[ReplaceResult, ChangeNote[]]> => {
      const limits = await this.lockQuota(c, accountId);
      const { src } = await this.lockPair(c, accountId, from, to);
      const [old] = await this.recordsOf(c, accountId, from, [uid]);
      if (!old) throw new StoreError('NONEXISTENT', 'the message to replace no longer exists');
      // RFC 8508 §3.4: only the net consumption counts against the quota.
      await this.enforceQuota(c, accountId, limits, 0, message.blob.size - old.size);
      const added = await this.insertRows(c, accountId, to, incoming.map((m) => m.row));
      // When source and target are one mailbox, the insert raised its modseq.
      const current = from === to ? added.mb : src;
      const removed = await this.removeMessages(c, accountId, current, [uid], false);
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
      const mb = await this.lockMailbox(c, accountId, id);
      // RFC 9051 §6.4.3 EXPUNGE; RFC 4315 §2.1 UID EXPUNGE limits it to the given UIDs.
      if (mb.deleted_count === 0 || uids?.length === 0) return [{ expunged: [], modseq: toModSeq(mb.highest_modseq) }, []];
      const removed = await this.removeMessages(c, accountId, mb, uids ?? null, true);
      if (removed.uids.length === 0) return [{ expunged: [], modseq: toModSeq(mb.highest_modseq) }, []];
      // No GC here: the tombstones hold the blobs (releaseExpunged).
      return [{ expunged: removed.uids.map(toUid), modseq: toModSeq(removed.modseq) }, [{ accountId, mailboxId: id, modseq: removed.modseq }]];
    });
  }

  async claimRecent(accountId: AccountId, id: MailboxId): Promise<Uid> {
    return this.write(async (c) => {
      const mb = await this.lockMailbox(c, accountId, id);
      if (mb.first_recent_uid !== mb.uid_next) {
        await c.query(`UPDATE mailboxes SET first_recent_uid = uid_next, recent_count = 0 WHERE ${SCOPE}`, [accountId, id]);
      }
      return [toUid(mb.first_recent_uid), []];
    });
  }

  // ---- Import and migration ----

  async importMessages(accountId: AccountId, id: MailboxId, messages: ImportedMessage[]): Promise<ImportResult> {
    // Validate before taking any lock.
    for (const m of messages) checkSourceKey(m.sourceKey);
    const incoming = this.incoming(messages);
    return this.write(async (c): Promise<[ImportResult, ChangeNote[]]> => {
      const limits = await this.lockQuota(c, accountId);
      const mb = await this.lockMailbox(c, accountId, id);
      const recorded = await this.importedUids(c, accountId, id, messages.map((m) => m.sourceKey));
      const uids: Array<Uid | null> = messages.map(() => null);
      // The first message of each key not yet recorded; the others are skipped.
      const keys = new Set<string>();
      const fresh = messages.flatMap((m, i) => {
        if (keys.has(m.sourceKey) || recorded.has(m.sourceKey)) return [];
        keys.add(m.sourceKey);
        return [i];
      });
      if (fresh.length === 0) return [{ uidValidity: mb.uid_validity, uids, modseq: toModSeq(mb.highest_modseq) }, []];
      await this.enforceQuota(c, accountId, limits, fresh.length, fresh.reduce((sum, i) => sum + messages[i]!.blob.size, 0));
      const inserted = await this.insertRows(
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
    return this.importedUids(this.pool, accountId, id, sourceKeys);
  }

  async adoptUidValidity(accountId: AccountId, id: MailboxId, uidValidity: number): Promise<boolean> {
    if (!Number.isInteger(uidValidity) || uidValidity < 1 || uidValidity > MAX_UID) throw new StoreError('CANNOT', 'invalid UIDVALIDITY');
    return this.write(async (c) => {
      const mb = await this.lockMailbox(c, accountId, id);
      if (mb.uid_validity === uidValidity) return [true, []];
      // Only a mailbox that never held a message: no client can have cached a UID of it.
      if (mb.uid_next !== 1) return [false, []];
      await c.query(`UPDATE mailboxes SET uid_validity = $3 WHERE ${SCOPE}`, [accountId, id, uidValidity]);
      // Mailboxes created later (this name again included) get larger values (RFC 9051 §2.3.1.1).
      await this.allocateUidValidity(c, uidValidity, 1);
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
      await this.requireMailbox(c, accountId, id);
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
    const names = [...new Set(entries.map((e) => e.toLowerCase()))].filter(storable);
    // One statement: the mailbox check and every candidate (exact names and, with a depth, names below them).
    const rows = await rowsOf<{ name: string | null; value: Buffer | null }>(
      this.pool,
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

  async setMetadata(
    accountId: AccountId,
    mailboxId: MailboxId | null,
    entries: readonly (readonly [name: string, value: Buffer | null])[],
    maxEntries = Infinity,
  ): Promise<void> {
    if (entries.some(([name]) => !storable(name))) throw new StoreError('CANNOT', 'invalid metadata entry name');
    await this.write(async (c): Promise<[undefined, ChangeNote[]]> => {
      // Writers of one owner serialize on its row (the mailbox, or the account for server-level entries).
      const mb = mailboxId === null ? null : await this.lockMailbox(c, accountId, mailboxId);
      if (!mb && !(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1 FOR NO KEY UPDATE', [accountId]))) {
        throw new StoreError('NONEXISTENT', 'no such account');
      }
      const owner = mailboxId ?? SERVER_METADATA;
      const count = async () => (await firstOf<{ n: number }>(c, 'SELECT count(*) AS n FROM metadata WHERE account_id = $1 AND mailbox_id = $2', [accountId, owner]))?.n ?? 0;
      const before = await count();
      let changed = false;
      for (const [name, value] of entries) {
        const key = name.toLowerCase();
        const res =
          value === null
            ? await c.query('DELETE FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND name = $3', [accountId, owner, key])
            : await c.query(
                `INSERT INTO metadata (account_id, mailbox_id, name, value) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account_id, mailbox_id, name) DO UPDATE SET value = EXCLUDED.value WHERE metadata.value <> EXCLUDED.value`,
                [accountId, owner, key, value],
              );
        if ((res.rowCount ?? 0) > 0) changed = true;
      }
      const after = await count();
      // Throwing rolls the whole command back (RFC 5464 §4.3: all or nothing).
      if (after > before && after > maxEntries) throw new StoreError('LIMIT', 'too many metadata entries');
      if (!mb || !changed) return [undefined, []];
      // RFC 7162 §3.2: a changed mailbox annotation raises the mailbox's mod-sequence.
      const next = mb.highest_modseq + 1;
      await c.query(`UPDATE mailboxes SET highest_modseq = $3 WHERE ${SCOPE}`, [accountId, mb.mailbox_id, next]);
      return [undefined, [{ accountId, mailboxId: mb.mailbox_id as MailboxId, modseq: next }]];
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
      const res = await this.pool.query(
        `DELETE FROM blobs WHERE ${garbage} AND blob_id IN (SELECT blob_id FROM blobs WHERE ${garbage} LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        [GC_BATCH],
      );
      if ((res.rowCount ?? 0) < GC_BATCH) break;
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

  /** Background work (GC, release): a failure goes to onError, never to the caller whose change committed. */
  private async quietly(task: () => Promise<unknown>): Promise<void> {
    const run = task().then(() => undefined, this.onError);
    this.pendingGc.add(run);
    try {
      await run;
    } finally {
      this.pendingGc.delete(run);
    }
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
  private async referenceNew(c: Client, incoming: readonly Incoming[]): Promise<void> {
    const refs = new BlobRefs();
    for (const { message } of incoming) refs.addStaged(message.blob, Buffer.from(encodeAnalysis(message.analysis)));
    await refs.apply(c);
  }

  private async requireMailbox(c: Queryable, accountId: number, id: number): Promise<MailboxRow> {
    const row = await firstOf<MailboxRow>(c, `SELECT * FROM mailboxes WHERE ${SCOPE}`, [accountId, id]);
    if (!row) throw new StoreError('NONEXISTENT', 'no such mailbox');
    return row;
  }

  /** Locks one mailbox row (writers of a mailbox serialize here); NONEXISTENT if missing. */
  private async lockMailbox(c: Client, accountId: number, id: number, mode: 'NO KEY UPDATE' | 'UPDATE' = 'NO KEY UPDATE'): Promise<MailboxRow> {
    const row = await firstOf<MailboxRow>(c, `SELECT * FROM mailboxes WHERE ${SCOPE} FOR ${mode}`, [accountId, id]);
    if (!row) throw new StoreError('NONEXISTENT', 'no such mailbox');
    return row;
  }

  /** Locks two mailboxes in id order (one row when they are the same); NONEXISTENT if either is missing. */
  private async lockPair(c: Client, accountId: number, from: number, to: number): Promise<{ src: MailboxRow; dst: MailboxRow }> {
    const locked = await rowsOf<MailboxRow>(
      c,
      'SELECT * FROM mailboxes WHERE account_id = $1 AND mailbox_id = ANY($2::bigint[]) ORDER BY mailbox_id FOR NO KEY UPDATE',
      [accountId, [from, to]],
    );
    const src = locked.find((mb) => mb.mailbox_id === from);
    const dst = locked.find((mb) => mb.mailbox_id === to);
    if (!src || !dst) throw new StoreError('NONEXISTENT', 'no such mailbox');
    return { src, dst };
  }

  private async refuseExisting(c: Client, accountId: number, name: string, text = 'mailbox exists'): Promise<void> {
    if (await firstOf(c, 'SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2', [accountId, name])) {
      throw new StoreError('ALREADYEXISTS', text);
    }
  }

  /** Raises the installation's UIDVALIDITY counter to max(its value, floor) + n; returns the new value. */
  private async allocateUidValidity(c: Client, floor: number, n: number): Promise<number> {
    const row = await firstOf<{ value: number }>(
      c,
      `INSERT INTO counters (name, value) VALUES ('uid_validity', $1::bigint + $2)
       ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value, $1) + $2 RETURNING value`,
      [floor, n],
    );
    if (!row) throw new Error('counter allocation failed');
    return row.value;
  }

  /** Creates mailboxes with fresh ids and fresh, increasing UIDVALIDITY values (RFC 9051 §2.3.1.1). */
  private async insertMailboxes(c: Client, accountId: number, boxes: ReadonlyArray<{ name: string; specialUse: string | null }>): Promise<MailboxRow[]> {
    // One allocation for all: max(previous, now in seconds) + 1 … + n, increasing even across delete + recreate.
    const last = await this.allocateUidValidity(c, Math.floor(Date.now() / 1000), boxes.length);
    return rowsOf<MailboxRow>(
      c,
      `INSERT INTO mailboxes (account_id, mailbox_id, name, uid_validity, special_use)
       SELECT $1, nextval('mailbox_ids'), b.name, b.uid_validity, b.special_use
       FROM unnest($2::text[], $3::bigint[], $4::text[]) AS b (name, uid_validity, special_use)
       RETURNING *`,
      [accountId, boxes.map((b) => b.name), boxes.map((_, i) => last - boxes.length + 1 + i), boxes.map((b) => b.specialUse)],
    );
  }

  /**
   * RFC 9208 §4.3.1 step one: reads the account's limits and, when it has
   * any, locks the account row, so concurrent changes to different mailboxes
   * cannot both slip under a limit. Called before any mailbox lock (lock
   * order). Null when the account is unlimited.
   */
  private async lockQuota(c: Client, accountId: number): Promise<QuotaLimits | null> {
    const sql = 'SELECT quota_storage AS storage, quota_messages AS messages FROM accounts WHERE account_id = $1';
    let limits = await firstOf<QuotaLimits>(c, sql, [accountId]);
    if (limits && limits.storage === null && limits.messages === null) return null;
    limits = await firstOf<QuotaLimits>(c, `${sql} FOR NO KEY UPDATE`, [accountId]);
    if (!limits) throw new StoreError('NONEXISTENT', 'no such account');
    return limits;
  }

  /**
   * RFC 9208 §4.3.1 step two: a change that would put the account over a
   * limit fails with OVERQUOTA. A change that does not grow a resource never
   * fails on it (a REPLACE by a smaller message works over a lowered limit).
   */
  private async enforceQuota(c: Client, accountId: number, limits: QuotaLimits | null, addMessages: number, addBytes: number): Promise<void> {
    if (!limits) return;
    const usage = await firstOf<{ storage: number; messages: number }>(
      c,
      `SELECT coalesce(sum(total_size), 0)::bigint AS storage, coalesce(sum(message_count), 0)::bigint AS messages
       FROM mailboxes WHERE account_id = $1`,
      [accountId],
    );
    const { storage, messages } = usage ?? { storage: 0, messages: 0 };
    if (addMessages > 0 && limits.messages !== null && messages + addMessages > limits.messages) {
      throw new StoreError('OVERQUOTA', 'message count quota exceeded');
    }
    if (addBytes > 0 && limits.storage !== null && storage + addBytes > limits.storage) {
      throw new StoreError('OVERQUOTA', 'storage quota exceeded');
    }
  }

  /**
   * Inserts rows under one new modseq with ascending new UIDs, updating the
   * mailbox's uid_next, highest_modseq and counts in the same statement that
   * locks it. UIDs are consecutive from uid_next, except that a row's
   * `wanted` UID (import) is taken when it is not below the next free one;
   * that needs the current uid_next first, so the caller passes `locked`.
   * Returns the mailbox row as updated and the UIDs.
   */
  private async insertRows(
    c: Client,
    accountId: number,
    id: number,
    rows: readonly NewRow[],
    wanted?: ReadonlyArray<number | undefined>,
    locked?: MailboxRow,
  ): Promise<{ mb: MailboxRow; uids: number[] }> {
    let next = 0;
    let planned: number[] | null = null;
    if (wanted && locked) {
      next = locked.uid_next;
      planned = rows.map((_, i) => {
        const w = wanted[i];
        const u = w !== undefined && w >= next ? w : next;
        // RFC 9051 §2.3.1.1: UIDs only grow and never exceed 2^32-1.
        if (u > MAX_UID) throw new StoreError('LIMIT', 'mailbox UID space exhausted');
        next = u + 1;
        return u;
      });
    }
    const d = countDelta(rows, 1, 0);
    const mb = await firstOf<MailboxRow>(
      c,
      `UPDATE mailboxes SET uid_next = greatest(uid_next + $3, $7), highest_modseq = highest_modseq + 1,
         message_count = message_count + $3, total_size = total_size + $4, unseen_count = unseen_count + $5,
         deleted_count = deleted_count + $6, recent_count = recent_count + $3
       WHERE ${SCOPE} AND uid_next + $3 - 1 <= ${MAX_UID} RETURNING *`,
      [accountId, id, rows.length, d.size, d.unseen, d.deleted, next],
    );
    if (!mb) {
      await this.requireMailbox(c, accountId, id);
      throw new StoreError('LIMIT', 'mailbox UID space exhausted');
    }
    const uids = planned ?? rows.map((_, i) => mb.uid_next - rows.length + i);
    await c.query(
      `INSERT INTO messages (account_id, mailbox_id, uid, modseq, system_flags, keywords, internal_date, save_date, size, blob_id, email_id)
       SELECT $1, $2, r.uid, $3, r.system_flags, r.keywords, r.internal_date, r.save_date, r.size, r.blob_id, r.email_id
       FROM unnest($4::bigint[], $5::smallint[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::text[], $11::text[])
         AS r (uid, system_flags, keywords, internal_date, save_date, size, blob_id, email_id)`,
      [
        accountId,
        id,
        mb.highest_modseq,
        uids,
        rows.map((r) => r.system_flags),
        rows.map((r) => r.keywords),
        rows.map((r) => r.internal_date),
        rows.map((r) => r.save_date),
        rows.map((r) => r.size),
        rows.map((r) => r.blob_id),
        rows.map((r) => r.email_id),
      ],
    );
    return { mb, uids };
  }

  /**
   * Turns messages into held tombstones under one new modseq (the mailbox
   * row `mb` is locked and current); `deletedOnly` limits it to \Deleted
   * ones (EXPUNGE). The tombstones take over the blob references. Returns
   * the removed UIDs ascending and the modseq (unchanged if none).
   */
  private async removeMessages(
    c: Client,
    accountId: number,
    mb: MailboxRow,
    uids: readonly number[] | null,
    deletedOnly: boolean,
  ): Promise<{ uids: number[]; modseq: number }> {
    const modseq = mb.highest_modseq + 1;
    const conditions = [SCOPE, ...(deletedOnly ? [IS_DELETED_SQL] : []), ...(uids ? ['uid = ANY($5::bigint[])'] : [])];
    const gone = await rowsOf<{ uid: number; system_flags: number; size: number }>(
      c,
      `WITH gone AS (DELETE FROM messages WHERE ${conditions.join(' AND ')} RETURNING *),
       held AS (INSERT INTO expunged (account_id, mailbox_id, modseq, expunged_at, uid, ${KEPT_COLUMNS})
                SELECT account_id, mailbox_id, $3, $4, uid, ${KEPT_COLUMNS} FROM gone)
       SELECT uid, system_flags, size FROM gone ORDER BY uid`,
      [accountId, mb.mailbox_id, modseq, new Date(), ...(uids ? [uids] : [])],
    );
    if (gone.length === 0) return { uids: [], modseq: mb.highest_modseq };
    const d = countDelta(gone, -1, mb.first_recent_uid);
    await c.query(
      `UPDATE mailboxes SET highest_modseq = $3, message_count = message_count + $4, total_size = total_size + $5,
         unseen_count = unseen_count + $6, deleted_count = deleted_count + $7, recent_count = recent_count + $8
       WHERE ${SCOPE}`,
      [accountId, mb.mailbox_id, modseq, d.messages, d.size, d.unseen, d.deleted, d.recent],
    );
    return { uids: gone.map((g) => g.uid), modseq };
  }

  /** Deletes the message rows and tombstones of one mailbox (or all of an account's); returns the dropped blob references. */
  private async dropMessages(c: Client, accountId: number, mailboxId: number | null): Promise<BlobRefs> {
    const scope = mailboxId === null ? 'account_id = $1' : SCOPE;
    const rows = await rowsOf<{ blob_id: string; n: number }>(
      c,
      `WITH m AS (DELETE FROM messages WHERE ${scope} RETURNING blob_id),
            e AS (DELETE FROM expunged WHERE ${scope} RETURNING blob_id)
       SELECT blob_id, count(*) AS n FROM (SELECT blob_id FROM m UNION ALL SELECT blob_id FROM e WHERE blob_id IS NOT NULL) r
       GROUP BY blob_id`,
      mailboxId === null ? [accountId] : [accountId, mailboxId],
    );
    const refs = new BlobRefs();
    for (const r of rows) refs.add(r.blob_id, -r.n);
    return refs;
  }

  private async recordsOf(c: Client, accountId: number, id: number, uids: readonly number[]): Promise<RecordRow[]> {
    return rowsOf<RecordRow>(c, `SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} AND uid = ANY($3::bigint[]) ORDER BY uid`, [
      accountId,
      id,
      uids,
    ]);
  }

  private async importedUids(c: Queryable, accountId: number, id: number, keys: readonly string[]): Promise<Map<string, Uid>> {
    const out = new Map<string, Uid>();
    const wanted = keys.filter(storable);
    if (wanted.length === 0) return out;
    const rows = await rowsOf<{ source_key: string; uid: number }>(
      c,
      `SELECT source_key, uid FROM import_records WHERE ${SCOPE} AND source_key = ANY($3::text[])`,
      [accountId, id, wanted],
    );
    for (const row of rows) out.set(row.source_key, toUid(row.uid));
    return out;
  }

  /** COPY (RFC 9051 §6.4.7) or MOVE (RFC 6851): destination UIDs consecutive, in source-UID order. */
  private async transfer(c: Client, accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId, move: boolean) {
    // Lock order: the account if COPY is subject to a quota, then both mailboxes by id.
    const limits = move ? null : await this.lockQuota(c, accountId);
    const { src, dst } = await this.lockPair(c, accountId, from, to);
    const rows = uids.length === 0 ? [] : await this.recordsOf(c, accountId, from, uids);
    return this.transferRows(c, accountId, src, rows, dst, move, limits);
  }

  private async transferRows(
    c: Client,
    accountId: AccountId,
    src: MailboxRow,
    rows: readonly RecordRow[],
    dst: MailboxRow,
    move: boolean,
    limits: QuotaLimits | null,
  ): Promise<[{ result: CopyResult; sourceModseq: number }, ChangeNote[]]> {
    const sourceUids = rows.map((r) => toUid(r.uid));
    if (rows.length === 0) {
      return [{ result: { uidValidity: dst.uid_validity, sourceUids, destUids: [] }, sourceModseq: src.highest_modseq }, []];
    }
    // MOVE within one account leaves usage unchanged (RFC 9208 §5 applies to COPY).
    if (!move) await this.enforceQuota(c, accountId, limits, rows.length, rows.reduce((sum, r) => sum + r.size, 0));
    // RFC 8514: the save date is the time the message arrived in this mailbox; RFC 8474: EMAILID is kept.
    const now = new Date();
    const copied = await this.insertRows(c, accountId, dst.mailbox_id, rows.map((r) => ({ ...r, save_date: now })));
    const wakes: ChangeNote[] = [{ accountId, mailboxId: dst.mailbox_id as MailboxId, modseq: copied.mb.highest_modseq }];
    let sourceModseq = src.highest_modseq;
    if (move) {
      // When source and destination are the same mailbox, the insert raised its modseq.
      const current = src.mailbox_id === dst.mailbox_id ? copied.mb : src;
      sourceModseq = (await this.removeMessages(c, accountId, current, sourceUids, false)).modseq;
      wakes.push({ accountId, mailboxId: src.mailbox_id as MailboxId, modseq: sourceModseq });
    }
    // Each copy is a new reference; a moved message's old reference passes to its tombstone.
    await new BlobRefs().addRows(rows, 1).apply(c);
    return [{ result: { uidValidity: dst.uid_validity, sourceUids, destUids: copied.uids.map(toUid) }, sourceModseq }, wakes];
  }

  /**
   * RFC 9051 §6.3.6: renaming INBOX moves all its messages to a new mailbox of
   * the new name (fresh UIDVALIDITY) and leaves INBOX existing and empty;
   * INBOX's inferiors are unaffected. RFC 5464 §4.1: INBOX keeps its
   * annotations and the new mailbox gets a copy.
   */
  private async renameInbox(c: Client, accountId: AccountId, inbox: MailboxRow, target: string): Promise<ChangeNote[]> {
    const [dst] = await this.insertMailboxes(c, accountId, [{ name: target, specialUse: null }]);
    if (!dst) throw new Error('mailbox insert returned nothing');
    await c.query(
      `INSERT INTO metadata (account_id, mailbox_id, name, value) SELECT account_id, $3, name, value FROM metadata WHERE ${SCOPE}`,
      [accountId, inbox.mailbox_id, dst.mailbox_id],
    );
    const rows = await rowsOf<RecordRow>(c, `SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} ORDER BY uid`, [accountId, inbox.mailbox_id]);
    const [, wakes] = await this.transferRows(c, accountId, inbox, rows, dst, true, null);
    return wakes;
  }
}

/** Opens (migrating as needed) a PostgreSQL store and connects its change bus. */
export async function openPgStore(opts: PgStoreOptions): Promise<PgStore> {
  const names = (opts.defaultMailboxes ?? []).map((d) => canonicalName(d.name));
  if (names.includes(INBOX) || new Set(names).size !== names.length) {
    throw new Error('defaultMailboxes must not repeat a name or include INBOX');
  }
  const retention = opts.expungedRetentionMs;
  if (retention !== undefined && !(Number.isSafeInteger(retention) && retention >= 0)) {
    throw new Error('expungedRetentionMs must be a non-negative integer');
  }
  const settings = connectionSettings(opts.url);
  const pool = createPool(settings, opts.onError ?? warn);
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
