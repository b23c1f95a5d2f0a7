/**
 * The embedded MailStore: one SQLite file (WAL) plus a content-addressed blob
 * directory, shareable by several mailkeep processes.
 *
 * Invariants (see also store/types.ts and schema.ts):
 * - Every mutation is one BEGIN IMMEDIATE transaction that raises the
 *   mailbox's highest_modseq, stamps changed rows and leaves tombstones; its
 *   wake-up is published only after COMMIT (DESIGN invariant 1). Nothing in a
 *   transaction awaits: better-sqlite3 is synchronous, so no lock is ever held
 *   across the event loop (DESIGN invariant 5).
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
import type { AccountId, MailboxId, ModSeq, Uid } from '../../ids.js';
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { MessageAnalysis } from '../../mime/types.js';
import { LocalChangeBus, mailboxKey } from '../../events/local-bus.js';
import type { WatchedMailbox } from '../../events/local-bus.js';
import { ModSeqPoller } from '../../events/modseq-poller.js';
import { FsBlobStore, STALE_TEMP_MS } from '../blobs/fs-blob-store.js';
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
  RestoreRecord,
  StagedBlob,
} from '../types.js';
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import { StoreError } from '../types.js';
import { decodeAnalysis, encodeAnalysis } from '../shared/analysis-codec.js';
import { encodeHeaderFacts } from '../../mime/header-facts.js';
import { BackgroundJobs, DEFAULT_RETENTION_MS, GC_BATCH, RELEASE_BATCH, releasePeriodMs, warnBackgroundError, yieldToLoop } from '../shared/background.js';
import type { DefaultMailbox } from '../shared/default-mailboxes.js';
import { checkStoreOptions, DEFAULT_MAILBOXES } from '../shared/default-mailboxes.js';
import { applyFlagOp, flagList, keywordsFromText, keywordsToText, parseFlags, type FlagSet } from '../shared/flags.js';
import { canonicalName, checkSourceKey, INBOX, newEmailId } from '../shared/names.js';
import type { MailboxRow } from '../shared/rows.js';
import { toAccount, toMailbox, toRecord, toSummary } from '../shared/rows.js';
import { AnalysisCache } from '../analysis-cache.js';
import { composedAnalysis } from '../composite-analysis.js';
import { rowInsert, type SqlDialect } from '../copy/row-inserts.js';
import { pageRecords, pageSql } from '../copy/sections.js';
import type { ReadTx, WriteTx } from './db.js';
import { openDatabase, transactionRunners } from './db.js';
import { migrate } from './schema.js';
import type { NewRow, RecordRow, Statements } from './statements.js';
import { prepareStatements } from './statements.js';

/** Moved to store/types.ts (QUOTA is backend-neutral); re-exported while callers still import it from here. */
export type { QuotaLimits } from '../types.js';

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
  /** How long to wait for another process's write lock, in ms. */
  busyTimeoutMs?: number;
  /** Receives background errors (cross-process poll, blob GC); default: a process warning. */
  onError?: (err: unknown) => void;
  /** How long expunged messages stay fetchable before their blobs are released, in ms (default 1 hour). */
  expungedRetentionMs?: number;
}

const MAX_UID = 0xffffffff;
const DEFAULT_POLL_MS = 75;
/** How often blob files that no row references are looked for (a walk of the blob directory). */
const ORPHAN_SWEEP_MS = 6 * 60 * 60 * 1000;
/** The metadata owner id of server-level entries (schema.ts: no mailbox has id 0). */
const SERVER_METADATA = 0;
/** How the shared copy statements (store/copy/row-inserts.ts) are spelled here. */
const SQLITE_DIALECT: SqlDialect = { placeholder: () => '?', time: (d) => d.getTime(), identityOverride: '' };

/** A committed change to announce: (mailbox, modseq). */
type Wake = [MailboxId, number];

/** The SQLite MailStore. Create it with openSqliteStore(). */
export class SqliteStore implements MailStore {
  readonly bus = new LocalChangeBus();
  /** Decoded analyses by blob id (immutable, so never stale). */
  private readonly analysisCache = new AnalysisCache();
  /** Calls waiting for the next group commit (see groupWrite). */
  private group: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> | null = null;
  private readonly st: Statements;
  private readonly write: WriteTx;
  private readonly read: ReadTx;
  private readonly poller: ModSeqPoller;
  private readonly defaults: readonly DefaultMailbox[];
  private readonly onError: (err: unknown) => void;
  private readonly retentionMs: number;
  private readonly releaseTimer: NodeJS.Timeout;
  private readonly orphanTimer: NodeJS.Timeout;
  /** Background GC and release runs that close() waits for. */
  private readonly background: BackgroundJobs;
  /** Statements of dump and restore (store/copy/), prepared on first use. */
  private readonly copyStatements = new Map<string, Database.Statement>();

  /** Wraps an open, migrated connection; use openSqliteStore(). */
  constructor(
    private readonly db: Database.Database,
    readonly blobs: FsBlobStore,
    opts: Omit<SqliteStoreOptions, 'path' | 'blobDir'> = {},
  ) {
    this.st = prepareStatements(db);
    ({ write: this.write, read: this.read } = transactionRunners(db));
    this.defaults = opts.defaultMailboxes ?? DEFAULT_MAILBOXES;
    this.onError = opts.onError ?? warnBackgroundError;
    this.background = new BackgroundJobs(this.onError);
    this.poller = new ModSeqPoller(
      { dataVersion: () => this.st.dataVersion.get() ?? 0, readModSeqs: (m) => this.readModSeqs(m) },
      this.bus,
      this.onError,
    );
    this.bus.setHooks({
      onWatch: (a, m) => this.poller.watch(a, m),
      onUnwatch: (a, m) => this.poller.unwatch(a, m),
      onListenerError: this.onError,
    });
    this.poller.start(opts.pollIntervalMs ?? DEFAULT_POLL_MS);
    blobs.setCompositeSource((blobId) => {
      const row = this.st.compositeParts.get(blobId);
      return row ? { baseId: row.base_id, prefix: row.prefix } : null;
    });
    this.retentionMs = opts.expungedRetentionMs ?? DEFAULT_RETENTION_MS;
    const period = releasePeriodMs(this.retentionMs);
    // unref: the sweep alone must not keep the process alive.
    this.releaseTimer = setInterval(() => void this.background.run(() => this.releaseExpunged()), period).unref();
    this.orphanTimer = setInterval(() => void this.background.run(() => this.sweepOrphanBlobs()), ORPHAN_SWEEP_MS).unref();
  }

  async close(): Promise<void> {
    // Calls queued for a group commit still get their commit.
    if (this.group && this.db.open) this.commitGroup();
    this.poller.stop();
    clearInterval(this.releaseTimer);
    clearInterval(this.orphanTimer);
    await this.background.settled();
    if (this.db.open) this.db.close();
  }

  // ---- Accounts ----

  async createAccount(name: string, passwordHash: string): Promise<Account> {
    return this.write(() => {
      const key = name.toLowerCase();
      if (this.st.accountByKey.get(key)) throw new StoreError('ALREADYEXISTS', 'account exists');
      const row = this.st.insertAccount.get(name, key, passwordHash, Date.now());
      if (!row) throw new Error('account insert returned nothing');
      for (const mb of [{ name: INBOX, specialUse: null }, ...this.defaults]) {
        this.insertMailbox(row.account_id, canonicalName(mb.name), mb.specialUse);
        this.st.subscribe.run(row.account_id, canonicalName(mb.name));
      }
      return toAccount(row);
    });
  }

  async findAccount(name: string): Promise<Account | null> {
    const row = this.st.accountByKey.get(name.toLowerCase());
    return row ? toAccount(row) : null;
  }

  async getAccount(id: AccountId): Promise<Account | null> {
    const row = this.st.accountById.get(id);
    return row ? toAccount(row) : null;
  }

  async listAccounts(): Promise<Account[]> {
    return this.st.allAccounts.all().map(toAccount);
  }

  async setPasswordHash(id: AccountId, passwordHash: string): Promise<void> {
    this.write(() => this.changedOne(this.st.setPassword.run(passwordHash, id), 'account'));
  }

  async setQuota(id: AccountId, limits: QuotaLimits): Promise<void> {
    this.write(() => this.changedOne(this.st.setQuota.run(limits.storage, limits.messages, id), 'account'));
  }

  async getQuotaUsage(id: AccountId): Promise<QuotaUsage> {
    // The per-mailbox aggregates are kept by triggers: one row per mailbox, no message scan.
    const row = this.st.usage.get(id);
    if (!row) throw new StoreError('NONEXISTENT', 'no such account');
    return { storage: row.quota_storage, messages: row.quota_messages, usedStorage: row.storage, usedMessages: row.messages };
  }

  async deleteAccount(id: AccountId): Promise<void> {
    // Cascades to mailboxes, messages and tombstones (triggers release their blob references), subscriptions.
    this.write(() => this.changedOne(this.st.deleteAccount.run(id), 'account'));
    await this.background.run(() => this.collectGarbage());
  }

  // ---- Aliases ----

  async addAlias(address: string, accountId: AccountId): Promise<void> {
    this.write(() => {
      if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
      const key = address.toLowerCase();
      if (this.st.aliasByKey.get(key)) throw new StoreError('ALREADYEXISTS', 'alias exists');
      this.st.insertAlias.run(key, address, accountId, Date.now());
    });
  }

  async deleteAlias(address: string): Promise<void> {
    this.write(() => this.changedOne(this.st.deleteAlias.run(address.toLowerCase()), 'alias'));
  }

  async findAlias(address: string): Promise<Alias | null> {
    const row = this.st.aliasByKey.get(address.toLowerCase());
    return row ? { address: row.address, accountId: row.account_id as AccountId } : null;
  }

  async listAliases(): Promise<Alias[]> {
    return this.st.allAliases.all().map((row) => ({ address: row.address, accountId: row.account_id as AccountId }));
  }

  // ---- Mailboxes ----

  async listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
    return this.st.mailboxesOf.all(accountId).map(toMailbox);
  }

  async getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null> {
    const row = this.st.mailboxByName.get(accountId, canonicalName(name));
    return row ? toMailbox(row) : null;
  }

  async getMailboxById(accountId: AccountId, id: MailboxId): Promise<Mailbox | null> {
    const row = this.st.mailboxById.get(accountId, id);
    return row ? toMailbox(row) : null;
  }

  async createMailbox(accountId: AccountId, name: string, specialUse: string | null = null): Promise<Mailbox> {
    const [mb, version] = this.write((): [Mailbox, number] => {
      if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
      return [toMailbox(this.insertMailbox(accountId, canonicalName(name), specialUse)), this.st.bumpNamespace.get(accountId)!];
    });
    this.publish(accountId, [[ACCOUNT_CHANNEL, version]]);
    return mb;
  }

  async deleteMailbox(accountId: AccountId, id: MailboxId): Promise<void> {
    const last = this.write((): [modseq: number, namespace: number] => {
      const mb = this.requireMailbox(accountId, id);
      if (mb.name === INBOX) throw new StoreError('CANNOT', 'INBOX cannot be deleted');
      // Cascades to messages and tombstones, releasing their blobs at once: the mailbox's
      // sessions are disconnected, so nobody may still FETCH. Subscriptions stay (RFC 9051 §6.3.9).
      this.st.deleteMailbox.run(accountId, id);
      return [mb.highest_modseq, this.st.bumpNamespace.get(accountId)!];
    });
    // Sessions that have it selected wake up and find it gone.
    this.publish(accountId, [[id, last[0] + 1], [ACCOUNT_CHANNEL, last[1]]]);
    await this.background.run(() => this.collectGarbage());
  }

  async renameMailbox(accountId: AccountId, from: string, to: string): Promise<void> {
    const source = canonicalName(from);
    const target = canonicalName(to);
    let version = 0;
    const wakes = this.write((): Wake[] => {
      version = this.st.bumpNamespace.get(accountId)!;
      const src = this.st.mailboxByName.get(accountId, source);
      if (!src) throw new StoreError('NONEXISTENT', 'no such mailbox');
      if (this.st.mailboxByName.get(accountId, target)) throw new StoreError('ALREADYEXISTS', 'target mailbox exists');
      if (source === INBOX) return this.renameInbox(accountId, src, target);
      if (target.startsWith(`${source}/`)) throw new StoreError('CANNOT', 'cannot rename a mailbox under itself');
      // RFC 9051 §6.3.6: inferior names are renamed too.
      const moved = [src, ...this.st.inferiors.all(accountId, `${source}/`, `${source}0`)];
      const renamed = (name: string) => target + name.slice(source.length);
      for (const mb of moved.slice(1)) {
        if (this.st.mailboxByName.get(accountId, renamed(mb.name))) {
          throw new StoreError('ALREADYEXISTS', `${renamed(mb.name)} exists`);
        }
      }
      for (const mb of moved) this.st.renameMailbox.run(renamed(mb.name), accountId, mb.mailbox_id);
      // Subscriptions follow the mailboxes they name.
      for (const name of this.st.subscriptionsUnder.all(accountId, source, `${source}/`, `${source}0`)) {
        this.st.unsubscribe.run(accountId, name);
        this.st.subscribe.run(accountId, renamed(name));
      }
      return [];
    });
    this.publish(accountId, [...wakes, [ACCOUNT_CHANNEL, version]]);
  }

  async setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void> {
    const canonical = canonicalName(name);
    const version = this.write(() => {
      if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
      if (subscribed) this.st.subscribe.run(accountId, canonical);
      else this.st.unsubscribe.run(accountId, canonical);
      return this.st.bumpNamespace.get(accountId)!;
    });
    this.publish(accountId, [[ACCOUNT_CHANNEL, version]]);
  }

  async listSubscriptions(accountId: AccountId): Promise<string[]> {
    return this.st.subscriptions.all(accountId);
  }

  async mailboxCounts(accountId: AccountId, id: MailboxId): Promise<MailboxCounts> {
    // Kept by triggers (schema.ts): no scan, whatever the mailbox size.
    const mb = this.requireMailbox(accountId, id);
    // Only \Deleted messages are summed (partial index): cheap whatever the mailbox size.
    const deletedSize = mb.deleted_count === 0 ? 0 : this.st.deletedSize.get(accountId, id)!;
    return { messages: mb.message_count, unseen: mb.unseen_count, deleted: mb.deleted_count, size: mb.total_size, recent: mb.recent_count, deletedSize };
  }

  // ---- Messages ----

  async appendMessages(
    accountId: AccountId,
    id: MailboxId,
    messages: NewMessage[],
  ): Promise<{ uidValidity: number; uids: Uid[]; modseq: ModSeq }> {
    // Validate flags before taking the lock.
    const flagSets = messages.map((m) => parseFlags(m.flags));
    const result = await this.groupWrite(() => {
      const mb = this.requireMailbox(accountId, id);
      if (messages.length === 0) return { mb, uids: [], modseq: mb.highest_modseq };
      this.checkQuota(accountId, messages.length, messages.reduce((sum, m) => sum + m.blob.size, 0));
      const now = Date.now();
      const rows = messages.map((m, i) => this.newRow(m, flagSets[i]!, now));
      return { mb, ...this.insertRows(accountId, mb, rows) };
    });
    if (result.uids.length > 0) this.publish(accountId, [[id, result.modseq]]);
    return { uidValidity: result.mb.uid_validity, uids: result.uids.map(toUid), modseq: toModSeq(result.modseq) };
  }

  async listSummaries(accountId: AccountId, id: MailboxId): Promise<MessageSummary[]> {
    return this.read(() => {
      this.requireMailbox(accountId, id);
      // Most messages share a few flag combinations: build each list once, copy per row.
      const lists = new Map<string, string[]>();
      return this.st.summaries.all(accountId, id).map(([uid, modseq, system, keywords, size]) => {
        const key = keywords === '' ? String(system) : `${system} ${keywords}`;
        let flags = lists.get(key);
        if (!flags) lists.set(key, (flags = flagList(system, keywords)));
        return { uid: uid as Uid, modseq: modseq as ModSeq, flags: flags.slice(), size };
      });
    });
  }

  async getRecords(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<MessageRecord[]> {
    if (uids.length === 0) return [];
    const json = JSON.stringify(uids);
    return this.read(() => {
      const live = this.st.records.all(accountId, id, json);
      if (live.length >= new Set(uids).size) return live.map(toRecord);
      // RFC 2180 §4.1: expunged but not yet released. A UID is never both live and a tombstone.
      const held = this.st.heldRecords.all(accountId, id, json);
      return [...live, ...held].sort((a, b) => a.uid - b.uid).map(toRecord);
    });
  }

  async getBlobIds(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>> {
    if (uids.length === 0) return new Map();
    const json = JSON.stringify(uids);
    return this.read(() => {
      const found = new Map<Uid, string>();
      for (const [uid, blobId] of this.st.blobIds.all(accountId, id, json)) found.set(uid as Uid, blobId);
      if (found.size >= new Set(uids).size) return found;
      // RFC 2180 §4.1: expunged but not yet released. A UID is never both live and a tombstone.
      for (const [uid, blobId] of this.st.heldBlobIds.all(accountId, id, json)) found.set(uid as Uid, blobId);
      return found;
    });
  }

  async getHeaderFacts(blobIds: readonly string[]): Promise<Map<string, string>> {
    if (blobIds.length === 0) return new Map();
    const json = JSON.stringify(blobIds);
    return this.read(() => new Map(this.st.headerFacts.all(json)));
  }

  async saveHeaderFacts(facts: ReadonlyMap<string, string>, version: number): Promise<void> {
    if (facts.size === 0) return;
    this.write(() => {
      for (const [blobId, text] of facts) this.st.saveHeaderFacts.run({ blobId, facts: text, version });
    });
  }

  async getAnalysis(blobId: string, options: { bodyText?: boolean } = {}): Promise<MessageAnalysis | null> {
    const cached = this.analysisCache.get(blobId, options.bodyText ?? true);
    if (cached) return cached;
    const row = this.st.analysisRow.get(blobId);
    if (!row) return null;
    let analysis: MessageAnalysis | null;
    if (row.base_id === null || row.prefix === null) {
      analysis = decodeAnalysis(row.analysis);
    } else {
      // A composite (schema.ts deliverySupport): derived from its base's analysis.
      const base = this.st.analysis.get(row.base_id);
      analysis = base === undefined ? null : composedAnalysis(decodeAnalysis(base), row.prefix);
    }
    if (analysis) this.analysisCache.set(blobId, analysis);
    return analysis;
  }

  async changesSince(accountId: AccountId, id: MailboxId, since: ModSeq): Promise<MailboxChanges> {
    return this.read(() => {
      const mb = this.requireMailbox(accountId, id);
      return {
        uidValidity: mb.uid_validity,
        uidNext: toUid(mb.uid_next),
        highestModSeq: toModSeq(mb.highest_modseq),
        changed: this.st.changedSince.all(accountId, id, since).map(toSummary),
        expunged: this.st.expungedSince.all(accountId, id, since).map(toUid),
      };
    });
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
    const result = this.write(() => {
      const mb = this.requireMailbox(accountId, id);
      const next = mb.highest_modseq + 1;
      const changed: MessageSummary[] = [];
      const conflicts: Uid[] = [];
      const rows = uids.length === 0 ? [] : this.st.flagRows.all(accountId, id, JSON.stringify(uids));
      const updates: Array<[number, number, string]> = [];
      for (const row of rows) {
        // RFC 7162 §3.2: UNCHANGEDSINCE fails for messages modified after the given modseq.
        if (unchangedSince !== undefined && row.modseq > unchangedSince) {
          conflicts.push(toUid(row.uid));
          continue;
        }
        const updated = applyFlagOp({ system: row.system_flags, keywords: keywordsFromText(row.keywords) }, op, change);
        if (!updated) continue;
        const keywords = keywordsToText(updated.keywords);
        updates.push([row.uid, updated.system, keywords]);
        changed.push(toSummary({ ...row, system_flags: updated.system, keywords, modseq: next }));
      }
      if (changed.length === 0) return { modseq: mb.highest_modseq, changed, conflicts };
      this.st.updateFlagsMany.run(JSON.stringify(updates), next, accountId, id);
      this.st.setModseq.run(next, accountId, id);
      return { modseq: next, changed, conflicts };
    });
    if (result.changed.length > 0) this.publish(accountId, [[id, result.modseq]]);
    return { ...result, modseq: toModSeq(result.modseq) };
  }

  async copyMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult> {
    const { result, wakes } = this.write(() => this.transfer(accountId, from, uids, to, false));
    this.publish(accountId, wakes);
    return result;
  }

  async moveMessages(
    accountId: AccountId,
    from: MailboxId,
    uids: readonly Uid[],
    to: MailboxId,
  ): Promise<CopyResult & { modseq: ModSeq }> {
    const { result, wakes, sourceModseq } = this.write(() => this.transfer(accountId, from, uids, to, true));
    this.publish(accountId, wakes);
    return { ...result, modseq: toModSeq(sourceModseq) };
  }

  async replaceMessage(accountId: AccountId, from: MailboxId, uid: Uid, to: MailboxId, message: NewMessage): Promise<ReplaceResult> {
    const flags = parseFlags(message.flags);
    const result = this.write(() => {
      const dst = this.requireMailbox(accountId, to);
      this.requireMailbox(accountId, from);
      const [old] = this.st.records.all(accountId, from, JSON.stringify([uid]));
      if (!old) throw new StoreError('NONEXISTENT', 'the message to replace no longer exists');
      // RFC 8508 §3.4: only the net consumption counts against the quota.
      this.checkQuota(accountId, 0, message.blob.size - old.size);
      const added = this.insertRows(accountId, dst, [this.newRow(message, flags, Date.now())]);
      // Re-read: when source and target are one mailbox, the insert raised its modseq.
      const modseq = this.removeMessages(accountId, this.requireMailbox(accountId, from), [uid]);
      return { uidValidity: dst.uid_validity, uid: added.uids[0]!, wakes: [[to, added.modseq], [from, modseq]] as Wake[], modseq };
    });
    this.publish(accountId, result.wakes);
    return { uidValidity: result.uidValidity, uid: toUid(result.uid), modseq: toModSeq(result.modseq) };
  }

  async expunge(accountId: AccountId, id: MailboxId, uids?: readonly Uid[]): Promise<{ expunged: Uid[]; modseq: ModSeq }> {
    const result = this.write(() => {
      const mb = this.requireMailbox(accountId, id);
      // RFC 9051 §6.4.3 EXPUNGE; RFC 4315 §2.1 UID EXPUNGE limits it to the given UIDs.
      const doomed =
        mb.deleted_count === 0 || uids?.length === 0
          ? []
          : uids
            ? this.st.deletedUidsIn.all(accountId, id, JSON.stringify(uids))
            : this.st.deletedUids.all(accountId, id);
      return { expunged: doomed, modseq: doomed.length === 0 ? mb.highest_modseq : this.removeMessages(accountId, mb, doomed) };
    });
    // No GC here: the tombstones hold the blobs (releaseExpunged).
    if (result.expunged.length > 0) this.publish(accountId, [[id, result.modseq]]);
    return { expunged: result.expunged.map(toUid), modseq: toModSeq(result.modseq) };
  }

  async claimRecent(accountId: AccountId, id: MailboxId): Promise<Uid> {
    // Nothing new since the last claim (the common re-SELECT): no write transaction.
    const seen = this.requireMailbox(accountId, id);
    if (seen.first_recent_uid === seen.uid_next) return toUid(seen.first_recent_uid);
    return this.write(() => {
      const mb = this.requireMailbox(accountId, id);
      if (mb.first_recent_uid !== mb.uid_next) this.st.claimRecent.run(accountId, id);
      return toUid(mb.first_recent_uid);
    });
  }

  async firstRecentUid(accountId: AccountId, id: MailboxId): Promise<Uid> {
    return toUid(this.requireMailbox(accountId, id).first_recent_uid);
  }

  // ---- Import and migration ----

  async importMessages(accountId: AccountId, id: MailboxId, messages: ImportedMessage[]): Promise<ImportResult> {
    // Validate before taking the lock.
    const flagSets = messages.map((m) => parseFlags(m.flags));
    for (const m of messages) checkSourceKey(m.sourceKey);
    const result = this.write(() => {
      const mb = this.requireMailbox(accountId, id);
      const uids: Array<number | null> = messages.map(() => null);
      // The first message of each key not yet recorded; the others are skipped.
      const keys = new Set<string>();
      const fresh = messages.flatMap((m, i) => {
        if (keys.has(m.sourceKey) || this.st.importedUid.get(accountId, id, m.sourceKey) !== undefined) return [];
        keys.add(m.sourceKey);
        return [i];
      });
      if (fresh.length === 0) return { mb, uids, modseq: mb.highest_modseq };
      this.checkQuota(accountId, fresh.length, fresh.reduce((sum, i) => sum + messages[i]!.blob.size, 0));
      const now = Date.now();
      const rows = fresh.map((i) => this.newRow(messages[i]!, flagSets[i]!, now));
      const inserted = this.insertRows(accountId, mb, rows, fresh.map((i) => messages[i]!.uid));
      fresh.forEach((i, k) => {
        const u = inserted.uids[k]!;
        uids[i] = u;
        this.st.insertImportRecord.run(accountId, id, messages[i]!.sourceKey, u);
      });
      return { mb, uids, modseq: inserted.modseq };
    });
    if (result.modseq !== result.mb.highest_modseq) this.publish(accountId, [[id, result.modseq]]);
    return {
      uidValidity: result.mb.uid_validity,
      uids: result.uids.map((u) => (u === null ? null : toUid(u))),
      modseq: toModSeq(result.modseq),
    };
  }

  async findImported(accountId: AccountId, id: MailboxId, sourceKeys: readonly string[]): Promise<Map<string, Uid>> {
    const out = new Map<string, Uid>();
    if (sourceKeys.length === 0) return out;
    for (const row of this.st.importedUids.all(accountId, id, JSON.stringify(sourceKeys))) out.set(row.source_key, toUid(row.uid));
    return out;
  }

  async adoptUidValidity(accountId: AccountId, id: MailboxId, uidValidity: number): Promise<boolean> {
    if (!Number.isInteger(uidValidity) || uidValidity < 1 || uidValidity > MAX_UID) throw new StoreError('CANNOT', 'invalid UIDVALIDITY');
    return this.write(() => {
      const mb = this.requireMailbox(accountId, id);
      if (mb.uid_validity === uidValidity) return true;
      // Only a mailbox that never held a message: no client can have cached a UID of it.
      if (mb.uid_next !== 1) return false;
      this.st.setUidValidity.run(uidValidity, accountId, id);
      // Mailboxes created later (this name again included) get larger values (RFC 9051 §2.3.1.1).
      this.st.nextCounter.get({ name: 'uid_validity', floor: uidValidity });
      return true;
    });
  }

  async getSyncState(accountId: AccountId, id: MailboxId, source: string): Promise<string | null> {
    return this.st.syncState.get(accountId, id, source) ?? null;
  }

  async setSyncState(accountId: AccountId, id: MailboxId, source: string, state: string): Promise<void> {
    this.write(() => {
      this.requireMailbox(accountId, id);
      this.st.setSyncState.run(accountId, id, source, state);
    });
  }

  // ---- Whole-store copy (store/copy/) ----

  async dumpPage(section: DumpSection, after: DumpKey | null, limit: number): Promise<DumpRecord[]> {
    if (section === 'counters') {
      if (after) return [];
      // The accounts id allocator is AUTOINCREMENT's sqlite_sequence row (ids are never reused).
      const row = this.copyStatement(
        `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'accounts'), 0) AS a,
                coalesce((SELECT value FROM counters WHERE account_id = 0 AND name = 'mailbox_id'), 0) AS m,
                coalesce((SELECT value FROM counters WHERE account_id = 0 AND name = 'uid_validity'), 0) AS u`,
      ).get() as { a: number; m: number; u: number };
      return [{ kind: 'counters', lastAccountId: row.a, lastMailboxId: row.m, lastUidValidity: row.u }];
    }
    const rows = this.copyStatement(pageSql(section, after !== null, () => '?')).all(...(after ?? []), limit);
    return pageRecords(section, rows as Record<string, unknown>[]);
  }

  async restorableBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    // A blob row exists only with its file and analysis (or, for a composite, its base's row).
    const rows = this.copyStatement('SELECT blob_id FROM blobs WHERE blob_id IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(blobIds));
    return new Set(rows as string[]);
  }

  async restore(records: readonly RestoreRecord[]): Promise<void> {
    // Triggers keep the counts and blob refcounts, as for any insertion.
    this.write(() => {
      for (const r of records) {
        if (r.kind === 'message') {
          if (r.analysis) this.referenceBlob(r.blob, r.analysis);
          else if (this.st.blobExists.get(r.blob.blobId) === undefined) throw new StoreError('CANNOT', `blob ${r.blob.blobId} is not here`);
          const flags = parseFlags(r.flags);
          this.st.insertMessage.run(
            r.accountId, r.mailboxId, r.uid, r.modseq, flags.system, keywordsToText(flags.keywords),
            r.internalDate.getTime(), r.saveDate.getTime(), r.blob.size, r.blob.blobId, r.emailId,
          );
        } else if (r.kind === 'counters') {
          // Raised, never lowered: the target may have handed out larger values already.
          const raise = this.copyStatement(
            `INSERT INTO counters (account_id, name, value) VALUES (0, ?, ?)
             ON CONFLICT (account_id, name) DO UPDATE SET value = max(value, excluded.value)`,
          );
          raise.run('mailbox_id', r.lastMailboxId);
          raise.run('uid_validity', r.lastUidValidity);
          const raised = this.copyStatement("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'accounts'").run(r.lastAccountId);
          if (raised.changes === 0) this.copyStatement("INSERT INTO sqlite_sequence (name, seq) VALUES ('accounts', ?)").run(r.lastAccountId);
        } else {
          const { sql, values } = rowInsert(r, SQLITE_DIALECT);
          this.copyStatement(sql).run(...values);
        }
      }
    });
  }

  private copyStatement(sql: string): Database.Statement {
    let stmt = this.copyStatements.get(sql);
    if (!stmt) this.copyStatements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  // ---- Metadata (RFC 5464) ----

  async getMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly string[], depth: MetadataDepth = 0): Promise<MetadataEntry[]> {
    return this.read(() => {
      if (mailboxId !== null) this.requireMailbox(accountId, mailboxId);
      const owner = mailboxId ?? SERVER_METADATA;
      const found = new Map<string, Buffer>();
      for (const entry of new Set(entries.map((e) => e.toLowerCase()))) {
        const value = this.st.metadataValue.get(accountId, owner, entry);
        if (value !== undefined) found.set(entry, value);
        if (depth === 0) continue;
        for (const row of this.st.metadataBelow.all(accountId, owner, `${entry}/`, `${entry}0`)) {
          // DEPTH 1: children only, not grandchildren.
          if (depth === 1 && row.name.includes('/', entry.length + 1)) continue;
          found.set(row.name, row.value);
        }
      }
      return [...found.keys()].sort().map((name) => ({ name, value: found.get(name)! }));
    });
  }

  async setMetadata(
    accountId: AccountId,
    mailboxId: MailboxId | null,
    entries: readonly (readonly [name: string, value: Buffer | null])[],
    maxEntries = Infinity,
  ): Promise<void> {
    const wakes = this.write((): Wake[] => {
      const mb = mailboxId === null ? null : this.requireMailbox(accountId, mailboxId);
      if (!mb && !this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
      const owner = mailboxId ?? SERVER_METADATA;
      const before = this.st.metadataCount.get(accountId, owner) ?? 0;
      let changed = false;
      for (const [name, value] of entries) {
        const key = name.toLowerCase();
        const info = value === null ? this.st.deleteMetadata.run(accountId, owner, key) : this.st.upsertMetadata.run(accountId, owner, key, value);
        if (info.changes > 0) changed = true;
      }
      const after = this.st.metadataCount.get(accountId, owner) ?? 0;
      // Throwing rolls the whole command back (RFC 5464 §4.3: all or nothing).
      if (after > before && after > maxEntries) throw new StoreError('LIMIT', 'too many metadata entries');
      if (!changed) return [];
      // Server entries: the account channel carries the change (RFC 5465 §5.7).
      if (!mb) return [[ACCOUNT_CHANNEL, this.st.bumpNamespace.get(accountId)!]];
      // RFC 7162 §3.2: a changed mailbox annotation raises the mailbox's mod-sequence.
      const next = mb.highest_modseq + 1;
      this.st.setModseq.run(next, accountId, mb.mailbox_id);
      return [[mb.mailbox_id as MailboxId, next]];
    });
    this.publish(accountId, wakes);
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
      const n = this.write(() => this.st.releaseTombstones.run(before, RELEASE_BATCH).changes);
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
        removed += this.write(() => {
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
      const removed = this.write(() => {
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

  /**
   * Group commit: runs fn in a write transaction shared with the other calls
   * made in this event-loop turn, so concurrent APPENDs and deliveries pay one
   * commit (one fsync) together. Each call is its own savepoint: a failure
   * (quota, missing mailbox) undoes only that call. Every promise settles only
   * after the shared commit, so a resolved promise is still durable.
   */
  private groupWrite<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.group) {
        this.group = [];
        setImmediate(() => this.commitGroup());
      }
      this.group.push({ fn, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private commitGroup(): void {
    const batch = this.group ?? [];
    this.group = null;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.write(() => {
        for (const item of batch) {
          try {
            // A nested transaction is a SAVEPOINT: on error only this call's changes roll back.
            outcomes.push({ ok: true, value: this.write(item.fn) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  }

  // ---- Internals (all run inside a transaction) ----

  private changedOne(info: Database.RunResult, what: string): void {
    if (info.changes === 0) throw new StoreError('NONEXISTENT', `no such ${what}`);
  }

  private requireMailbox(accountId: number, id: number): MailboxRow {
    const row = this.st.mailboxById.get(accountId, id);
    if (!row) throw new StoreError('NONEXISTENT', 'no such mailbox');
    return row;
  }

  private insertMailbox(accountId: number, name: string, specialUse: string | null): MailboxRow {
    if (this.st.mailboxByName.get(accountId, name)) throw new StoreError('ALREADYEXISTS', 'mailbox exists');
    const mailboxId = this.st.nextCounter.get({ name: 'mailbox_id', floor: 0 });
    // Fresh and increasing even across delete + recreate of a name: max(previous, now) + 1.
    const uidValidity = this.st.nextCounter.get({ name: 'uid_validity', floor: Math.floor(Date.now() / 1000) });
    if (mailboxId === undefined || uidValidity === undefined) throw new Error('counter allocation failed');
    const row = this.st.insertMailbox.get(accountId, mailboxId, name, uidValidity, specialUse);
    if (!row) throw new Error('mailbox insert returned nothing');
    return row;
  }

  /**
   * RFC 9208 §4.3.1: a change that would put the account over a limit fails
   * with OVERQUOTA. A change that does not grow a resource never fails on it,
   * so a REPLACE by a smaller message works even over a lowered limit.
   */
  private checkQuota(accountId: number, addMessages: number, addBytes: number): void {
    const usage = this.st.usage.get(accountId);
    if (!usage) throw new StoreError('NONEXISTENT', 'no such account');
    if (addMessages > 0 && usage.quota_messages !== null && usage.messages + addMessages > usage.quota_messages) {
      throw new StoreError('OVERQUOTA', 'message count quota exceeded');
    }
    if (addBytes > 0 && usage.quota_storage !== null && usage.storage + addBytes > usage.quota_storage) {
      throw new StoreError('OVERQUOTA', 'storage quota exceeded');
    }
  }

  /** The row of a new message (append, replace), its blob referenced; a fresh EMAILID (RFC 8474 §5.1). */
  private newRow(m: NewMessage, flags: FlagSet, saveDate: number): NewRow {
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
  private referenceBlob(blob: StagedBlob, analysis: MessageAnalysis): void {
    const composite = blob.composite;
    if (composite) {
      this.referenceBlob(composite.base, analysis);
      // After the base's row, so the insert trigger finds it and counts the composite's reference.
      if (this.st.blobExists.get(blob.blobId) === undefined) {
        this.st.insertComposite.run(blob.blobId, blob.size, composite.base.blobId, composite.prefix);
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
  private insertRows(
    accountId: number,
    mb: MailboxRow,
    rows: readonly NewRow[],
    wanted: ReadonlyArray<number | undefined> = [],
  ): { uids: number[]; modseq: number } {
    const modseq = mb.highest_modseq + 1;
    let next = mb.uid_next;
    const uids = rows.map((r, i) => {
      const w = wanted[i];
      const u = w !== undefined && w >= next ? w : next;
      // RFC 9051 §2.3.1.1: UIDs only grow and never exceed 2^32-1.
      if (u > MAX_UID) throw new StoreError('LIMIT', 'mailbox UID space exhausted');
      next = u + 1;
      this.st.insertMessage.run(
        accountId, mb.mailbox_id, u, modseq, r.system_flags, r.keywords, r.internal_date, r.save_date, r.size, r.blob_id, r.email_id,
      );
      return u;
    });
    this.st.advanceMailbox.run(next, modseq, accountId, mb.mailbox_id);
    return { uids, modseq };
  }

  /** Turns messages into held tombstones under one new modseq; returns it. */
  private removeMessages(accountId: number, mb: MailboxRow, uids: readonly number[]): number {
    const modseq = mb.highest_modseq + 1;
    const json = JSON.stringify(uids);
    // Tombstones first: they copy the rows, so the blob's refcount never drops to 0 on the way.
    this.st.insertTombstones.run(modseq, Date.now(), accountId, mb.mailbox_id, json);
    this.st.deleteMessages.run(accountId, mb.mailbox_id, json);
    this.st.setModseq.run(modseq, accountId, mb.mailbox_id);
    return modseq;
  }

  /** COPY (RFC 9051 §6.4.7) or MOVE (RFC 6851): destination UIDs consecutive, in source-UID order. */
  private transfer(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId, move: boolean) {
    const src = this.requireMailbox(accountId, from);
    const dst = this.requireMailbox(accountId, to);
    const rows = uids.length === 0 ? [] : this.st.records.all(accountId, from, JSON.stringify(uids));
    return this.transferRows(accountId, src, rows, dst, move);
  }

  private transferRows(accountId: AccountId, src: MailboxRow, rows: readonly RecordRow[], dst: MailboxRow, move: boolean) {
    const sourceUids = rows.map((r) => toUid(r.uid));
    if (rows.length === 0) {
      return { result: { uidValidity: dst.uid_validity, sourceUids, destUids: [] }, wakes: [] as Wake[], sourceModseq: src.highest_modseq };
    }
    // MOVE within one account leaves usage unchanged (RFC 9208 §5 applies to COPY).
    if (!move) this.checkQuota(accountId, rows.length, rows.reduce((sum, r) => sum + r.size, 0));
    // RFC 8514: the save date is the time the message arrived in this mailbox; RFC 8474: EMAILID is kept.
    const now = Date.now();
    const copied = this.insertRows(accountId, dst, rows.map((r) => ({ ...r, save_date: now })));
    const wakes: Wake[] = [[dst.mailbox_id as MailboxId, copied.modseq]];
    let sourceModseq = src.highest_modseq;
    if (move) {
      // Re-read: when source and destination are the same mailbox, the insert raised its modseq.
      sourceModseq = this.removeMessages(accountId, this.requireMailbox(accountId, src.mailbox_id), sourceUids);
      wakes.push([src.mailbox_id as MailboxId, sourceModseq]);
    }
    return { result: { uidValidity: dst.uid_validity, sourceUids, destUids: copied.uids.map(toUid) }, wakes, sourceModseq };
  }

  /**
   * RFC 9051 §6.3.6: renaming INBOX moves all its messages to a new mailbox of
   * the new name (fresh UIDVALIDITY) and leaves INBOX existing and empty;
   * INBOX's inferiors are unaffected.
   */
  private renameInbox(accountId: AccountId, inbox: MailboxRow, target: string): Wake[] {
    const dst = this.insertMailbox(accountId, target, null);
    // RFC 5464 §4.1: INBOX keeps its annotations and the new mailbox gets a copy.
    this.st.copyMetadata.run(dst.mailbox_id, accountId, inbox.mailbox_id);
    return this.transferRows(accountId, inbox, this.st.allRecords.all(accountId, inbox.mailbox_id), dst, true).wakes;
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

  /** Announces committed changes locally (other processes see them through their pollers). */
  private publish(accountId: AccountId, wakes: readonly Wake[]): void {
    for (const [mailboxId, value] of wakes) {
      this.poller.note(accountId, mailboxId, value);
      this.bus.publish(accountId, mailboxId, toModSeq(value));
    }
  }
}

/** Opens (creating and migrating as needed) a SQLite store and its blob directory. */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  checkStoreOptions(opts);
  const blobs = await FsBlobStore.open(opts.blobDir);
  const db = openDatabase(opts.path, opts.busyTimeoutMs);
  let store: SqliteStore;
  try {
    migrate(db);
    store = new SqliteStore(db, blobs, opts);
  } catch (err) {
    db.close();
    throw err;
  }
  try {
    // Grace periods that ended while no process ran, and blobs whose last reference went away just before a crash.
    await store.releaseExpunged();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
