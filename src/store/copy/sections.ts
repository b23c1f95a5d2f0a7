/**
 * The dump sections as SQL both backends run (their schemas share table and
 * column names): which rows, in which key order, and how a row becomes a
 * DumpRecord. Pages are read by key (`(k1, k2) > (?, ?) ORDER BY k1, k2
 * LIMIT n`), so a dump streams any installation with bounded memory and no
 * cursor held open between pages.
 *
 * Deliberately left out: held tombstones' message data and blob references
 * (RFC 2180 §4.1 serves sessions that were open when the expunge happened;
 * none survives stopping the server, so a copied tombstone is released:
 * uid and modseq only), the per-mailbox counts (derived), staged blobs and
 * the change-notification counters (wake-ups, not state), and the login
 * throttle's counts (auth_failures, auth_in_flight: minutes of memory).
 */
import type { AccountId, MailboxId, ModSeq, Uid } from '../../ids.js';
import { flagList } from '../shared/flags.js';
import { type AccountRow, type AppPasswordRow, type StoredTime, toAccount, toAppPassword } from '../shared/rows.js';
import type { ScramHash } from '../scram-key-types.js';
import type { DumpKey, DumpRecord, DumpSection, SieveMemoryKind } from '../types.js';

/** The sections read page by page (counters is one record, read by each backend its own way). */
export type PagedSection = Exclude<DumpSection, 'counters'>;

/** A raw row as either driver returns it (times as ms or Date, blobs as Buffer). */
type Row = Record<string, unknown>;

interface SectionSql {
  /** FROM clause. */
  from: string;
  columns: string;
  /** Primary key columns, in order. */
  key: readonly string[];
  toRecord(row: Row): DumpRecord;
}

const time = (v: unknown): Date => new Date(v as StoredTime);
const num = (v: unknown): number => v as number;
const text = (v: unknown): string => v as string;
/** A time the admin tables keep as epoch ms in both schemas. */
const msTime = (v: unknown): Date => new Date(num(v));
const optional = <T>(v: unknown, f: (v: unknown) => T): T | null => (v === null ? null : f(v));
/** The account and mailbox of a row keyed by both. */
const inMailbox = (r: Row) => ({ accountId: num(r.account_id) as AccountId, mailboxId: num(r.mailbox_id) as MailboxId });

const SECTIONS: Record<PagedSection, SectionSql> = {
  accounts: {
    from: 'accounts',
    columns: '*',
    key: ['account_id'],
    toRecord: (r) => ({ kind: 'account', ...toAccount(r as unknown as AccountRow<StoredTime>) }),
  },
  aliases: {
    from: 'aliases',
    columns: 'address_key, address, account_id, created_at',
    key: ['address_key'],
    toRecord: (r) => ({ kind: 'alias', address: text(r.address), accountId: num(r.account_id) as AccountId, createdAt: time(r.created_at) }),
  },
  appPasswords: {
    from: 'app_passwords',
    columns: '*',
    key: ['account_id', 'app_password_id'],
    toRecord: (r) => ({ kind: 'appPassword', ...toAppPassword(r as unknown as AppPasswordRow<StoredTime>) }),
  },
  subscriptions: {
    from: 'subscriptions',
    columns: 'account_id, name',
    key: ['account_id', 'name'],
    toRecord: (r) => ({ kind: 'subscription', accountId: num(r.account_id) as AccountId, name: text(r.name) }),
  },
  mailboxes: {
    from: 'mailboxes',
    columns: 'account_id, mailbox_id, name, uid_validity, uid_next, highest_modseq, special_use, first_recent_uid, object_id',
    key: ['account_id', 'mailbox_id'],
    toRecord: (r) => ({
      kind: 'mailbox',
      accountId: num(r.account_id) as AccountId,
      id: num(r.mailbox_id) as MailboxId,
      name: text(r.name),
      uidValidity: num(r.uid_validity),
      uidNext: num(r.uid_next) as Uid,
      highestModSeq: num(r.highest_modseq) as ModSeq,
      specialUse: r.special_use as string | null,
      objectId: r.object_id as string | null,
      firstRecentUid: num(r.first_recent_uid) as Uid,
    }),
  },
  messages: {
    // A composite blob (LMTP) brings its prefix and base along; a plain one joins nothing.
    from: `messages m LEFT JOIN blobs c ON c.blob_id = m.blob_id AND c.base_id IS NOT NULL
           LEFT JOIN blobs b ON b.blob_id = c.base_id`,
    columns: `m.account_id, m.mailbox_id, m.uid, m.modseq, m.system_flags, m.keywords, m.internal_date, m.save_date,
              m.size, m.blob_id, m.email_id, c.base_id, c.prefix, c.base_from, b.size AS base_size`,
    key: ['m.account_id', 'm.mailbox_id', 'm.uid'],
    toRecord: (r) => ({
      kind: 'message',
      ...inMailbox(r),
      uid: num(r.uid) as Uid,
      modseq: num(r.modseq) as ModSeq,
      flags: flagList(num(r.system_flags), text(r.keywords)),
      internalDate: time(r.internal_date),
      saveDate: time(r.save_date),
      size: num(r.size),
      blobId: text(r.blob_id),
      emailId: text(r.email_id),
      composite: r.base_id === null ? null : { baseId: text(r.base_id), baseSize: num(r.base_size), prefix: r.prefix as Buffer, baseFrom: num(r.base_from) },
    }),
  },
  tombstones: {
    from: 'expunged',
    columns: 'account_id, mailbox_id, modseq, uid',
    key: ['account_id', 'mailbox_id', 'modseq', 'uid'],
    toRecord: (r) => ({
      kind: 'tombstone',
      ...inMailbox(r),
      uid: num(r.uid) as Uid,
      modseq: num(r.modseq) as ModSeq,
    }),
  },
  importRecords: {
    from: 'import_records',
    columns: 'account_id, mailbox_id, source_key, uid',
    key: ['account_id', 'mailbox_id', 'source_key'],
    toRecord: (r) => ({
      kind: 'importRecord',
      ...inMailbox(r),
      sourceKey: text(r.source_key),
      uid: num(r.uid) as Uid,
    }),
  },
  syncStates: {
    from: 'sync_states',
    columns: 'account_id, mailbox_id, source, state',
    key: ['account_id', 'mailbox_id', 'source'],
    toRecord: (r) => ({
      kind: 'syncState',
      ...inMailbox(r),
      source: text(r.source),
      state: text(r.state),
    }),
  },
  metadata: {
    from: 'metadata',
    columns: 'account_id, mailbox_id, name, value',
    key: ['account_id', 'mailbox_id', 'name'],
    toRecord: (r) => ({
      kind: 'metadata',
      accountId: num(r.account_id) as AccountId,
      // Both schemas keep server-level entries under mailbox id 0 (no mailbox has it).
      mailboxId: num(r.mailbox_id) === 0 ? null : (num(r.mailbox_id) as MailboxId),
      name: text(r.name),
      value: r.value as Buffer,
    }),
  },
  sieveScripts: {
    from: 'sieve_scripts',
    columns: 'account_id, name, content, size, active, updated_at',
    key: ['account_id', 'name'],
    toRecord: (r) => ({
      kind: 'sieveScript',
      accountId: num(r.account_id) as AccountId,
      name: text(r.name),
      content: text(r.content),
      size: num(r.size),
      // SQLite stores 0/1, PostgreSQL a boolean.
      active: r.active === true || r.active === 1,
      updatedAt: time(r.updated_at),
    }),
  },
  scramKeys: {
    from: 'scram_keys',
    columns: 'account_id, hash, password_hash, salt, iterations, stored_key, server_key',
    key: ['account_id', 'hash'],
    toRecord: (r) => ({
      kind: 'scramKey',
      accountId: num(r.account_id) as AccountId,
      hash: text(r.hash) as ScramHash,
      passwordHash: text(r.password_hash),
      salt: r.salt as Buffer,
      iterations: num(r.iterations),
      storedKey: r.stored_key as Buffer,
      serverKey: r.server_key as Buffer,
    }),
  },
  sieveMemory: {
    from: 'sieve_memory',
    columns: 'account_id, kind, key, expires_at',
    key: ['account_id', 'kind', 'key'],
    toRecord: (r) => ({
      kind: 'sieveMemory',
      accountId: num(r.account_id) as AccountId,
      memory: text(r.kind) as SieveMemoryKind,
      key: text(r.key),
      expiresAt: time(r.expires_at),
    }),
  },
  adminUsers: {
    from: 'admin_users',
    columns: 'name, password_hash, totp_secret, created_at, last_totp_step',
    key: ['name'],
    toRecord: (r) => ({
      kind: 'adminUser',
      name: text(r.name),
      passwordHash: text(r.password_hash),
      totpSecret: text(r.totp_secret),
      createdAt: msTime(r.created_at),
      lastTotpStep: optional(r.last_totp_step, num),
    }),
  },
  apiTokens: {
    from: 'api_tokens',
    columns: 'name, token_hash, created_at, expires_at',
    key: ['name'],
    toRecord: (r) => ({
      kind: 'apiToken',
      name: text(r.name),
      tokenHash: text(r.token_hash),
      createdAt: msTime(r.created_at),
      expiresAt: optional(r.expires_at, msTime),
    }),
  },
  adminAudit: {
    from: 'admin_audit',
    columns: 'audit_id, at, actor, action, target, address, outcome',
    key: ['audit_id'],
    toRecord: (r) => ({
      kind: 'auditEntry',
      id: num(r.audit_id),
      at: msTime(r.at),
      actor: text(r.actor),
      action: text(r.action),
      target: r.target as string | null,
      address: text(r.address),
      outcome: text(r.outcome),
    }),
  },
  adminSignIns: {
    from: 'admin_sign_ins',
    columns: 'id_hash, user_name, csrf, expires_at',
    key: ['id_hash'],
    toRecord: (r) => ({ kind: 'adminSignIn', idHash: text(r.id_hash), user: text(r.user_name), csrf: text(r.csrf), expiresAt: msTime(r.expires_at) }),
  },
};

/** The tables of the installation-wide rows (no account owns them), children first: what a replacing copy clears. */
export const ADMIN_TABLES = ['admin_sign_ins', 'admin_users', 'api_tokens', 'admin_audit'] as const;

/** The SELECT of one page; `placeholder(i)` spells the backend's i-th parameter (1-based): the key values, then the limit. */
export function pageSql(section: PagedSection, hasAfter: boolean, placeholder: (i: number) => string): string {
  const s = SECTIONS[section];
  const keys = s.key.join(', ');
  const after = hasAfter ? `WHERE (${keys}) > (${s.key.map((_, i) => placeholder(i + 1)).join(', ')})` : '';
  return `SELECT ${s.columns} FROM ${s.from} ${after} ORDER BY ${keys} LIMIT ${placeholder(hasAfter ? s.key.length + 1 : 1)}`;
}

/** Maps a page's rows to records. */
export function pageRecords(section: PagedSection, rows: readonly Row[]): DumpRecord[] {
  return rows.map(SECTIONS[section].toRecord);
}

/** The key a page after this record starts from (the columns of SECTIONS[...].key, in order). */
export function keyOf(record: DumpRecord): DumpKey {
  switch (record.kind) {
    case 'account':
      return [record.id];
    case 'alias':
      return [record.address.toLowerCase()];
    case 'appPassword':
      return [record.accountId, record.id];
    case 'subscription':
      return [record.accountId, record.name];
    case 'mailbox':
      return [record.accountId, record.id];
    case 'message':
      return [record.accountId, record.mailboxId, record.uid];
    case 'tombstone':
      return [record.accountId, record.mailboxId, record.modseq, record.uid];
    case 'importRecord':
      return [record.accountId, record.mailboxId, record.sourceKey];
    case 'syncState':
      return [record.accountId, record.mailboxId, record.source];
    case 'metadata':
      return [record.accountId, record.mailboxId ?? 0, record.name];
    case 'sieveScript':
      return [record.accountId, record.name];
    case 'scramKey':
      return [record.accountId, record.hash];
    case 'sieveMemory':
      return [record.accountId, record.memory, record.key];
    case 'adminUser':
    case 'apiToken':
      return [record.name];
    case 'auditEntry':
      return [record.id];
    case 'adminSignIn':
      return [record.idHash];
    case 'counters':
      return [];
  }
}
