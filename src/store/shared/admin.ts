/**
 * The administration role in SQL (store/admin-types.ts AdminStore), written
 * once for SQLite and PostgreSQL: numbered parameters ($1 …), which both
 * accept, and times as epoch ms in integer columns on both.
 *
 * Tables (installation-wide; see the schema files):
 * - api_tokens(name, token_hash, created_at, expires_at): the SHA-256 of each
 *   token (auth/api-token.ts says why a fast hash suffices), never the token.
 * - admin_audit(audit_id, at, actor, action, target, address, outcome).
 * - admin_users(name, password_hash, totp_secret, created_at, last_totp_step): the web admin's.
 * - admin_sign_ins(id_hash, user_name, csrf, expires_at): its signed-in sessions, by the cookie's SHA-256.
 * - live_nodes(name, workers, started_at, heartbeat_at): the running serve processes (server/node-heartbeat.ts).
 */
import type { AdminUser, ApiTokenInfo, AuditEntry, LiveNode, NewAuditEntry, StoredSignIn } from '../admin-types.js';

/** $1 name, $2 hash, $3 created, $4 expires; returns a row only when inserted. */
export const TOKEN_INSERT_SQL =
  'INSERT INTO api_tokens (name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING name';
export const TOKEN_BY_HASH_SQL = 'SELECT name, created_at, expires_at FROM api_tokens WHERE token_hash = $1';
export const TOKENS_SQL = 'SELECT name, created_at, expires_at FROM api_tokens ORDER BY name';
export const TOKEN_DELETE_SQL = 'DELETE FROM api_tokens WHERE name = $1';

export const ADMIN_USER_INSERT_SQL =
  'INSERT INTO admin_users (name, password_hash, totp_secret, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING name';
export const ADMIN_USER_SQL = 'SELECT * FROM admin_users WHERE name = $1';
/** $1 admin, $2 step: claims the step only if it is later than the last one claimed (one statement: no race between workers). */
export const ADMIN_TOTP_STEP_SQL =
  'UPDATE admin_users SET last_totp_step = $2 WHERE name = $1 AND (last_totp_step IS NULL OR last_totp_step < $2) RETURNING name';

/** $1 now: forgets expired sign-ins. */
export const SIGN_IN_PRUNE_SQL = 'DELETE FROM admin_sign_ins WHERE expires_at <= $1';
export const SIGN_IN_INSERT_SQL = 'INSERT INTO admin_sign_ins (id_hash, user_name, csrf, expires_at) VALUES ($1, $2, $3, $4)';
/** $1 id hash, $2 now. */
export const SIGN_IN_SQL = 'SELECT * FROM admin_sign_ins WHERE id_hash = $1 AND expires_at > $2';
export const SIGN_IN_DELETE_SQL = 'DELETE FROM admin_sign_ins WHERE id_hash = $1';

/** A row of admin_sign_ins. */
export interface SignInRow {
  id_hash: string;
  user_name: string;
  csrf: string;
  expires_at: number | string;
}

/** Reads a sign-in row. */
export function toSignIn(row: SignInRow): StoredSignIn {
  return { user: row.user_name, csrf: row.csrf, expiresAt: new Date(Number(row.expires_at)) };
}

export const AUDIT_INSERT_SQL = 'INSERT INTO admin_audit (at, actor, action, target, address, outcome) VALUES ($1, $2, $3, $4, $5, $6)';
/**
 * $1 batch size, $2 epoch ms: deletes, among the oldest $1 entries by id, those recorded before $2. Ids
 * follow time, so only the primary key is read; a batch that deletes fewer than $1 means nothing older is
 * left (an entry stamped out of order by another node's clock goes in a later round).
 */
export const AUDIT_PRUNE_SQL = 'DELETE FROM admin_audit WHERE audit_id IN (SELECT audit_id FROM admin_audit ORDER BY audit_id LIMIT $1) AND at < $2';
/** $1 below this id, $2 limit. */
export const AUDIT_PAGE_SQL = 'SELECT * FROM admin_audit WHERE audit_id < $1 ORDER BY audit_id DESC LIMIT $2';

/** $1 after this key, $2 LIKE pattern, $3 limit. Keys are lower-cased names, so LIKE's case rules do not matter. */
export const ACCOUNT_PAGE_SQL = "SELECT * FROM accounts WHERE name_key > $1 AND name_key LIKE $2 ESCAPE '\\' ORDER BY name_key LIMIT $3";
export const BLOB_BYTES_SQL = 'SELECT coalesce(sum(size), 0) AS bytes FROM blobs';

/** $1 name, $2 workers, $3 started, $4 heartbeat: registers a node or refreshes its row. */
export const NODE_UPSERT_SQL = `INSERT INTO live_nodes (name, workers, started_at, heartbeat_at) VALUES ($1, $2, $3, $4)
  ON CONFLICT (name) DO UPDATE SET workers = excluded.workers, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`;
/** $1 epoch ms: forgets nodes that stopped beating before it. */
export const NODE_PRUNE_SQL = 'DELETE FROM live_nodes WHERE heartbeat_at < $1';
export const NODE_DELETE_SQL = 'DELETE FROM live_nodes WHERE name = $1';
/** $1 epoch ms: the nodes that beat since. */
export const NODES_SQL = 'SELECT * FROM live_nodes WHERE heartbeat_at >= $1 ORDER BY name';

/** A row of live_nodes. */
export interface NodeRow {
  name: string;
  workers: number | string;
  started_at: number | string;
  heartbeat_at: number | string;
}

/** Reads a live_nodes row. */
export function toLiveNode(row: NodeRow): LiveNode {
  return { name: row.name, workers: Number(row.workers), startedAt: new Date(Number(row.started_at)), heartbeatAt: new Date(Number(row.heartbeat_at)) };
}

/** The parameters of NODE_UPSERT_SQL. */
export function nodeUpsertParams(node: LiveNode): unknown[] {
  return [node.name, node.workers, node.startedAt.getTime(), node.heartbeatAt.getTime()];
}

/** A row of api_tokens (PostgreSQL returns bigint as a string). */
export interface TokenRow {
  name: string;
  created_at: number | string;
  expires_at: number | string | null;
}

/** A row of admin_audit. */
export interface AuditRow {
  audit_id: number | string;
  at: number | string;
  actor: string;
  action: string;
  target: string | null;
  address: string;
  outcome: string;
}

/** A row of admin_users. */
export interface AdminUserRow {
  name: string;
  password_hash: string;
  totp_secret: string;
  created_at: number | string;
}

/** Reads an admin_users row. */
export function toAdminUser(row: AdminUserRow): AdminUser {
  return { name: row.name, passwordHash: row.password_hash, totpSecret: row.totp_secret, createdAt: new Date(Number(row.created_at)) };
}

/** Reads a token row. */
export function toTokenInfo(row: TokenRow): ApiTokenInfo {
  return { name: row.name, createdAt: new Date(Number(row.created_at)), expiresAt: row.expires_at === null ? null : new Date(Number(row.expires_at)) };
}

/** Reads an audit row. */
export function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    id: Number(row.audit_id),
    at: new Date(Number(row.at)),
    actor: row.actor,
    action: row.action,
    target: row.target,
    address: row.address,
    outcome: row.outcome,
  };
}

/** The parameters of TOKEN_INSERT_SQL. */
export function tokenInsertParams(name: string, tokenHash: string, expiresAt: Date | null, now: number): unknown[] {
  return [name, tokenHash, now, expiresAt?.getTime() ?? null];
}

/** The parameters of AUDIT_INSERT_SQL. */
export function auditInsertParams(e: NewAuditEntry): unknown[] {
  return [e.at.getTime(), e.actor, e.action, e.target, e.address, e.outcome];
}

/** The parameters of AUDIT_PAGE_SQL. */
export function auditPageParams(beforeId: number | null, limit: number): unknown[] {
  return [beforeId ?? Number.MAX_SAFE_INTEGER, limit];
}

/** The parameters of ACCOUNT_PAGE_SQL: a substring as a LIKE pattern with its wildcards escaped. */
export function accountPageParams(afterName: string | null, limit: number, contains: string | null): unknown[] {
  const escaped = (contains ?? '').toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
  return [afterName?.toLowerCase() ?? '', `%${escaped}%`, limit];
}
