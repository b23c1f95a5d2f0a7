/**
 * Row shapes both backends read, and their mapping to the public types. Times
 * are the one difference: SQLite stores ms since the epoch (T = number),
 * PostgreSQL returns timestamptz as Date (T = Date).
 */
import type { AccountId, MailboxId } from '../../ids.js';
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { AppPassword } from '../app-password-types.js';
import type { Account, Mailbox, MessageRecord, MessageSummary } from '../types.js';
import { flagList } from './flags.js';

/** A stored time: ms since the epoch (SQLite) or a Date (PostgreSQL). */
export type StoredTime = number | Date;

/** An accounts row. */
export interface AccountRow<T extends StoredTime> {
  account_id: number;
  name: string;
  password_hash: string;
  created_at: T;
  quota_storage: number | null;
  quota_messages: number | null;
  /** 0/1 in SQLite, a boolean in PostgreSQL. */
  disabled: number | boolean;
  last_login_at: T | null;
  last_login_protocol: string | null;
  last_login_address: string | null;
  /** 0/1 in SQLite, a boolean in PostgreSQL. */
  require_app_passwords: number | boolean;
}

/** A mailboxes row. */
export interface MailboxRow {
  account_id: number;
  mailbox_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  special_use: string | null;
  /** RFC 8474 MAILBOXID stored at creation; NULL for older mailboxes (derived instead). */
  object_id: string | null;
  first_recent_uid: number;
  message_count: number;
  total_size: number;
  unseen_count: number;
  deleted_count: number;
  recent_count: number;
}

/** The flag columns of a messages row. */
export interface FlagRow {
  uid: number;
  modseq: number;
  system_flags: number;
  keywords: string;
  size: number;
}

/** The columns needed to report or copy a message. */
export interface RecordRow<T extends StoredTime> extends FlagRow {
  internal_date: T;
  save_date: T;
  blob_id: string;
  email_id: string;
}

/** A message row about to be inserted (append, copy, move, replace, import). */
export type NewRow<T extends StoredTime> = Omit<RecordRow<T>, 'uid' | 'modseq'>;

/** What a held tombstone keeps of a message besides uid and modseq. */
export const KEPT_COLUMNS = 'system_flags, keywords, size, internal_date, save_date, blob_id, email_id';
/** The columns of a RecordRow. */
export const RECORD_COLUMNS = `uid, modseq, ${KEPT_COLUMNS}`;

/** A Date as read: PostgreSQL's Date passes through, SQLite's ms become one. */
function toDate(time: StoredTime): Date {
  return typeof time === 'number' ? new Date(time) : time;
}

/** Maps an accounts row. */
export function toAccount(row: AccountRow<StoredTime>): Account {
  return {
    id: row.account_id as AccountId,
    name: row.name,
    passwordHash: row.password_hash,
    createdAt: toDate(row.created_at),
    quotaStorage: row.quota_storage,
    quotaMessages: row.quota_messages,
    disabled: Boolean(row.disabled),
    requireAppPasswords: Boolean(row.require_app_passwords),
    lastLogin:
      row.last_login_at === null ? null : { at: toDate(row.last_login_at), protocol: row.last_login_protocol ?? '', address: row.last_login_address ?? '' },
  };
}

/** Maps a mailboxes row. */
export function toMailbox(row: MailboxRow): Mailbox {
  return {
    id: row.mailbox_id as MailboxId,
    accountId: row.account_id as AccountId,
    name: row.name,
    uidValidity: row.uid_validity,
    uidNext: toUid(row.uid_next),
    highestModSeq: toModSeq(row.highest_modseq),
    specialUse: row.special_use,
    objectId: row.object_id,
  };
}

/** Maps the flag columns of a message. */
export function toSummary(row: FlagRow): MessageSummary {
  return { uid: toUid(row.uid), modseq: toModSeq(row.modseq), flags: flagList(row.system_flags, row.keywords), size: row.size };
}

/** Maps a message or held tombstone. */
export function toRecord(row: RecordRow<StoredTime>): MessageRecord {
  return {
    ...toSummary(row),
    internalDate: toDate(row.internal_date),
    saveDate: toDate(row.save_date),
    blobId: row.blob_id,
    emailId: row.email_id,
  };
}

/** An app_passwords row (SQLite stores times as epoch ms, PostgreSQL as timestamptz). */
export interface AppPasswordRow<T extends StoredTime> {
  app_password_id: number;
  account_id: number;
  name: string;
  lookup: string;
  password_hash: string;
  /** Space-separated protocol names. */
  protocols: string;
  created_at: T;
  expires_at: T | null;
  revoked_at: T | null;
  last_used_at: T | null;
  last_used_protocol: string | null;
  last_used_address: string | null;
}

/** Maps an app_passwords row. */
export function toAppPassword(row: AppPasswordRow<StoredTime>): AppPassword {
  return {
    id: row.app_password_id,
    accountId: row.account_id as AccountId,
    name: row.name,
    lookup: row.lookup,
    hash: row.password_hash,
    protocols: row.protocols === '' ? [] : row.protocols.split(' '),
    createdAt: toDate(row.created_at),
    expiresAt: row.expires_at === null ? null : toDate(row.expires_at),
    revokedAt: row.revoked_at === null ? null : toDate(row.revoked_at),
    lastUsed: row.last_used_at === null ? null : { at: toDate(row.last_used_at), protocol: row.last_used_protocol ?? '', address: row.last_used_address ?? '' },
  };
}
