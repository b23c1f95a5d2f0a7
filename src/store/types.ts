/**
 * The backend-neutral mail store contract. SQLite (embedded default) and
 * PostgreSQL implement it; protocol code speaks only to this interface.
 *
 * Invariants every implementation keeps:
 * - Every method is scoped by account id; nothing reaches another account's rows.
 * - Every mutation is one transaction that raises the mailbox's highestModSeq,
 *   stamps changed message rows with the new modseq and leaves an expunge
 *   tombstone (uid, modseq) per removed message. A resolved promise means the
 *   transaction is durably committed (DESIGN invariant 1).
 * - UIDs are never reused under one UIDVALIDITY; modseqs only grow.
 * - After a commit the implementation publishes (accountId, mailboxId, modseq)
 *   on its ChangeBus: a wake-up, never the data.
 */
import type { Readable } from 'node:stream';
import type { ChangeBus, ChangeNote } from '../events/change-bus.js';
import type { NodeChannel } from '../events/control-channel.js';
import type { AccountId, MailboxId, ModSeq, Uid } from '../ids.js';
import type { MessageAnalysis } from '../mime/types.js';
import type { AdminStore, AdminUser, AuditEntry, StoredSignIn } from './admin-types.js';
import type { AppPassword, AppPasswordStore } from './app-password-types.js';
import type { AuthAttemptStore } from './auth-attempt-types.js';
import type { ScramCredential, ScramKeyStore } from './scram-key-types.js';

export type { AdminStore, AdminUser, ApiTokenInfo, AuditEntry, NewAuditEntry, StorageSize } from './admin-types.js';
export type { AppPassword, AppPasswordLimits, AppPasswordStore, NewAppPassword } from './app-password-types.js';
export type { AuthAttemptCounts, AuthAttemptKey, AuthAttemptOutcome, AuthAttemptStore, AuthAttemptWindows } from './auth-attempt-types.js';
export type { ScramCredential, ScramHash, ScramKeyStore } from './scram-key-types.js';

/** An account (a login). */
export interface Account {
  id: AccountId;
  /** Login name, unique, compared case-insensitively. */
  name: string;
  /** Encoded password hash (see auth/password.ts); never logged. */
  passwordHash: string;
  createdAt: Date;
  /** Quota limits (RFC 9208); null = unlimited. */
  quotaStorage: number | null;
  quotaMessages: number | null;
  /** A disabled account keeps its mail but cannot log in (`mailkeep user set --disabled`). */
  disabled: boolean;
  /** The main password is refused on IMAP and POP3: only app passwords (and OAuth) log in (`mailkeep user set --require-app-passwords`). */
  requireAppPasswords: boolean;
  /** The last successful login, or null when there was none yet. */
  lastLogin: LastLogin | null;
}

/** Where and how an account last logged in. */
export interface LastLogin {
  at: Date;
  /** 'imap' or 'pop3'; with the SASL mechanism for a token login ('imap/oauthbearer'). */
  protocol: string;
  /** The client's address. */
  address: string;
}

/** A mailbox row. Names are full hierarchical UTF-8 names with '/' as separator; the inbox is always 'INBOX'. */
export interface Mailbox {
  id: MailboxId;
  accountId: AccountId;
  name: string;
  uidValidity: number;
  uidNext: Uid;
  highestModSeq: ModSeq;
  /** RFC 6154 special-use attribute such as '\\Sent', or null. */
  specialUse: string | null;
  /**
   * RFC 8474 §4 MAILBOXID minted at creation (random, so ids say nothing about
   * how many mailboxes exist); null for mailboxes created before it was stored,
   * whose MAILBOXID is derived from id and UIDVALIDITY.
   */
  objectId: string | null;
}

/**
 * Per-account and per-mailbox counts the store enforces inside its write
 * transactions, so concurrent sessions and processes cannot overshoot them
 * (StoreError LIMIT). 0 means unlimited.
 */
export interface StoreLimits {
  /** Mailboxes of one account (CREATE, RENAME INBOX); the account's default mailboxes are exempt. */
  maxMailboxesPerAccount: number;
  /** Live messages of one mailbox (APPEND, COPY, MOVE, REPLACE, delivery, import). */
  maxMessagesPerMailbox: number;
  /** Distinct keywords (case-insensitive) one mailbox defines; keywords no message carries any more are dropped when it is full. */
  maxKeywordsPerMailbox: number;
}

/** No limits: what a store enforces unless it is given some. */
export const UNLIMITED: StoreLimits = { maxMailboxesPerAccount: 0, maxMessagesPerMailbox: 0, maxKeywordsPerMailbox: 0 };

/** Counts for STATUS and SELECT (RFC 9051 §6.3.11). */
export interface MailboxCounts {
  messages: number;
  unseen: number;
  deleted: number;
  /** Sum of RFC822.SIZE of all messages (STATUS SIZE). */
  size: number;
  /** Sum of RFC822.SIZE of the \\Deleted messages: what EXPUNGE would free (RFC 9208 §5.1 DELETED-STORAGE). */
  deletedSize: number;
  /** Messages no session has claimed as \\Recent yet (uid >= the mailbox's recent marker; RFC 3501 STATUS RECENT). */
  recent: number;
}

/** The hot per-message fields a mailbox view needs for every message. */
export interface MessageSummary {
  uid: Uid;
  modseq: ModSeq;
  /** System flags in canonical case ('\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft') and keywords. Never '\\Recent'. */
  flags: string[];
  size: number;
}

/** Full per-message metadata for FETCH. */
export interface MessageRecord extends MessageSummary {
  internalDate: Date;
  /** When the message was saved into this mailbox (RFC 8514). */
  saveDate: Date;
  /** Content address of the bytes (lower-case hex SHA-256). */
  blobId: string;
  /** Stable object ids (RFC 8474): EMAILID survives COPY/MOVE. */
  emailId: string;
}

/** A message body staged by a BlobWriter: on disk and fsynced, not yet referenced. */
export interface StagedBlob {
  blobId: string;
  size: number;
  /**
   * Set only on a composite blob (BlobStore.putComposite): its bytes are
   * `prefix` followed by those of `base`, a plain blob, from offset `baseFrom`
   * on. The store records them when a message first references the blob;
   * nothing is written before that.
   */
  composite?: { prefix: Buffer; base: StagedBlob; baseFrom: number };
}

/** A message to add to a mailbox. */
export interface NewMessage {
  blob: StagedBlob;
  /**
   * The analysis of the blob's bytes; for a composite blob, of its base's
   * bytes: the store derives the composite's (one analysis serves every
   * recipient of an LMTP delivery).
   */
  analysis: MessageAnalysis;
  flags: string[];
  internalDate: Date;
}

/** What changed in a mailbox after a given modseq: the one sync mechanism (DESIGN "the one idea"). */
export interface MailboxChanges {
  uidValidity: number;
  uidNext: Uid;
  highestModSeq: ModSeq;
  /** Messages (new, or with changed flags) whose modseq > since, ascending by UID. */
  changed: MessageSummary[];
  /** UIDs expunged with modseq > since, ascending. */
  expunged: Uid[];
}

/** A METADATA entry (RFC 5464 §3.2): its lower-case name, e.g. '/private/comment', and its value octets. */
export interface MetadataEntry {
  name: string;
  value: Buffer;
}

/** One change of setMetadata (RFC 5464 §4.3): an entry name and its new value, or null to remove it. */
export type MetadataWrite = readonly [name: string, value: Buffer | null];

/** How far below each named entry a metadata lookup reaches (RFC 5464 §4.2.2 DEPTH). */
export type MetadataDepth = 0 | 1 | 'infinity';

/** How STORE changes flags (RFC 9051 §6.4.6). */
/** A STORE's change: the operation, its flags, and RFC 7162 UNCHANGEDSINCE when given. */
export interface FlagChange {
  op: FlagOp;
  flags: readonly string[];
  unchangedSince?: ModSeq | undefined;
}

export type FlagOp = 'set' | 'add' | 'remove';

/** The outcome of a flag change. */
export interface FlagChangeResult {
  modseq: ModSeq;
  /** Messages whose flags actually changed, with their new flags and modseq. */
  changed: MessageSummary[];
  /** UIDs skipped because their modseq was above UNCHANGEDSINCE (RFC 7162 §3.2). */
  conflicts: Uid[];
}

/** The outcome of COPY or MOVE (RFC 4315 COPYUID). */
export interface CopyResult {
  uidValidity: number;
  /** Source UIDs that existed and were copied, ascending, paired with destUids. */
  sourceUids: Uid[];
  destUids: Uid[];
}

/** Account quota limits (RFC 9208); storage in octets, null = unlimited. */
export interface QuotaLimits {
  storage: number | null;
  messages: number | null;
}

/** An account's quota limits and what its live messages use (RFC 9208 §3.2: one quota root per account). */
export interface QuotaUsage extends QuotaLimits {
  /** Sum of RFC822.SIZE of every live message, in octets. */
  usedStorage: number;
  /** Number of live messages in all mailboxes. */
  usedMessages: number;
}

/** The outcome of REPLACE (RFC 8508). */
export interface ReplaceResult {
  /** UIDVALIDITY and UID of the new message in the target mailbox (APPENDUID, RFC 4315). */
  uidValidity: number;
  uid: Uid;
  /** The source mailbox's highest modseq after the old message was expunged. */
  modseq: ModSeq;
}

/**
 * A message brought in by `mailkeep import` or `migrate`: a NewMessage plus
 * where it came from, so running the same import twice adds nothing.
 */
export interface ImportedMessage extends NewMessage {
  /**
   * Identifies the message in its source (a Maildir base name, `uidvalidity:uid` on an IMAP
   * server, a content hash in an mbox); at most MAX_SOURCE_KEY characters. A key already
   * recorded for the mailbox is skipped, even if that message was expunged since.
   */
  sourceKey: string;
  /** UID to keep (from dovecot-uidlist or the source server): used when not below uidNext, else a fresh UID is assigned. */
  uid?: Uid;
}

/** Longest ImportedMessage.sourceKey, in characters. */
export const MAX_SOURCE_KEY = 512;

/** The outcome of importMessages. */
export interface ImportResult {
  uidValidity: number;
  /** Per input message, in order: its new UID, or null when its source key was already imported (skipped). */
  uids: Array<Uid | null>;
  modseq: ModSeq;
}

/** Store failures that map onto IMAP response codes (RFC 5530); UNAVAILABLE: temporary, try again (§3). */
export type StoreErrorCode = 'NONEXISTENT' | 'ALREADYEXISTS' | 'OVERQUOTA' | 'LIMIT' | 'INUSE' | 'CANNOT' | 'NOPERM' | 'UNAVAILABLE';

/** A failure a client can be told about, carrying its RFC 5530 code. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** [start, end) of a blob (end omitted: to its end). */
export interface BlobRange {
  blobId: string;
  start: number;
  end?: number;
}

/** Content-addressed, deduplicated message bytes. */
export interface BlobStore {
  /** Starts staging a new blob; bytes beyond maxSize make finish() reject with StoreError('LIMIT'). */
  createWriter(maxSize: number): BlobWriter;
  /** Stages a complete buffer (small messages, tests, import). */
  put(bytes: Buffer): Promise<StagedBlob>;
  /** Streams [start, end) of a blob with backpressure. */
  createReadStream(blobId: string, start?: number, end?: number): Readable;
  /** Reads [start, end) of a blob into memory; for small ranges only (headers, MIME parts under a cap). */
  read(blobId: string, start?: number, end?: number): Promise<Buffer>;
  /**
   * read() of several ranges, answered in the order asked: one round trip
   * where the store has round trips (a FETCH window). A store may return
   * views into `arena` instead of new buffers; the caller then keeps the
   * arena unchanged while it uses them.
   */
  readRanges(ranges: readonly BlobRange[], arena?: Buffer): Promise<Buffer[]>;
  /**
   * A blob whose bytes are `prefix` followed by the base's from offset
   * `baseFrom` (default 0) on, without copying the base: LMTP's per-recipient
   * Return-Path/Delivered-To lines, and (baseFrom = where the base's body
   * starts) a header edited by Sieve in place of the base's. Its id is
   * the SHA-256 of those composed bytes, like any blob's; once a message
   * references it, read() and createReadStream() serve the composed bytes and
   * the base stays alive as long as the composite does. Nothing is stored
   * before that reference, so an unused composite leaves nothing behind.
   * `baseBytes`: the bytes of a plain base when the caller holds them (a
   * message small enough to stay in memory), hashed instead of read back.
   */
  putComposite(prefix: Buffer, base: StagedBlob, baseFrom?: number, baseBytes?: Buffer): Promise<StagedBlob>;
}

/** Receives a message body while it arrives (APPEND literal, LMTP DATA). */
export interface BlobWriter {
  /** Writes a chunk; false means wait for 'drain' before writing more. */
  write(chunk: Buffer): boolean;
  /** Resolves once the writer can take more after write() returned false. */
  drained(): Promise<void>;
  /** Flushes, fsyncs and hashes; the blob stays staged until a message references it. */
  finish(): Promise<StagedBlob>;
  /** Discards the staged bytes. */
  abort(): Promise<void>;
}

/** An address that delivers into an account (LMTP, `mailkeep deliver`). */
export interface Alias {
  /** As given when created; matched case-insensitively. */
  address: string;
  accountId: AccountId;
}

/** What every store holds besides its roles: the message bytes, the change bus, and its end. */
export interface StoreLifecycle {
  readonly blobs: BlobStore;
  readonly bus: ChangeBus;
  /**
   * Relays the bus between sibling processes (events/bus-relay.ts): `outbound` receives each change this
   * process commits, once committed; the returned function announces a sibling's commit to local listeners.
   */
  relayCommits?(outbound: (change: ChangeNote) => void): (change: ChangeNote) => void;
  /** The control channel between nodes sharing this store (PostgreSQL NOTIFY); absent when the store has none (SQLite). */
  nodeChannel?(onError: (err: unknown) => void): NodeChannel;
  close(): Promise<void>;
  /** One cheap query for readiness checks: the schema version the database has and the one this build migrates to; rejects when unreachable or closed. */
  schemaVersion(): Promise<{ current: number; expected: number }>;
}

/** Accounts (logins), their passwords and the addresses that deliver into them. */
export interface AccountStore {
  /** Creates an account with its INBOX (and configured special-use mailboxes). StoreError ALREADYEXISTS on a taken name. */
  createAccount(name: string, passwordHash: string): Promise<Account>;
  findAccount(name: string): Promise<Account | null>;
  getAccount(id: AccountId): Promise<Account | null>;
  listAccounts(): Promise<Account[]>;
  setPasswordHash(id: AccountId, passwordHash: string): Promise<void>;
  /**
   * Replaces the stored hash with a new encoding of the same password (a re-hash at login), only while the stored
   * hash is still `from`: a password changed meanwhile is never overwritten. No credentials-changed notice (the
   * password is the same). Whether it replaced it.
   */
  upgradePasswordHash(id: AccountId, from: string, to: string): Promise<boolean>;
  /** Disables or enables logins; NONEXISTENT for an unknown account. */
  setDisabled(id: AccountId, disabled: boolean): Promise<void>;
  /** Records a successful login (the account's lastLogin). */
  recordLogin(id: AccountId, login: LastLogin): Promise<void>;
  /** Removes the account and everything it owns (its aliases included). */
  deleteAccount(id: AccountId): Promise<void>;

  // Aliases (installation-wide, like account names)
  /** Points an address at an account. ALREADYEXISTS if the address is taken, NONEXISTENT if the account is not there. */
  addAlias(address: string, accountId: AccountId): Promise<void>;
  /** Removes an alias; NONEXISTENT if there is none. */
  deleteAlias(address: string): Promise<void>;
  /** The alias for an address (compared case-insensitively), or null. */
  findAlias(address: string): Promise<Alias | null>;
  /** Every alias, ordered by address. */
  listAliases(): Promise<Alias[]>;
}

/** An account's mailboxes, its subscriptions and its quota (RFC 9208 §3.2: one quota root per account). */
export interface MailboxStore {
  /** Sets an account's quota limits (RFC 9208); replaces both. NONEXISTENT for an unknown account. */
  setQuota(id: AccountId, limits: QuotaLimits): Promise<void>;
  /** An account's quota limits and current usage (live messages only). NONEXISTENT for an unknown account. */
  getQuotaUsage(id: AccountId): Promise<QuotaUsage>;
  listMailboxes(accountId: AccountId): Promise<Mailbox[]>;
  /** Looks a mailbox up by name; 'INBOX' is matched case-insensitively. */
  getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null>;
  getMailboxById(accountId: AccountId, id: MailboxId): Promise<Mailbox | null>;
  /** Creates a mailbox with a fresh UIDVALIDITY. ALREADYEXISTS if taken. Does not create parents (callers do). */
  createMailbox(accountId: AccountId, name: string, specialUse?: string | null): Promise<Mailbox>;
  /** Deletes a mailbox and its messages. NONEXISTENT if missing. */
  deleteMailbox(accountId: AccountId, id: MailboxId): Promise<void>;
  /**
   * Renames a mailbox and all its inferiors (RFC 9051 §6.3.6). Renaming INBOX
   * moves its messages into a new mailbox of the new name and leaves INBOX empty.
   * NONEXISTENT / ALREADYEXISTS as appropriate.
   */
  renameMailbox(accountId: AccountId, from: string, to: string): Promise<void>;
  /** Subscriptions are names, which need not exist (RFC 9051 §6.3.7). */
  setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(accountId: AccountId): Promise<string[]>;
  mailboxCounts(accountId: AccountId, id: MailboxId): Promise<MailboxCounts>;
}

/** Messages in mailboxes: their rows, flags, changes, and the stored analysis and header facts of their bytes. */
export interface MessageStore {
  /**
   * Adds messages to a mailbox in one transaction (MULTIAPPEND is all or nothing);
   * UIDs are assigned in order. Enforces the account quota (StoreError OVERQUOTA).
   */
  appendMessages(accountId: AccountId, id: MailboxId, messages: NewMessage[]): Promise<{ uidValidity: number; uids: Uid[]; modseq: ModSeq }>;
  /** Every message's summary, ascending by UID: what the shared mailbox index loads once. */
  listSummaries(accountId: AccountId, id: MailboxId): Promise<MessageSummary[]>;
  /**
   * Full records for the given UIDs (missing ones are skipped), ascending by UID. Callers batch (≤ 1000 per call).
   * Recently expunged messages are still returned (modseq = the expunge's) until the retention period ends (RFC 2180 §4.1).
   */
  getRecords(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<MessageRecord[]>;
  /**
   * The blob ids of the given UIDs (missing ones are absent), recently expunged ones included as in getRecords;
   * ≤ 1000 per call. All FETCH needs for bodies, ENVELOPE and BODYSTRUCTURE, without building whole records.
   */
  getBlobIds(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>>;
  /**
   * The stored analysis of a message's bytes. With `bodyText: false` the
   * implementation may return '' as bodyText (FETCH, SORT and header SEARCH
   * never read it), which lets it serve from a compact cache.
   */
  getAnalysis(blobId: string, options?: { bodyText?: boolean }): Promise<MessageAnalysis | null>;
  /**
   * The stored header facts (mime/header-facts.ts encoding) of the given blobs (≤ 1000 per call), by blob id; a
   * composite has its base's. Blobs without stored facts (stored before them, or by an older backend version), or gone, are
   * missing: callers derive those from the analysis.
   */
  getHeaderFacts(blobIds: readonly string[]): Promise<Map<string, string>>;
  /**
   * Records header facts of `version` derived for blobs that had none (or of another version), by blob
   * id (≤ 1000 per call), so later reads find them; a composite's go to its base, and blobs gone meanwhile
   * are skipped. Facts of a higher version are kept: nodes of two releases on one database would
   * otherwise overwrite each other's on every SORT or SEARCH.
   */
  saveHeaderFacts(facts: ReadonlyMap<string, string>, version: number): Promise<void>;
  /** Everything that changed after `since` (DESIGN "the one idea"). */
  changesSince(accountId: AccountId, id: MailboxId, since: ModSeq): Promise<MailboxChanges>;
  /**
   * Changes flags atomically per message. With unchangedSince (RFC 7162), messages whose
   * modseq is greater are left alone and reported in conflicts.
   */
  storeFlags(accountId: AccountId, id: MailboxId, uids: readonly Uid[], change: FlagChange): Promise<FlagChangeResult>;
  /** Copies messages (sharing their blobs) into another mailbox of the same account. */
  copyMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult>;
  /** Copy plus expunge of the sources, in one transaction (RFC 6851). */
  moveMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult & { modseq: ModSeq }>;
  /**
   * REPLACE (RFC 8508 §3.4): appends `message` to mailbox `to` and expunges `uid` from mailbox `from`
   * in one transaction (a tombstone, as for expunge). The quota is checked on the net change only.
   * NONEXISTENT when either mailbox or the old message is gone; nothing changes on any failure.
   */
  replaceMessage(accountId: AccountId, from: MailboxId, uid: Uid, to: MailboxId, message: NewMessage): Promise<ReplaceResult>;
  /**
   * Removes messages flagged \Deleted; with `uids`, only those among them (UID EXPUNGE, RFC 4315).
   * Leaves tombstones; returns the expunged UIDs ascending.
   */
  expunge(accountId: AccountId, id: MailboxId, uids?: readonly Uid[]): Promise<{ expunged: Uid[]; modseq: ModSeq }>;
  /**
   * Claims \Recent (RFC 3501 §2.3.2) for the caller: returns the first UID that is recent
   * for this session and advances the mailbox's marker to uidNext, so exactly one session
   * sees each new message as recent.
   */
  claimRecent(accountId: AccountId, id: MailboxId): Promise<Uid>;
  /**
   * The first UID no session has claimed as \Recent yet, claiming nothing: for a read-only
   * session (EXAMINE, RFC 3501 §6.3.2), which sees them as recent and leaves them so.
   */
  firstRecentUid(accountId: AccountId, id: MailboxId): Promise<Uid>;
}

/** Mailbox and server annotations (RFC 5464). */
export interface MetadataStore {
  /**
   * Annotations of a mailbox, or with mailboxId null the account's server-level ones (each account
   * has its own: nothing is shared across accounts). Returns the named entries that exist and, with
   * depth 1 or 'infinity', those below them, ascending by name. Names match case-insensitively.
   * NONEXISTENT if the mailbox is missing.
   */
  getMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly string[], depth?: MetadataDepth): Promise<MetadataEntry[]>;
  /**
   * Sets (value) or removes (null) entries, in order, in one transaction. If that leaves the mailbox
   * (or server level) with more entries than before and more than maxEntries, nothing changes and it
   * fails with StoreError LIMIT. A change to a mailbox's entries raises its highestModSeq in the same
   * transaction (RFC 7162 §3.2) and is published. A mailbox's entries follow it through RENAME
   * (renaming INBOX copies them, RFC 5464 §4.1) and go with it on DELETE. NONEXISTENT if the mailbox is missing.
   */
  setMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly MetadataWrite[], maxEntries?: number): Promise<void>;
}

/** What `mailkeep import` and `migrate` record so a second run adds nothing (cli/import, cli/migrate). */
export interface ImportStore {
  /**
   * Appends like appendMessages (one transaction, quota enforced, ascending UIDs) and records each
   * message's source key with its UID in the same transaction. Messages whose key is already
   * recorded for the mailbox (or repeated in the batch) are skipped. A message's `uid` is kept when
   * it is ≥ uidNext and above the UIDs assigned before it in the batch; otherwise it gets uidNext.
   */
  importMessages(accountId: AccountId, id: MailboxId, messages: ImportedMessage[]): Promise<ImportResult>;
  /** The UIDs recorded for the given source keys (unknown keys are absent). Callers batch (≤ 1000 keys per call). */
  findImported(accountId: AccountId, id: MailboxId, sourceKeys: readonly string[]): Promise<Map<string, Uid>>;
  /**
   * Gives a mailbox that has never held a message (uidNext = 1) the source's UIDVALIDITY, so
   * imported UIDs stay valid for clients' caches; raises the installation's UIDVALIDITY counter
   * past it. True when the mailbox now has that UIDVALIDITY (set now or already equal).
   */
  adoptUidValidity(accountId: AccountId, id: MailboxId, uidValidity: number): Promise<boolean>;
  /** Opaque resume state of a mailbox's sync from one source (`migrate`), or null. */
  getSyncState(accountId: AccountId, id: MailboxId, source: string): Promise<string | null>;
  /** Stores the resume state of a mailbox's sync from one source, replacing the previous one. */
  setSyncState(accountId: AccountId, id: MailboxId, source: string, state: string): Promise<void>;
}

/** One Sieve script of an account as listed (RFC 5804 §2.7 LISTSCRIPTS). */
export interface SieveScriptInfo {
  name: string;
  /** Octets of the script's UTF-8 text. */
  size: number;
  active: boolean;
  updated: Date;
}

/** A Sieve script with its text. */
export interface SieveScriptText extends SieveScriptInfo {
  content: string;
}

/** The per-account script quotas the store enforces in its write transaction (RFC 5804 §2.1.3). */
export interface SieveScriptQuota {
  maxScripts: number;
  /** Octets of all the account's scripts together. */
  maxTotalSize: number;
}

/**
 * An account's Sieve scripts (RFC 5804 model): named texts, at most one active. Names are
 * compared exactly (RFC 5804 §1.6: octet equality after normalisation, which callers do).
 */
export interface SieveScriptStore {
  /** The account's scripts ordered by name, without their text. */
  listSieveScripts(accountId: AccountId): Promise<SieveScriptInfo[]>;
  /** One script with its text, or null. */
  getSieveScript(accountId: AccountId, name: string): Promise<SieveScriptText | null>;
  /** The active script with its text, or null when none is active. */
  getActiveSieveScript(accountId: AccountId): Promise<SieveScriptText | null>;
  /**
   * Creates or replaces a script (keeping its active mark), and with `activate` makes it the active one,
   * in one transaction. SieveQuotaError (store/shared/sieve-quota.ts) when the quota would be exceeded;
   * NONEXISTENT for an unknown account.
   */
  putSieveScript(accountId: AccountId, name: string, content: string, quota: SieveScriptQuota, activate?: boolean): Promise<void>;
  /** Makes `name` the only active script, or with null deactivates all. NONEXISTENT when the script is missing. */
  setActiveSieveScript(accountId: AccountId, name: string | null): Promise<void>;
  /** Deletes a script. NONEXISTENT when missing, INUSE when it is the active one (RFC 5804 §2.10). */
  deleteSieveScript(accountId: AccountId, name: string): Promise<void>;
  /** Renames a script, keeping its active mark (RFC 5804 §2.11.1). NONEXISTENT / ALREADYEXISTS. */
  renameSieveScript(accountId: AccountId, from: string, to: string): Promise<void>;
}

/** What a Sieve memory record remembers: a tracked duplicate id (RFC 7352) or a vacation reply sent (RFC 5230 §4.2). */
export type SieveMemoryKind = 'duplicate' | 'vacation';

/** Per-account Sieve records with an expiry, consulted at delivery (not part of a dump: they only suppress repeats). */
export interface SieveMemoryStore {
  /** Whether the account has an unexpired record of this kind and key at `now`. */
  sieveMemoryHas(accountId: AccountId, kind: SieveMemoryKind, key: string, now: Date): Promise<boolean>;
  /** Remembers the key until `expires` (replacing an earlier record) and drops the account's records expired at `now`. */
  sieveMemoryPut(accountId: AccountId, kind: SieveMemoryKind, key: string, expires: Date, now: Date): Promise<void>;
}

/** Whole-installation copy (`mailkeep store copy`, store/copy/): ids, UIDs and modseqs kept verbatim. */
export interface DumpStore {
  /**
   * One page of a dump section: at most `limit` records in primary-key order, after the record
   * whose key (store/copy/sections.ts keyOf) is `after` (null: from the start). Read-only.
   */
  dumpPage(section: DumpSection, after: DumpKey | null, limit: number): Promise<DumpRecord[]>;
  /** The ids among `blobIds` whose blob (bytes and analysis) this store already holds, so restored messages can reference it as is. */
  restorableBlobs(blobIds: readonly string[]): Promise<Set<string>>;
  /**
   * Writes records of one section verbatim (ids, UIDs, modseqs, counters) in one transaction,
   * keeping the derived data (counts, blob references) as its own insertions do. Meant for an
   * installation that holds none of them yet; publishes nothing (no server runs on it).
   */
  restore(records: readonly RestoreRecord[]): Promise<void>;
  /** Deletes the rows that belong to no account (admin users, API tokens, audit log, sign-ins) before a copy replaces them; returns how many. */
  clearAdministration(): Promise<number>;
}

/**
 * The semantic mail store: every role. All methods are async so a networked
 * backend fits without changing callers; a caller that needs one role may
 * take just that interface.
 */
export interface MailStore
  extends StoreLifecycle,
    AccountStore,
    AdminStore,
    AuthAttemptStore,
    AppPasswordStore,
    ScramKeyStore,
    MailboxStore,
    MessageStore,
    MetadataStore,
    ImportStore,
    DumpStore,
    SieveScriptStore,
    SieveMemoryStore {}

/** The sections of a store dump, in the order a restore must write them (parents before children; counters last). */
export const DUMP_SECTIONS = [
  'accounts',
  'aliases',
  'appPasswords',
  'subscriptions',
  'mailboxes',
  'messages',
  'tombstones',
  'importRecords',
  'syncStates',
  'metadata',
  'sieveScripts',
  'scramKeys',
  'sieveMemory',
  'adminUsers',
  'apiTokens',
  'adminAudit',
  'adminSignIns',
  'counters',
] as const;

/** One section of a store dump. */
export type DumpSection = (typeof DUMP_SECTIONS)[number];

/** The primary key of a dumped record, where the next page starts. */
export type DumpKey = ReadonlyArray<number | string>;

/** An account row as dumped: the password hash travels as is. */
export interface DumpedAccount extends Account {
  kind: 'account';
}

/** A mailbox row as dumped, with what a session needs to stay valid: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the \Recent marker. */
export interface DumpedMailbox extends Mailbox {
  kind: 'mailbox';
  firstRecentUid: Uid;
}

/** A live message as dumped. `composite` is set when its blob is prefix + base from `baseFrom` (StagedBlob.composite). */
export interface DumpedMessage {
  kind: 'message';
  accountId: AccountId;
  mailboxId: MailboxId;
  uid: Uid;
  modseq: ModSeq;
  flags: string[];
  internalDate: Date;
  saveDate: Date;
  size: number;
  blobId: string;
  emailId: string;
  composite: { baseId: string; baseSize: number; prefix: Buffer; baseFrom: number } | null;
}

/** A dump record that needs nothing from the blob store. */
export type DumpedRow =
  | DumpedAccount
  | DumpedMailbox
  | { kind: 'alias'; address: string; accountId: AccountId; createdAt: Date }
  | { kind: 'subscription'; accountId: AccountId; name: string }
  /** An app password, hash and state included. */
  | ({ kind: 'appPassword' } & AppPassword)
  /** An expunge tombstone (RFC 7162 VANISHED); the message data it may still hold is not carried. */
  | { kind: 'tombstone'; accountId: AccountId; mailboxId: MailboxId; uid: Uid; modseq: ModSeq }
  | { kind: 'importRecord'; accountId: AccountId; mailboxId: MailboxId; sourceKey: string; uid: Uid }
  | { kind: 'syncState'; accountId: AccountId; mailboxId: MailboxId; source: string; state: string }
  /** RFC 5464 entry of a mailbox, or with mailboxId null of the account (server level). */
  | { kind: 'metadata'; accountId: AccountId; mailboxId: MailboxId | null; name: string; value: Buffer }
  /** A Sieve script (RFC 5804) with its text and active mark. */
  | { kind: 'sieveScript'; accountId: AccountId; name: string; content: string; size: number; active: boolean; updatedAt: Date }
  /** An account's SCRAM keys for one hash, with the password hash they were derived from. */
  | ({ kind: 'scramKey'; accountId: AccountId; passwordHash: string } & ScramCredential)
  /** A Sieve vacation or duplicate record (RFC 5230, RFC 7352) and when it expires. */
  | { kind: 'sieveMemory'; accountId: AccountId; memory: SieveMemoryKind; key: string; expiresAt: Date }
  /** A web admin account with its TOTP secret and the last TOTP step used. */
  | ({ kind: 'adminUser'; lastTotpStep: number | null } & AdminUser)
  /** An API token, hashed. */
  | { kind: 'apiToken'; name: string; tokenHash: string; createdAt: Date; expiresAt: Date | null }
  /** An audit log entry, its id kept (the paging cursor). */
  | ({ kind: 'auditEntry' } & AuditEntry)
  /** A web admin sign-in (the SHA-256 of its cookie value). */
  | ({ kind: 'adminSignIn'; idHash: string } & StoredSignIn)
  /** The installation's allocators: the last account id, mailbox id and UIDVALIDITY handed out (0: none). */
  | { kind: 'counters'; lastAccountId: number; lastMailboxId: number; lastUidValidity: number };

/** One record of a store dump. */
export type DumpRecord = DumpedRow | DumpedMessage;

/**
 * A message to restore: its blob staged in the target (or already there), with the analysis
 * to store beside it, or null when restorableBlobs reported the blob (nothing to store).
 * For a composite blob the analysis is its base's, as in NewMessage.
 */
export interface RestoredMessage extends Omit<DumpedMessage, 'blobId' | 'size' | 'composite'> {
  blob: StagedBlob;
  analysis: MessageAnalysis | null;
}

/** One record to restore. */
export type RestoreRecord = DumpedRow | RestoredMessage;
