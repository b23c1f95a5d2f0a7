/**
 * The administration role of the store (AdminStore): API tokens for the
 * admin HTTP API, web admin accounts, the audit log of administrative actions, and the reads the
 * admin API pages through (accounts by name, the store's size). Installation-
 * wide like `aliases`: keyed by token name and audit id, not by account.
 */
import type { Account } from './types.js';

/** An API token as listed; its secret is never stored, only its hash. */
export interface ApiTokenInfo {
  name: string;
  createdAt: Date;
  /** Null: never expires. */
  expiresAt: Date | null;
}

/** One recorded administrative action. */
export interface AuditEntry {
  /** Increasing with time: the paging cursor. */
  id: number;
  at: Date;
  /** Who: `token:NAME` for the API, `cli:USER` for the command line. */
  actor: string;
  /** What, e.g. `account.create`, `session.kick`. */
  action: string;
  /** The account, alias, token or session acted on, or null. */
  target: string | null;
  /** From where: the client's address, or `local` for the command line. */
  address: string;
  /** `ok`, or the error code the action failed with. */
  outcome: string;
}

/** An audit entry to record (the store assigns the id). */
export type NewAuditEntry = Omit<AuditEntry, 'id'>;

/** How much the store holds, in octets. */
export interface StorageSize {
  /** The database (SQLite file pages, or PostgreSQL's pg_database_size). */
  databaseBytes: number;
  /** Message bytes held, each stored blob once (deduplicated). */
  blobBytes: number;
}

/** A web admin account (separate from mail accounts): password and TOTP second factor. */
export interface AdminUser {
  name: string;
  /** auth/password.ts encoding. */
  passwordHash: string;
  /** Base32 TOTP secret (auth/totp.ts). */
  totpSecret: string;
  createdAt: Date;
}

/** A signed-in web admin session as stored (shared by every worker). */
export interface StoredSignIn {
  user: string;
  csrf: string;
  expiresAt: Date;
}

/** A running `mailkeep serve` as it registered itself (server/node-heartbeat.ts). */
export interface LiveNode {
  /** host:pid of the serve process, as the control channel names it. */
  name: string;
  /** Its worker processes; 1: a single process. */
  workers: number;
  startedAt: Date;
  /** Its latest heartbeat, by its own clock. */
  heartbeatAt: Date;
}

/** Tokens, audit, web admin accounts and the admin API's paged reads. */
export interface AdminStore {
  /** Stores a token's hash under a unique name; ALREADYEXISTS if the name (or, improbably, the hash) is taken. */
  addApiToken(name: string, tokenHash: string, expiresAt: Date | null): Promise<void>;
  /** The token whose hash this is (expired ones too: the caller decides), or null. */
  findApiToken(tokenHash: string): Promise<ApiTokenInfo | null>;
  /** Every token, by name. */
  listApiTokens(): Promise<ApiTokenInfo[]>;
  /** Deletes a token at once; NONEXISTENT if there is none of that name. */
  revokeApiToken(name: string): Promise<void>;
  /** Creates a web admin account; ALREADYEXISTS if the name is taken. */
  addAdminUser(name: string, passwordHash: string, totpSecret: string): Promise<void>;
  findAdminUser(name: string): Promise<AdminUser | null>;
  /** Records that an admin used TOTP step `step`; false if that step or a later one was used already (RFC 6238 §5.2). */
  claimAdminTotpStep(name: string, step: number): Promise<boolean>;
  /** Stores a web admin sign-in under the SHA-256 of its cookie value, forgetting expired ones. */
  addAdminSignIn(idHash: string, signIn: StoredSignIn): Promise<void>;
  /** The unexpired sign-in of that hash, or null. */
  findAdminSignIn(idHash: string): Promise<StoredSignIn | null>;
  /** Ends a sign-in at once (no error if there is none). */
  deleteAdminSignIn(idHash: string): Promise<void>;
  recordAudit(entry: NewAuditEntry): Promise<void>;
  /** Deletes at most `limit` of the oldest audit entries recorded before `before` (one bounded batch); returns how many. */
  pruneAudit(before: Date, limit: number): Promise<number>;
  /** At most `limit` entries, newest first, with ids below `beforeId` (null: from the newest). */
  auditPage(beforeId: number | null, limit: number): Promise<AuditEntry[]>;
  /**
   * At most `limit` accounts ordered by lower-cased name, after `afterName` (compared lower-cased; null: from
   * the first), whose lower-cased name contains `contains` (null: any).
   */
  accountPage(afterName: string | null, limit: number, contains: string | null): Promise<Account[]>;
  storageSize(): Promise<StorageSize>;
  /** Registers or refreshes a node (its heartbeat), forgetting nodes whose heartbeat is older than `staleBefore`. */
  beatNode(node: LiveNode, staleBefore: Date): Promise<void>;
  /** Forgets a node at once (its graceful shutdown); no error if there is none. */
  removeNode(name: string): Promise<void>;
  /** The nodes whose heartbeat is not older than `staleBefore`, by name. */
  liveNodes(staleBefore: Date): Promise<LiveNode[]>;
}
