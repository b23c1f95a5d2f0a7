/**
 * What every role of the SQLite store shares: the connection and its
 * prepared statements, the read runner and the write queue (group commit for
 * every write, lock waits off the event loop: write-queue.ts), publishing
 * after COMMIT, the cross-process poller, the background sweeps, and the
 * in-transaction steps more than one role takes (mailbox rows, quota, new
 * message rows and their blobs, UID allocation, tombstones, COPY/MOVE rows).
 * The roles (accounts.ts, mailboxes.ts, messages.ts, metadata.ts,
 * import.ts, dump.ts) extend it; sqlite-store.ts composes them.
 *
 * Invariants (see also store/types.ts and schema.ts):
 * - Every mutation is one body of the write queue (its own SAVEPOINT in a
 *   shared BEGIN IMMEDIATE transaction) that raises the mailbox's
 *   highest_modseq, stamps changed rows and leaves tombstones; its wake-up is
 *   published only after COMMIT (DESIGN invariant 1). Nothing in a
 *   transaction awaits: better-sqlite3 is synchronous, so no lock is ever held
 *   across the event loop (DESIGN invariant 5), and waiting for another
 *   process's lock happens on a timer, never inside SQLite.
 * - UIDs come from uid_next and only grow; UIDVALIDITY comes from an
 *   installation-wide increasing counter (RFC 9051 §2.3.1.1).
 * - A message row references a blob only if the blob's file exists at commit
 *   time (checked under the write lock); blob files are deleted only by the GC
 *   under the write lock, after the row's refcount reached 0.
 * - An expunge turns each message row into a tombstone that still references
 *   its blob (RFC 2180 §4.1: sessions not yet told may FETCH it) until
 *   releaseExpunged() drops the reference after the retention period.
 */
import type Database from 'better-sqlite3';
import { modseq as toModSeq, uid as toUid, type AccountId, type MailboxId } from '../../ids.js';
import type { MessageAnalysis } from '../../mime/types.js';
import { LocalChangeBus, mailboxKey, type WatchedMailbox } from '../../events/local-bus.js';
import { ModSeqPoller } from '../../events/modseq-poller.js';
import type { ChangeNote } from '../../events/change-bus.js';
import { type FsBlobStore, STALE_TEMP_MS } from '../blobs/fs-blob-store.js';
import { StoreError, UNLIMITED, type NewMessage, type StagedBlob, type StoreLimits } from '../types.js';
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import { encodeAnalysis } from '../shared/analysis-codec.js';
import { encodeHeaderFacts } from '../../mime/header-facts.js';
import { BackgroundJobs, DEFAULT_RETENTION_MS, GC_BATCH, RELEASE_BATCH, releasePeriodMs, warnBackgroundError, yieldToLoop } from '../shared/background.js';
import { DEFAULT_MAILBOXES, type DefaultMailbox } from '../shared/default-mailboxes.js';
import { keywordsToText, type FlagSet } from '../shared/flags.js';
import { newEmailId, newMailboxObjectId } from '../shared/names.js';
import type { MailboxRow } from '../shared/rows.js';
import { AnalysisCache } from '../analysis-cache.js';
import { DEFAULT_BUSY_TIMEOUT_MS, readRunner, type ReadTx, type WriteTx } from './db.js';
import { WriteQueue } from './write-queue.js';
import { WalCheckpointer, type CheckpointStats } from './wal-checkpointer.js';
import { prepareStatements } from './statements.js';
import { MIGRATIONS } from './schema.js';
import type { NewRow, RecordRow, Statements } from './statements.js';
import { checkMailboxCount, checkMessageCount, checkQuota, keywordKeys, keywordRoomLeft, MAX_UID, tooManyKeywords } from '../shared/rules.js';

/** Options of openSqliteStore. */
export interface SqliteStoreOptions {
  /** Database file. */
  path: string;
  /** Blob directory (created if missing). */
  blobDir: string;
  /** Mailboxes created (and subscribed) with every account besides INBOX; default DEFAULT_MAILBOXES. */
  defaultMailboxes?: readonly DefaultMailbox[];
  /** How often to look for other processes' commits, in ms (default 75). */
  pollIntervalMs?: number;
  /** How long a write waits for another process's write lock before StoreError UNAVAILABLE, in ms (default 5000). */
  busyTimeoutMs?: number;
  /** Receives background errors (cross-process poll, blob GC); default: a process warning. */
  onError?: (err: unknown) => void;
  /** How long expunged messages stay fetchable before their blobs are released, in ms (default 1 hour). */
  expungedRetentionMs?: number;
  /** Counts enforced in the write transactions (default: none). */
  limits?: StoreLimits;
  /** Checkpoint the WAL in a worker thread (wal-checkpointer.ts) instead of inside the commit that fills it (default false). */
  checkpointThread?: boolean;
}

const DEFAULT_POLL_MS = 75;
/**
 * How long SQLite itself may block a read: only a reader that meets another
 * process's WAL recovery (after that process crashed mid-commit) waits; in
 * WAL mode readers never wait for writers.
 */
const READ_BUSY_TIMEOUT_MS = 100;
/** How often the checkpoint thread copies the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 500;
/** How often blob files that no row references are looked for (a walk of the blob directory). */
const ORPHAN_SWEEP_MS = 6 * 60 * 60 * 1000;

/** A committed change to announce: (mailbox, modseq). */
export type Wake = [MailboxId, number];

/** A class a role of the SQLite store extends (TypeScript's mixin form). */
// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor must take any[].
export type SqliteBase = new (...args: any[]) => SqliteCore;

/** The plumbing of the SQLite MailStore; the roles extend it. */
export class SqliteCore {
  readonly bus = new LocalChangeBus();
  /** Decoded analyses by blob id (immutable, so never stale). */
  protected readonly analysisCache = new AnalysisCache();
  protected readonly st: Statements;
  private readonly writes: WriteQueue;
  private readonly checkpointer: WalCheckpointer | null;
  /** Queues a write transaction body (write-queue.ts): group commit, lock waits off the event loop. */
  protected readonly write: WriteTx;
  protected readonly read: ReadTx;
  private readonly poller: ModSeqPoller;
  /** Sibling workers' relay (relayCommits); null in a single process. */
  private relayOut: ((change: ChangeNote) => void) | null = null;
  protected readonly defaults: readonly DefaultMailbox[];
  protected readonly limits: StoreLimits;
  private readonly onError: (err: unknown) => void;
  private readonly retentionMs: number;
  private readonly releaseTimer: NodeJS.Timeout;
  private readonly orphanTimer: NodeJS.Timeout;
  /** Background GC and release runs that close() waits for. */
  protected readonly background: BackgroundJobs;

  /** Wraps an open, migrated connection; use openSqliteStore(). */
  constructor(
    protected readonly db: Database.Database,
    readonly blobs: FsBlobStore,
    opts: Omit<SqliteStoreOptions, 'path' | 'blobDir'> = {},
  ) {
    this.st = prepareStatements(db);
    this.onError = opts.onError ?? warnBackgroundError;
    this.read = readRunner(db);
    this.writes = new WriteQueue(db, { maxWaitMs: opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, readBusyTimeoutMs: READ_BUSY_TIMEOUT_MS });
    this.write = (fn) => this.writes.run(fn);
    this.checkpointer = opts.checkpointThread ? new WalCheckpointer(db, db.name, CHECKPOINT_INTERVAL_MS, this.onError) : null;
    this.defaults = opts.defaultMailboxes ?? DEFAULT_MAILBOXES;
    this.limits = opts.limits ?? UNLIMITED;
    this.background = new BackgroundJobs(this.onError);
    this.poller = new ModSeqPoller({ dataVersion: () => this.st.dataVersion.get() ?? 0, readModSeqs: (m) => this.readModSeqs(m) }, this.bus, this.onError);
    this.bus.setHooks({
      onWatch: (a, m) => this.poller.watch(a, m),
      onUnwatch: (a, m) => this.poller.unwatch(a, m),
      onListenerError: this.onError,
    });
    this.poller.start(opts.pollIntervalMs ?? DEFAULT_POLL_MS);
    blobs.setCompositeSource((blobId) => {
      const row = this.st.compositeParts.get(blobId);
      return row ? { baseId: row.base_id, prefix: row.prefix, baseFrom: row.base_from } : null;
    });
    this.retentionMs = opts.expungedRetentionMs ?? DEFAULT_RETENTION_MS;
    const period = releasePeriodMs(this.retentionMs);
    // unref: the sweep alone must not keep the process alive.
    this.releaseTimer = setInterval(() => void this.background.run(() => this.releaseExpunged()), period).unref();
    this.orphanTimer = setInterval(() => void this.background.run(() => this.sweepOrphanBlobs()), ORPHAN_SWEEP_MS).unref();
  }

  async schemaVersion(): Promise<{ current: number; expected: number }> {
    return { current: this.db.pragma('user_version', { simple: true }) as number, expected: MIGRATIONS.length };
  }

  /** The checkpoint thread's totals, or null when commits checkpoint the WAL themselves. */
  checkpointStats(): CheckpointStats | null {
    return this.checkpointer?.current() ?? null;
  }

  async close(): Promise<void> {
    // Writes already queued still get their commit (or UNAVAILABLE after the lock wait).
    await this.writes.idle();
    this.poller.stop();
    clearInterval(this.releaseTimer);
    clearInterval(this.orphanTimer);
    await this.background.settled();
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
  }

  /**
   * Ends the RFC 2180 §4.1 grace period of messages expunged at least the
   * retention period before `now`: their tombstones drop the FETCH data and
   * the blob reference (the rows stay for VANISHED), in batches of write
   * transactions; then unreferenced blobs are collected. Runs at open and
   * periodically. Returns how many tombstones were released.
   */
  async releaseExpunged(now = Date.now()): Promise<number> {
    const before = now - this.retentionMs;
    let released = 0;
    for (;;) {
      const n = await this.write(() => this.st.releaseTombstones.run(before, RELEASE_BATCH).changes);
      released += n;
      if (n < RELEASE_BATCH) break;
      await yieldToLoop();
    }
    // Also when nothing was released: blobs may be left over from a crash before a GC.
    await this.collectGarbage();
    return released;
  }

  /**
   * Deletes blob files that no row references and that were placed more than a
   * day ago: bytes staged by an APPEND or delivery that failed or died before
   * its commit, and CATENATE's text parts. Rows and times are checked again
   * inside a write transaction, so no commit can reference a file between the
   * check and the unlink; placing the same bytes again refreshes the file's time.
   */
  async sweepOrphanBlobs(now = Date.now()): Promise<number> {
    let removed = 0;
    const before = now - STALE_TEMP_MS;
    for await (const names of this.blobs.shards()) {
      const unknown = this.st.unknownBlobs.all(JSON.stringify(names));
      const old = unknown.length === 0 ? [] : await this.blobs.placedBefore(unknown, before);
      if (old.length > 0) {
        removed += await this.write(() => {
          // Again under the lock: a commit or a fresh placement may have come in meanwhile.
          const still = this.st.unknownBlobs.all(JSON.stringify(old)).filter((id) => this.blobs.placedBeforeSync(id, before));
          for (const blobId of still) this.blobs.removeSync(blobId);
          return still.length;
        });
      }
      await yieldToLoop();
    }
    return removed;
  }

  /**
   * Deletes unreferenced blobs (rows and files), in batches, each in its own
   * write transaction so no other process can reference a blob between our
   * refcount check and the unlink. Runs after releases and mailbox/account deletion.
   */
  async collectGarbage(): Promise<void> {
    for (;;) {
      const removed = await this.write(() => {
        const ids = this.st.garbage.all(GC_BATCH);
        for (const blobId of ids) {
          this.st.deleteGarbage.run(blobId);
          this.blobs.removeSync(blobId);
          this.analysisCache.delete(blobId);
        }
        return ids.length;
      });
      // Not `< GC_BATCH`: a removed composite may have left its base unreferenced for the next round.
      if (removed === 0) return;
      await yieldToLoop();
    }
  }

  // ---- Internals (all run inside a transaction) ----

  protected changedOne(info: Database.RunResult, what: string): void {
    if (info.changes === 0) throw new StoreError('NONEXISTENT', `no such ${what}`);
  }

  protected requireMailbox(accountId: number, id: number): MailboxRow {
    const row = this.st.mailboxById.get(accountId, id);
    if (!row) throw new StoreError('NONEXISTENT', 'no such mailbox');
    return row;
  }

  /** A new mailbox row; `counted`: subject to the mailbox limit (every mailbox but an account's initial ones). */
  protected insertMailbox(accountId: number, name: string, specialUse: string | null, counted = true): MailboxRow {
    if (this.st.mailboxByName.get(accountId, name)) throw new StoreError('ALREADYEXISTS', 'mailbox exists');
    if (counted && this.limits.maxMailboxesPerAccount > 0) checkMailboxCount(this.limits, this.st.mailboxCount.get(accountId) ?? 0);
    const mailboxId = this.st.nextCounter.get({ name: 'mailbox_id', floor: 0 });
    // Fresh and increasing even across delete + recreate of a name: max(previous, now) + 1.
    const uidValidity = this.st.nextCounter.get({ name: 'uid_validity', floor: Math.floor(Date.now() / 1000) });
    if (mailboxId === undefined || uidValidity === undefined) throw new Error('counter allocation failed');
    const row = this.st.insertMailbox.get(accountId, mailboxId, name, uidValidity, specialUse, newMailboxObjectId());
    if (!row) throw new Error('mailbox insert returned nothing');
    return row;
  }

  /**
   * Records the keywords (keys: lower-cased) a write brings into a mailbox.
   * RFC 9051 §7.1: when that would make the mailbox define more than its
   * limit, keywords no live message carries any more are dropped first (a
   * scan of the mailbox, only when it is full); if it is still full, LIMIT.
   */
  protected defineKeywords(accountId: number, mailboxId: number, keys: readonly string[]): void {
    if (keys.length === 0) return;
    const missing = this.st.undefinedKeywords.all(JSON.stringify(keys), accountId, mailboxId);
    if (missing.length === 0) return;
    const count = () => this.st.keywordCount.get(accountId, mailboxId) ?? 0;
    if (!keywordRoomLeft(this.limits, count(), missing.length)) {
      const used = new Set(keywordKeys(this.st.keywordTexts.all(accountId, mailboxId)));
      for (const k of this.st.definedKeywords.all(accountId, mailboxId)) if (!used.has(k)) this.st.undefineKeyword.run(accountId, mailboxId, k);
      if (!keywordRoomLeft(this.limits, count(), missing.length)) throw tooManyKeywords(this.limits);
    }
    for (const k of missing) this.st.defineKeyword.run(accountId, mailboxId, k);
  }

  /** OVERQUOTA when the change would put the account over a limit (../shared/rules.ts checkQuota). */
  protected checkQuota(accountId: number, addMessages: number, addBytes: number): void {
    const usage = this.st.usage.get(accountId);
    if (!usage) throw new StoreError('NONEXISTENT', 'no such account');
    checkQuota({ storage: usage.quota_storage, messages: usage.quota_messages }, usage, addMessages, addBytes);
  }

  /** The row of a new message (append, replace), its blob referenced; a fresh EMAILID (RFC 8474 §5.1). */
  protected newRow(m: NewMessage, flags: FlagSet, saveDate: number): NewRow {
    this.referenceBlob(m.blob, m.analysis);
    return {
      system_flags: flags.system,
      keywords: keywordsToText(flags.keywords),
      internal_date: m.internalDate.getTime(),
      save_date: saveDate,
      size: m.blob.size,
      blob_id: m.blob.blobId,
      email_id: newEmailId(),
    };
  }

  /**
   * Makes sure the blob has a row (refcounts are kept by the messages triggers) and that its
   * bytes are there. A composite's row is created with its base's (whose analysis it is given).
   */
  protected referenceBlob(blob: StagedBlob, analysis: MessageAnalysis): void {
    const composite = blob.composite;
    if (composite) {
      this.referenceBlob(composite.base, analysis);
      // After the base's row, so the insert trigger finds it and counts the composite's reference.
      if (this.st.blobExists.get(blob.blobId) === undefined) {
        this.st.insertComposite.run(blob.blobId, blob.size, composite.base.blobId, composite.prefix, composite.baseFrom);
      }
      return;
    }
    // Under the write lock: the GC cannot delete the file between this check and our commit.
    if (!this.blobs.existsSync(blob.blobId)) throw new StoreError('CANNOT', `staged blob ${blob.blobId} is gone; retry`);
    if (this.st.blobExists.get(blob.blobId) === undefined) {
      this.st.insertBlob.run(blob.blobId, blob.size, encodeAnalysis(analysis));
      this.st.insertFacts.run(blob.blobId, encodeHeaderFacts(analysis));
    }
  }

  /**
   * Inserts rows under one new modseq with ascending new UIDs: consecutive from uid_next, except
   * that a row's `wanted` UID (import) is taken when it is not below the next free one.
   */
  protected insertRows(
    accountId: number,
    mb: MailboxRow,
    rows: readonly NewRow[],
    wanted: ReadonlyArray<number | undefined> = [],
    leaving = 0,
  ): { uids: number[]; modseq: number } {
    // `leaving`: messages this transaction then removes from the same mailbox (MOVE or REPLACE within it).
    checkMessageCount(this.limits, mb.message_count - leaving, rows.length);
    this.defineKeywords(accountId, mb.mailbox_id, keywordKeys(rows.map((r) => r.keywords)));
    const modseq = mb.highest_modseq + 1;
    let next = mb.uid_next;
    const uids = rows.map((r, i) => {
      const w = wanted[i];
      const u = w !== undefined && w >= next ? w : next;
      // RFC 9051 §2.3.1.1: UIDs only grow and never exceed 2^32-1.
      if (u > MAX_UID) throw new StoreError('LIMIT', 'mailbox UID space exhausted');
      next = u + 1;
      this.st.insertMessage.run(accountId, mb.mailbox_id, u, modseq, r.system_flags, r.keywords, r.internal_date, r.save_date, r.size, r.blob_id, r.email_id);
      return u;
    });
    this.st.advanceMailbox.run(next, modseq, accountId, mb.mailbox_id);
    return { uids, modseq };
  }

  /** Turns messages into held tombstones under one new modseq; returns it. */
  protected removeMessages(accountId: number, mb: MailboxRow, uids: readonly number[]): number {
    const modseq = mb.highest_modseq + 1;
    const json = JSON.stringify(uids);
    // Tombstones first: they copy the rows, so the blob's refcount never drops to 0 on the way.
    this.st.insertTombstones.run(modseq, Date.now(), accountId, mb.mailbox_id, json);
    this.st.deleteMessages.run(accountId, mb.mailbox_id, json);
    this.st.setModseq.run(modseq, accountId, mb.mailbox_id);
    return modseq;
  }

  protected transferRows(accountId: AccountId, src: MailboxRow, rows: readonly RecordRow[], dst: MailboxRow, move: boolean) {
    const sourceUids = rows.map((r) => toUid(r.uid));
    if (rows.length === 0) {
      return { result: { uidValidity: dst.uid_validity, sourceUids, destUids: [] }, wakes: [] as Wake[], sourceModseq: src.highest_modseq };
    }
    // MOVE within one account leaves usage unchanged (RFC 9208 §5 applies to COPY).
    if (!move)
      this.checkQuota(
        accountId,
        rows.length,
        rows.reduce((sum, r) => sum + r.size, 0),
      );
    // RFC 8514: the save date is the time the message arrived in this mailbox; RFC 8474: EMAILID is kept.
    const now = Date.now();
    const copied = this.insertRows(
      accountId,
      dst,
      rows.map((r) => ({ ...r, save_date: now })),
      [],
      move && src.mailbox_id === dst.mailbox_id ? rows.length : 0,
    );
    const wakes: Wake[] = [[dst.mailbox_id as MailboxId, copied.modseq]];
    let sourceModseq = src.highest_modseq;
    if (move) {
      // Re-read: when source and destination are the same mailbox, the insert raised its modseq.
      sourceModseq = this.removeMessages(accountId, this.requireMailbox(accountId, src.mailbox_id), sourceUids);
      wakes.push([src.mailbox_id as MailboxId, sourceModseq]);
    }
    return { result: { uidValidity: dst.uid_validity, sourceUids, destUids: copied.uids.map(toUid) }, wakes, sourceModseq };
  }

  private readModSeqs(mailboxes: readonly WatchedMailbox[]): Map<string, number> {
    const pairs = JSON.stringify(mailboxes.map((m) => [m.accountId, m.mailboxId]));
    const out = new Map<string, number>();
    for (const row of this.st.modseqsOf.all(pairs)) {
      out.set(mailboxKey(row.account_id as AccountId, row.mailbox_id as MailboxId), row.highest_modseq);
    }
    const channels = mailboxes.filter((m) => m.mailboxId === ACCOUNT_CHANNEL).map((m) => m.accountId);
    if (channels.length === 0) return out;
    for (const row of this.st.namespaceVersionsOf.all(JSON.stringify(channels))) {
      out.set(mailboxKey(row.account_id as AccountId, ACCOUNT_CHANNEL), row.value);
    }
    return out;
  }

  /** Announces committed changes locally and to sibling workers (other processes see them through their pollers). */
  protected publish(accountId: AccountId, wakes: readonly Wake[]): void {
    for (const [mailboxId, value] of wakes) {
      this.poller.note(accountId, mailboxId, value);
      this.bus.publish(accountId, mailboxId, toModSeq(value));
      this.relayOut?.({ accountId, mailboxId, modseq: value });
    }
  }

  relayCommits(outbound: (change: ChangeNote) => void): (change: ChangeNote) => void {
    this.relayOut = outbound;
    // The poller's baseline rises too, so the same commit is not announced again when data_version moves.
    return ({ accountId, mailboxId, modseq }) => {
      // Relayed after the sibling's COMMIT: its write lock is free now.
      this.writes.lockReleased();
      this.poller.note(accountId, mailboxId, modseq);
      this.bus.publish(accountId, mailboxId, toModSeq(modseq));
    };
  }
}
