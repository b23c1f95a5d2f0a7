/**
 * Row shapes of the PostgreSQL store and their mapping to the public types.
 * bigint columns arrive as numbers (pool.ts), timestamptz as Date.
 */
import type { AccountId, MailboxId } from '../../ids.js';
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import { DELETED, flagList, SEEN } from '../sqlite/flags.js';
import type { Account, Mailbox, MessageRecord, MessageSummary } from '../types.js';

/** An accounts row. */
export interface AccountRow {
  account_id: number;
  name: string;
  password_hash: string;
  created_at: Date;
  quota_storage: number | null;
  quota_messages: number | null;
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
export interface RecordRow extends FlagRow {
  internal_date: Date;
  save_date: Date;
  blob_id: string;
  email_id: string;
}

/** A message row about to be inserted (append, copy, move, replace, import). */
export type NewRow = Omit<RecordRow, 'uid' | 'modseq'>;

/** What a held tombstone keeps of a message besides uid and modseq. */
export const KEPT_COLUMNS = 'system_flags, keywords, size, internal_date, save_date, blob_id, email_id';
/** The columns of a RecordRow. */
export const RECORD_COLUMNS = `uid, modseq, ${KEPT_COLUMNS}`;

/** Changes to a mailbox's aggregate columns. */
export interface CountDelta {
  messages: number;
  size: number;
  unseen: number;
  deleted: number;
  recent: number;
}

/** Maps an accounts row. */
export function toAccount(row: AccountRow): Account {
  return {
    id: row.account_id as AccountId,
    name: row.name,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
    quotaStorage: row.quota_storage,
    quotaMessages: row.quota_messages,
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
  };
}

/** Maps the flag columns of a message. */
export function toSummary(row: FlagRow): MessageSummary {
  return { uid: toUid(row.uid), modseq: toModSeq(row.modseq), flags: flagList(row.system_flags, row.keywords), size: row.size };
}

/** Maps a message or held tombstone. */
export function toRecord(row: RecordRow): MessageRecord {
  return { ...toSummary(row), internalDate: row.internal_date, saveDate: row.save_date, blobId: row.blob_id, emailId: row.email_id };
}

/**
 * Count deltas of adding (sign 1) or removing (sign -1) rows. A row counts as
 * recent when its UID is at or above `firstRecent`; rows without a UID are
 * new, and new UIDs are never below first_recent_uid (it never exceeds uid_next).
 */
export function countDelta(rows: readonly { uid?: number; system_flags: number; size: number }[], sign: 1 | -1, firstRecent: number): CountDelta {
  const d: CountDelta = { messages: 0, size: 0, unseen: 0, deleted: 0, recent: 0 };
  for (const r of rows) {
    d.messages += sign;
    d.size += sign * r.size;
    if ((r.system_flags & SEEN) === 0) d.unseen += sign;
    if ((r.system_flags & DELETED) !== 0) d.deleted += sign;
    if (r.uid === undefined || r.uid >= firstRecent) d.recent += sign;
  }
  return d;
}
