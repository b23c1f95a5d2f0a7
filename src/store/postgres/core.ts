/**
 * What every role of the PostgreSQL store shares: the pool, the
 * transaction runner that NOTIFYs in the COMMIT round trip and then
 * publishes locally, the change bus, the background sweeps (tombstone
 * release, blob GC), and the encoding of new message rows and their blob
 * references. The roles (accounts.ts, mailboxes.ts, messages.ts,
 * metadata.ts, import.ts, dump.ts) extend it; pg-store.ts composes them.
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
 * mailbox-tx.ts (the statements inside transactions), blob-refs.ts, rows.ts;
 * the bytes in ../blobs/pg-blob-store.ts.
 */
import pg from 'pg';
import { modseq as toModSeq, type AccountId } from '../../ids.js';
import { nodePayload, type NodeChannel } from '../../events/control-channel.js';
import { CONTROL_CHANNEL, PgControlChannel } from '../../events/pg-control.js';
import { notifyStatement, PgChangeBus, readModSeqs, type ChangeNote } from '../../events/pg-bus.js';
import { PgBlobStore, STAGE_GRACE_SECONDS } from '../blobs/pg-blob-store.js';
import { AnalysisCache } from '../analysis-cache.js';
import { encodeAnalysis } from '../shared/analysis-codec.js';
import { encodeHeaderFacts } from '../../mime/header-facts.js';
import { BackgroundJobs, DEFAULT_RETENTION_MS, GC_BATCH, RELEASE_BATCH, releasePeriodMs, warnBackgroundError, yieldToLoop } from '../shared/background.js';
import { DEFAULT_MAILBOXES, type DefaultMailbox } from '../shared/default-mailboxes.js';
import { keywordsToText, parseFlags, type FlagSet } from '../shared/flags.js';
import { newEmailId } from '../shared/names.js';
import { UNLIMITED, type NewMessage, type StoreLimits } from '../types.js';
import { BlobRefs } from './blob-refs.js';
import { transaction, type PgConnectionSettings } from './pool.js';
import { timeCommit } from '../../metrics/metrics.js';
import type { NewRow } from './rows.js';
import { PG_MIGRATIONS } from './schema.js';
import { rowsOf, type Client } from './sql.js';

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
  /** Counts enforced in the write transactions (default: none). */
  limits?: StoreLimits;
}

/** A message to insert, with the blob reference it brings. */
export interface Incoming {
  row: NewRow;
  message: NewMessage;
}

/** A class a role of the PostgreSQL store extends (TypeScript's mixin form). */
// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor must take any[].
export type PgBase = new (...args: any[]) => PgCore;

/** The plumbing of the PostgreSQL MailStore; the roles extend it. */
export class PgCore {
  readonly blobs: PgBlobStore;
  readonly bus: PgChangeBus;
  /** Decoded analyses by blob id (immutable, so never stale). */
  protected readonly analysisCache = new AnalysisCache();
  protected readonly defaults: readonly DefaultMailbox[];
  protected readonly limits: StoreLimits;
  private readonly onError: (err: unknown) => void;
  private readonly retentionMs: number;
  private releaseTimer: NodeJS.Timeout | null = null;
  /** Background GC and release runs that close() waits for. */
  protected readonly background: BackgroundJobs;
  private closing: Promise<void> | null = null;
  /** Sibling workers' relay (relayCommits); null in a single process. */
  private relayOut: ((change: ChangeNote) => void) | null = null;

  /** Wraps a pool on a migrated database; use openPgStore(). */
  constructor(
    protected readonly pool: pg.Pool,
    private readonly settings: PgConnectionSettings,
    opts: Omit<PgStoreOptions, 'url'> = {},
  ) {
    this.defaults = opts.defaultMailboxes ?? DEFAULT_MAILBOXES;
    this.limits = opts.limits ?? UNLIMITED;
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

  async schemaVersion(): Promise<{ current: number; expected: number }> {
    const row = (await this.pool.query<{ version: number }>('SELECT version FROM mailkeep_schema')).rows[0];
    return { current: row?.version ?? 0, expected: PG_MIGRATIONS.length };
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

  /**
   * Runs body in a transaction; the changes it reports are announced by
   * NOTIFY in the COMMIT round trip and then to local listeners.
   */
  protected async write<T>(body: (c: Client) => Promise<[T, ChangeNote[]]>): Promise<T> {
    let wakes: ChangeNote[] = [];
    const started = performance.now();
    const result = await transaction(this.pool, async (c) => {
      const [value, changes] = await body(c);
      wakes = changes;
      return { result: value, beforeCommit: changes.map(notifyStatement) };
    }).finally(() => timeCommit('postgres', started));
    for (const w of wakes) {
      this.bus.publish(w.accountId, w.mailboxId, toModSeq(w.modseq));
      this.relayOut?.(w);
    }
    return result;
  }

  /**
   * Tells every node that an account's credentials changed (control channel `credentials-changed`), once the
   * change is committed: their credential caches drop the account at once, whichever process made the change.
   */
  protected async announceCredentialsChanged(accountId: AccountId): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, nodePayload({ type: 'credentials-changed', accountId })]);
  }

  nodeChannel(onError: (err: unknown) => void): NodeChannel {
    return new PgControlChannel(() => new pg.Client(this.settings.config), this.pool, onError);
  }

  relayCommits(outbound: (change: ChangeNote) => void): (change: ChangeNote) => void {
    this.relayOut = outbound;
    // The bus delivers each (mailbox, modseq) once, whether the relay or the NOTIFY brings it first.
    return ({ accountId, mailboxId, modseq }) => this.bus.publish(accountId, mailboxId, toModSeq(modseq));
  }

  /** Rows for new messages (append, replace, import), validated and encoded before any lock is taken. */
  protected incoming(messages: readonly NewMessage[]): Incoming[] {
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
  protected async referenceNew(c: Client, incoming: readonly Incoming[]): Promise<void> {
    const refs = new BlobRefs();
    for (const { message } of incoming) {
      refs.addStaged(message.blob, Buffer.from(encodeAnalysis(message.analysis)), encodeHeaderFacts(message.analysis));
    }
    await refs.apply(c);
  }
}
