/**
 * The INSERT of every restored record that references no blob, shared by both
 * backends (same tables and columns; they differ only in parameter spelling,
 * time representation and identity columns). Rows go in verbatim, ids
 * included; plain INSERTs, because a restore writes into an installation that
 * holds none of these rows: a conflict means it was not empty, and fails.
 * Messages (blob references, derived counts) and the counters are each
 * backend's own.
 */
import type { DumpedRow } from '../types.js';

/** How a backend spells what the shared statements need. */
export interface SqlDialect {
  /** The i-th parameter (1-based): `?` or `$i`. */
  placeholder(i: number): string;
  /** A stored time: ms since the epoch (SQLite) or the Date itself (PostgreSQL timestamptz). */
  time(d: Date): number | Date;
  /** A stored boolean: 0/1 (SQLite) or the boolean itself (PostgreSQL). */
  bool(b: boolean): number | boolean;
  /** Clause that lets an explicit value into an identity column (PostgreSQL `OVERRIDING SYSTEM VALUE`), or ''. */
  identityOverride: string;
}

/** A record with a shared INSERT. */
export type InsertableRow = Exclude<DumpedRow, { kind: 'counters' }>;

function columnsAndValues(r: InsertableRow, d: SqlDialect): [table: string, columns: string[], values: unknown[], identity: boolean] {
  switch (r.kind) {
    case 'account':
      return [
        'accounts',
        [
          'account_id',
          'name',
          'name_key',
          'password_hash',
          'created_at',
          'quota_storage',
          'quota_messages',
          'disabled',
          'last_login_at',
          'last_login_protocol',
          'last_login_address',
          'require_app_passwords',
        ],
        [
          r.id,
          r.name,
          r.name.toLowerCase(),
          r.passwordHash,
          d.time(r.createdAt),
          r.quotaStorage,
          r.quotaMessages,
          d.bool(r.disabled),
          r.lastLogin ? d.time(r.lastLogin.at) : null,
          r.lastLogin?.protocol ?? null,
          r.lastLogin?.address ?? null,
          d.bool(r.requireAppPasswords),
        ],
        true,
      ];
    case 'appPassword':
      return [
        'app_passwords',
        [
          'account_id',
          'app_password_id',
          'name',
          'name_key',
          'lookup',
          'password_hash',
          'protocols',
          'created_at',
          'expires_at',
          'revoked_at',
          'last_used_at',
          'last_used_protocol',
          'last_used_address',
        ],
        [
          r.accountId,
          r.id,
          r.name,
          r.name.toLowerCase(),
          r.lookup,
          r.hash,
          r.protocols.join(' '),
          d.time(r.createdAt),
          r.expiresAt ? d.time(r.expiresAt) : null,
          r.revokedAt ? d.time(r.revokedAt) : null,
          r.lastUsed ? d.time(r.lastUsed.at) : null,
          r.lastUsed?.protocol ?? null,
          r.lastUsed?.address ?? null,
        ],
        false,
      ];
    case 'alias':
      return ['aliases', ['address_key', 'address', 'account_id', 'created_at'], [r.address.toLowerCase(), r.address, r.accountId, d.time(r.createdAt)], false];
    case 'subscription':
      return ['subscriptions', ['account_id', 'name'], [r.accountId, r.name], false];
    case 'mailbox':
      return [
        'mailboxes',
        ['account_id', 'mailbox_id', 'name', 'uid_validity', 'uid_next', 'highest_modseq', 'special_use', 'first_recent_uid', 'object_id'],
        [r.accountId, r.id, r.name, r.uidValidity, r.uidNext, r.highestModSeq, r.specialUse, r.firstRecentUid, r.objectId],
        false,
      ];
    case 'tombstone':
      // Released (no blob, no FETCH data): see sections.ts.
      return ['expunged', ['account_id', 'mailbox_id', 'modseq', 'uid'], [r.accountId, r.mailboxId, r.modseq, r.uid], false];
    case 'importRecord':
      return ['import_records', ['account_id', 'mailbox_id', 'source_key', 'uid'], [r.accountId, r.mailboxId, r.sourceKey, r.uid], false];
    case 'syncState':
      return ['sync_states', ['account_id', 'mailbox_id', 'source', 'state'], [r.accountId, r.mailboxId, r.source, r.state], false];
    case 'metadata':
      // Server-level entries live under mailbox id 0 in both schemas.
      return ['metadata', ['account_id', 'mailbox_id', 'name', 'value'], [r.accountId, r.mailboxId ?? 0, r.name, r.value], false];
    case 'sieveScript':
      return [
        'sieve_scripts',
        ['account_id', 'name', 'content', 'size', 'active', 'updated_at'],
        [r.accountId, r.name, r.content, r.size, d.bool(r.active), d.time(r.updatedAt)],
        false,
      ];
    case 'scramKey':
      return [
        'scram_keys',
        ['account_id', 'hash', 'password_hash', 'salt', 'iterations', 'stored_key', 'server_key'],
        [r.accountId, r.hash, r.passwordHash, r.salt, r.iterations, r.storedKey, r.serverKey],
        false,
      ];
    case 'sieveMemory':
      return ['sieve_memory', ['account_id', 'kind', 'key', 'expires_at'], [r.accountId, r.memory, r.key, d.time(r.expiresAt)], false];
    // The admin tables keep epoch ms in both schemas.
    case 'adminUser':
      return [
        'admin_users',
        ['name', 'password_hash', 'totp_secret', 'created_at', 'last_totp_step'],
        [r.name, r.passwordHash, r.totpSecret, r.createdAt.getTime(), r.lastTotpStep],
        false,
      ];
    case 'apiToken':
      return [
        'api_tokens',
        ['name', 'token_hash', 'created_at', 'expires_at'],
        [r.name, r.tokenHash, r.createdAt.getTime(), r.expiresAt?.getTime() ?? null],
        false,
      ];
    case 'auditEntry':
      return [
        'admin_audit',
        ['audit_id', 'at', 'actor', 'action', 'target', 'address', 'outcome'],
        [r.id, r.at.getTime(), r.actor, r.action, r.target, r.address, r.outcome],
        false,
      ];
    case 'adminSignIn':
      return ['admin_sign_ins', ['id_hash', 'user_name', 'csrf', 'expires_at'], [r.idHash, r.user, r.csrf, r.expiresAt.getTime()], false];
  }
}

/** The statement and parameters that insert one record verbatim. */
export function rowInsert(r: InsertableRow, d: SqlDialect): { sql: string; values: unknown[] } {
  const [table, columns, values, identity] = columnsAndValues(r, d);
  const override = identity ? d.identityOverride : '';
  return {
    sql: `INSERT INTO ${table} (${columns.join(', ')}) ${override} VALUES (${columns.map((_, i) => d.placeholder(i + 1)).join(', ')})`,
    values,
  };
}
