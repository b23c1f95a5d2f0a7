/**
 * The statements the PostgreSQL store runs inside its transactions: row
 * locks, UID and modseq allocation, tombstones, quota. Each function takes
 * the transaction's client; callers respect the lock order documented in
 * core.ts (account → mailboxes by id → counter → messages → blobs).
 */
import { uid as toUid } from '../../ids.js';
import type { AccountId, MailboxId, Uid } from '../../ids.js';
import type { ChangeNote } from '../../events/pg-bus.js';
import { IS_DELETED_SQL } from '../shared/flags.js';
import { StoreError, type CopyResult, type QuotaLimits, type StoreLimits } from '../types.js';
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import { BlobRefs } from './blob-refs.js';
import { KEPT_COLUMNS, RECORD_COLUMNS, type MailboxRow } from '../shared/rows.js';
import { countDelta, type NewRow, type RecordRow } from './rows.js';
import { firstOf, rowsOf, SCOPE, storable, type Client, type Queryable } from './sql.js';
import { newMailboxObjectId } from '../shared/names.js';
import { checkMailboxCount, checkMessageCount, checkQuota, keywordKeys, keywordRoomLeft, MAX_UID, tooManyKeywords } from '../shared/rules.js';

/** A mailbox row, unlocked; NONEXISTENT if missing. */
export async function requireMailbox(c: Queryable, accountId: number, id: number): Promise<MailboxRow> {
  const row = await firstOf<MailboxRow>(c, `SELECT * FROM mailboxes WHERE ${SCOPE}`, [accountId, id]);
  if (!row) throw new StoreError('NONEXISTENT', 'no such mailbox');
  return row;
}

/** Locks one mailbox row (writers of a mailbox serialize here); NONEXISTENT if missing. */
export async function lockMailbox(c: Client, accountId: number, id: number, mode: 'NO KEY UPDATE' | 'UPDATE' = 'NO KEY UPDATE'): Promise<MailboxRow> {
  const row = await firstOf<MailboxRow>(c, `SELECT * FROM mailboxes WHERE ${SCOPE} FOR ${mode}`, [accountId, id]);
  if (!row) throw new StoreError('NONEXISTENT', 'no such mailbox');
  return row;
}

/** Locks two mailboxes in id order (one row when they are the same); NONEXISTENT if either is missing. */
export async function lockPair(c: Client, accountId: number, from: number, to: number): Promise<{ src: MailboxRow; dst: MailboxRow }> {
  const locked = await rowsOf<MailboxRow>(
    c,
    'SELECT * FROM mailboxes WHERE account_id = $1 AND mailbox_id = ANY($2::bigint[]) ORDER BY mailbox_id FOR NO KEY UPDATE',
    [accountId, [from, to]],
  );
  const src = locked.find((mb) => mb.mailbox_id === from);
  const dst = locked.find((mb) => mb.mailbox_id === to);
  if (!src || !dst) throw new StoreError('NONEXISTENT', 'no such mailbox');
  return { src, dst };
}

/** ALREADYEXISTS if the account has a mailbox of that name. */
export async function refuseExisting(c: Client, accountId: number, name: string, text = 'mailbox exists'): Promise<void> {
  if (await firstOf(c, 'SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2', [accountId, name])) {
    throw new StoreError('ALREADYEXISTS', text);
  }
}

/** Raises the account's namespace counter in this transaction; the change to announce on its channel. */
export async function bumpNamespace(c: Client, accountId: AccountId): Promise<ChangeNote> {
  const row = await firstOf<{ version: number }>(
    c,
    `INSERT INTO namespace_versions (account_id, version) VALUES ($1, 1)
     ON CONFLICT (account_id) DO UPDATE SET version = namespace_versions.version + 1 RETURNING version`,
    [accountId],
  );
  if (!row) throw new Error('namespace version update returned nothing');
  return { accountId, mailboxId: ACCOUNT_CHANNEL, modseq: Number(row.version) };
}

/** Raises the installation's UIDVALIDITY counter to max(its value, floor) + n; returns the new value. */
export async function allocateUidValidity(c: Client, floor: number, n: number): Promise<number> {
  const row = await firstOf<{ value: number }>(
    c,
    `INSERT INTO counters (name, value) VALUES ('uid_validity', $1::bigint + $2)
     ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value, $1) + $2 RETURNING value`,
    [floor, n],
  );
  if (!row) throw new Error('counter allocation failed');
  return row.value;
}

/**
 * Creates mailboxes with fresh ids, fresh, increasing UIDVALIDITY values
 * (RFC 9051 §2.3.1.1) and random MAILBOXIDs (RFC 8474 §4).
 */
export async function insertMailboxes(c: Client, accountId: number, boxes: ReadonlyArray<{ name: string; specialUse: string | null }>): Promise<MailboxRow[]> {
  // One allocation for all: max(previous, now in seconds) + 1 … + n, increasing even across delete + recreate.
  const last = await allocateUidValidity(c, Math.floor(Date.now() / 1000), boxes.length);
  return rowsOf<MailboxRow>(
    c,
    `INSERT INTO mailboxes (account_id, mailbox_id, name, uid_validity, special_use, object_id)
     SELECT $1, nextval('mailbox_ids'), b.name, b.uid_validity, b.special_use, b.object_id
     FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS b (name, uid_validity, special_use, object_id)
     RETURNING *`,
    [
      accountId,
      boxes.map((b) => b.name),
      boxes.map((_, i) => last - boxes.length + 1 + i),
      boxes.map((b) => b.specialUse),
      boxes.map(() => newMailboxObjectId()),
    ],
  );
}

/**
 * RFC 5530 LIMIT when the account already holds as many mailboxes as it may.
 * The caller holds the account's namespace_versions row lock (bumpNamespace,
 * taken first by every CREATE and RENAME), so two creations cannot both
 * count the same number; READ COMMITTED lets this count see the other's commit.
 */
export async function checkMailboxRoom(c: Client, accountId: number, limits: StoreLimits): Promise<void> {
  if (limits.maxMailboxesPerAccount === 0) return;
  const row = await firstOf<{ n: number }>(c, 'SELECT count(*)::int AS n FROM mailboxes WHERE account_id = $1', [accountId]);
  checkMailboxCount(limits, row?.n ?? 0);
}

/**
 * Records the keywords (keys: lower-cased) a write brings into a mailbox
 * whose row this transaction has locked, so concurrent writers of the
 * mailbox count one after the other. RFC 9051 §7.1: when that would make
 * the mailbox define more than its limit, keywords no live message carries
 * any more are dropped first (a scan of the mailbox, only when it is full);
 * if it is still full, LIMIT.
 */
export async function defineKeywords(c: Client, accountId: number, mailboxId: number, keys: readonly string[], limits: StoreLimits): Promise<void> {
  if (keys.length === 0) return;
  const missing = (
    await rowsOf<{ keyword: string }>(
      c,
      `SELECT DISTINCT k.keyword FROM unnest($3::text[]) AS k (keyword)
       WHERE NOT EXISTS (SELECT 1 FROM mailbox_keywords d WHERE d.account_id = $1 AND d.mailbox_id = $2 AND d.keyword = k.keyword)`,
      [accountId, mailboxId, keys],
    )
  ).map((r) => r.keyword);
  if (missing.length === 0) return;
  const count = async () => (await firstOf<{ n: number }>(c, `SELECT count(*)::int AS n FROM mailbox_keywords WHERE ${SCOPE}`, [accountId, mailboxId]))?.n ?? 0;
  if (!keywordRoomLeft(limits, await count(), missing.length)) {
    const texts = await rowsOf<{ keywords: string }>(c, `SELECT DISTINCT keywords FROM messages WHERE ${SCOPE} AND keywords <> ''`, [accountId, mailboxId]);
    const used = keywordKeys(texts.map((t) => t.keywords));
    await c.query(`DELETE FROM mailbox_keywords WHERE ${SCOPE} AND NOT (keyword = ANY($3::text[]))`, [accountId, mailboxId, used]);
    if (!keywordRoomLeft(limits, await count(), missing.length)) throw tooManyKeywords(limits);
  }
  await c.query('INSERT INTO mailbox_keywords (account_id, mailbox_id, keyword) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING', [
    accountId,
    mailboxId,
    missing,
  ]);
}

/**
 * RFC 9208 §4.3.1 step one: reads the account's limits and, when it has
 * any, locks the account row, so concurrent changes to different mailboxes
 * cannot both slip under a limit. Called before any mailbox lock (lock
 * order). Null when the account is unlimited.
 */
export async function lockQuota(c: Client, accountId: number): Promise<QuotaLimits | null> {
  const sql = 'SELECT quota_storage AS storage, quota_messages AS messages FROM accounts WHERE account_id = $1';
  let limits = await firstOf<QuotaLimits>(c, sql, [accountId]);
  if (limits && limits.storage === null && limits.messages === null) return null;
  limits = await firstOf<QuotaLimits>(c, `${sql} FOR NO KEY UPDATE`, [accountId]);
  if (!limits) throw new StoreError('NONEXISTENT', 'no such account');
  return limits;
}

/** RFC 9208 §4.3.1 step two: checkQuota (../shared/rules.ts) against the account's current usage. */
export async function enforceQuota(c: Client, accountId: number, limits: QuotaLimits | null, addMessages: number, addBytes: number): Promise<void> {
  if (!limits) return;
  const usage = await firstOf<{ storage: number; messages: number }>(
    c,
    `SELECT coalesce(sum(total_size), 0)::bigint AS storage, coalesce(sum(message_count), 0)::bigint AS messages
     FROM mailboxes WHERE account_id = $1`,
    [accountId],
  );
  checkQuota(limits, usage ?? { storage: 0, messages: 0 }, addMessages, addBytes);
}

/**
 * Inserts rows under one new modseq with ascending new UIDs, updating the
 * mailbox's uid_next, highest_modseq and counts in the same statement that
 * locks it. UIDs are consecutive from uid_next, except that a row's
 * `wanted` UID (import) is taken when it is not below the next free one;
 * that needs the current uid_next first, so the caller passes `locked`.
 * Returns the mailbox row as updated and the UIDs.
 */
export async function insertRows(
  c: Client,
  accountId: number,
  id: number,
  rows: readonly NewRow[],
  limits: StoreLimits,
  leaving: number,
  wanted?: ReadonlyArray<number | undefined>,
  locked?: MailboxRow,
): Promise<{ mb: MailboxRow; uids: number[] }> {
  let next = 0;
  let planned: number[] | null = null;
  if (wanted && locked) {
    next = locked.uid_next;
    planned = rows.map((_, i) => {
      const w = wanted[i];
      const u = w !== undefined && w >= next ? w : next;
      // RFC 9051 §2.3.1.1: UIDs only grow and never exceed 2^32-1.
      if (u > MAX_UID) throw new StoreError('LIMIT', 'mailbox UID space exhausted');
      next = u + 1;
      return u;
    });
  }
  const d = countDelta(rows, 1, 0);
  const mb = await firstOf<MailboxRow>(
    c,
    `UPDATE mailboxes SET uid_next = greatest(uid_next + $3, $7), highest_modseq = highest_modseq + 1,
       message_count = message_count + $3, total_size = total_size + $4, unseen_count = unseen_count + $5,
       deleted_count = deleted_count + $6, recent_count = recent_count + $3
     WHERE ${SCOPE} AND uid_next + $3 - 1 <= ${MAX_UID} AND ($8::bigint = 0 OR message_count - $9::bigint + $3 <= $8) RETURNING *`,
    [accountId, id, rows.length, d.size, d.unseen, d.deleted, next, limits.maxMessagesPerMailbox, leaving],
  );
  if (!mb) {
    // The row lock re-evaluated the condition on the latest row: concurrent appends cannot overshoot.
    const current = await requireMailbox(c, accountId, id);
    checkMessageCount(limits, current.message_count - leaving, rows.length);
    throw new StoreError('LIMIT', 'mailbox UID space exhausted');
  }
  // After the UPDATE: this transaction holds the mailbox's row lock.
  await defineKeywords(c, accountId, id, keywordKeys(rows.map((r) => r.keywords)), limits);
  const uids = planned ?? rows.map((_, i) => mb.uid_next - rows.length + i);
  await insertMessageRows(
    c,
    uids.map((uid, i) => ({ accountId, mailboxId: id, uid, modseq: mb.highest_modseq, row: rows[i]! })),
  );
  return { mb, uids };
}

/** A message row to insert: where it goes, its UID and modseq, and its columns. */
export interface PlacedRow {
  accountId: number;
  mailboxId: number;
  uid: number;
  modseq: number;
  row: NewRow;
}

/** Inserts message rows in one statement (appends, copies and store restore). */
export async function insertMessageRows(c: Client, placed: readonly PlacedRow[]): Promise<void> {
  const rows = placed.map((p) => p.row);
  await c.query(
    `INSERT INTO messages (account_id, mailbox_id, uid, modseq, system_flags, keywords, internal_date, save_date, size, blob_id, email_id)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::smallint[], $6::text[],
                          $7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::text[], $11::text[])`,
    [
      placed.map((p) => p.accountId),
      placed.map((p) => p.mailboxId),
      placed.map((p) => p.uid),
      placed.map((p) => p.modseq),
      rows.map((r) => r.system_flags),
      rows.map((r) => r.keywords),
      rows.map((r) => r.internal_date),
      rows.map((r) => r.save_date),
      rows.map((r) => r.size),
      rows.map((r) => r.blob_id),
      rows.map((r) => r.email_id),
    ],
  );
}

/**
 * Turns messages into held tombstones under one new modseq (the mailbox
 * row `mb` is locked and current); `deletedOnly` limits it to \Deleted
 * ones (EXPUNGE). The tombstones take over the blob references. Returns
 * the removed UIDs ascending and the modseq (unchanged if none).
 */
export async function removeMessages(
  c: Client,
  accountId: number,
  mb: MailboxRow,
  uids: readonly number[] | null,
  deletedOnly: boolean,
): Promise<{ uids: number[]; modseq: number }> {
  const modseq = mb.highest_modseq + 1;
  const conditions = [SCOPE, ...(deletedOnly ? [IS_DELETED_SQL] : []), ...(uids ? ['uid = ANY($5::bigint[])'] : [])];
  const gone = await rowsOf<{ uid: number; system_flags: number; size: number }>(
    c,
    `WITH gone AS (DELETE FROM messages WHERE ${conditions.join(' AND ')} RETURNING *),
     held AS (INSERT INTO expunged (account_id, mailbox_id, modseq, expunged_at, uid, ${KEPT_COLUMNS})
              SELECT account_id, mailbox_id, $3, $4, uid, ${KEPT_COLUMNS} FROM gone)
     SELECT uid, system_flags, size FROM gone ORDER BY uid`,
    [accountId, mb.mailbox_id, modseq, new Date(), ...(uids ? [uids] : [])],
  );
  if (gone.length === 0) return { uids: [], modseq: mb.highest_modseq };
  const d = countDelta(gone, -1, mb.first_recent_uid);
  await c.query(
    `UPDATE mailboxes SET highest_modseq = $3, message_count = message_count + $4, total_size = total_size + $5,
       unseen_count = unseen_count + $6, deleted_count = deleted_count + $7, recent_count = recent_count + $8
     WHERE ${SCOPE}`,
    [accountId, mb.mailbox_id, modseq, d.messages, d.size, d.unseen, d.deleted, d.recent],
  );
  return { uids: gone.map((g) => g.uid), modseq };
}

/** Deletes the message rows and tombstones of one mailbox (or all of an account's); returns the dropped blob references. */
export async function dropMessages(c: Client, accountId: number, mailboxId: number | null): Promise<BlobRefs> {
  const scope = mailboxId === null ? 'account_id = $1' : SCOPE;
  const rows = await rowsOf<{ blob_id: string; n: number }>(
    c,
    `WITH m AS (DELETE FROM messages WHERE ${scope} RETURNING blob_id),
          e AS (DELETE FROM expunged WHERE ${scope} RETURNING blob_id)
     SELECT blob_id, count(*) AS n FROM (SELECT blob_id FROM m UNION ALL SELECT blob_id FROM e WHERE blob_id IS NOT NULL) r
     GROUP BY blob_id`,
    mailboxId === null ? [accountId] : [accountId, mailboxId],
  );
  const refs = new BlobRefs();
  for (const r of rows) refs.add(r.blob_id, -r.n);
  return refs;
}

/** The live messages among `uids`, ascending by UID. */
export async function recordsOf(c: Client, accountId: number, id: number, uids: readonly number[]): Promise<RecordRow[]> {
  return rowsOf<RecordRow>(c, `SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} AND uid = ANY($3::bigint[]) ORDER BY uid`, [accountId, id, uids]);
}

/** The UIDs recorded for the given import source keys (store importMessages). */
export async function importedUids(c: Queryable, accountId: number, id: number, keys: readonly string[]): Promise<Map<string, Uid>> {
  const out = new Map<string, Uid>();
  const wanted = keys.filter(storable);
  if (wanted.length === 0) return out;
  const rows = await rowsOf<{ source_key: string; uid: number }>(
    c,
    `SELECT source_key, uid FROM import_records WHERE ${SCOPE} AND source_key = ANY($3::text[])`,
    [accountId, id, wanted],
  );
  for (const row of rows) out.set(row.source_key, toUid(row.uid));
  return out;
}

/** COPY (RFC 9051 §6.4.7) or MOVE (RFC 6851): destination UIDs consecutive, in source-UID order. */
export async function transfer(c: Client, accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId, move: boolean, counts: StoreLimits) {
  // Lock order: the account if COPY is subject to a quota, then both mailboxes by id.
  const limits = move ? null : await lockQuota(c, accountId);
  const { src, dst } = await lockPair(c, accountId, from, to);
  const rows = uids.length === 0 ? [] : await recordsOf(c, accountId, from, uids);
  return transferRows(c, accountId, src, rows, dst, move, limits, counts);
}

/** Inserts copies of `rows` into `dst` (both mailboxes locked) and, for MOVE, turns the sources into tombstones. */
export async function transferRows(
  c: Client,
  accountId: AccountId,
  src: MailboxRow,
  rows: readonly RecordRow[],
  dst: MailboxRow,
  move: boolean,
  limits: QuotaLimits | null,
  counts: StoreLimits,
): Promise<[{ result: CopyResult; sourceModseq: number }, ChangeNote[]]> {
  const sourceUids = rows.map((r) => toUid(r.uid));
  if (rows.length === 0) {
    return [{ result: { uidValidity: dst.uid_validity, sourceUids, destUids: [] }, sourceModseq: src.highest_modseq }, []];
  }
  // MOVE within one account leaves usage unchanged (RFC 9208 §5 applies to COPY).
  if (!move)
    await enforceQuota(
      c,
      accountId,
      limits,
      rows.length,
      rows.reduce((sum, r) => sum + r.size, 0),
    );
  // RFC 8514: the save date is the time the message arrived in this mailbox; RFC 8474: EMAILID is kept.
  const now = new Date();
  const copied = await insertRows(
    c,
    accountId,
    dst.mailbox_id,
    rows.map((r) => ({ ...r, save_date: now })),
    counts,
    // A MOVE within one mailbox removes as many as it inserts.
    move && src.mailbox_id === dst.mailbox_id ? rows.length : 0,
  );
  const wakes: ChangeNote[] = [{ accountId, mailboxId: dst.mailbox_id as MailboxId, modseq: copied.mb.highest_modseq }];
  let sourceModseq = src.highest_modseq;
  if (move) {
    // When source and destination are the same mailbox, the insert raised its modseq.
    const current = src.mailbox_id === dst.mailbox_id ? copied.mb : src;
    sourceModseq = (await removeMessages(c, accountId, current, sourceUids, false)).modseq;
    wakes.push({ accountId, mailboxId: src.mailbox_id as MailboxId, modseq: sourceModseq });
  }
  // Each copy is a new reference; a moved message's old reference passes to its tombstone.
  await new BlobRefs().addRows(rows, 1).apply(c);
  return [{ result: { uidValidity: dst.uid_validity, sourceUids, destUids: copied.uids.map(toUid) }, sourceModseq }, wakes];
}

/**
 * RFC 9051 §6.3.6: renaming INBOX moves all its messages to a new mailbox of
 * the new name (fresh UIDVALIDITY) and leaves INBOX existing and empty;
 * INBOX's inferiors are unaffected. RFC 5464 §4.1: INBOX keeps its
 * annotations and the new mailbox gets a copy.
 */
export async function renameInbox(c: Client, accountId: AccountId, inbox: MailboxRow, target: string, counts: StoreLimits): Promise<ChangeNote[]> {
  await checkMailboxRoom(c, accountId, counts);
  const [dst] = await insertMailboxes(c, accountId, [{ name: target, specialUse: null }]);
  if (!dst) throw new Error('mailbox insert returned nothing');
  await c.query(`INSERT INTO metadata (account_id, mailbox_id, name, value) SELECT account_id, $3, name, value FROM metadata WHERE ${SCOPE}`, [
    accountId,
    inbox.mailbox_id,
    dst.mailbox_id,
  ]);
  const rows = await rowsOf<RecordRow>(c, `SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} ORDER BY uid`, [accountId, inbox.mailbox_id]);
  const [, wakes] = await transferRows(c, accountId, inbox, rows, dst, true, null, counts);
  return wakes;
}
