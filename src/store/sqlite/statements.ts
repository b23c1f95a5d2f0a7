/**
 * Every SQL statement the SQLite store runs, prepared once per connection.
 * Row shapes are declared beside them (the common ones, and their mapping to
 * the public types, in ../shared/rows.ts). Every message/mailbox statement is
 * scoped by account_id.
 */
import type Database from 'better-sqlite3';
import { IS_DELETED_SQL } from '../shared/flags.js';
import type { AccountRow as SharedAccountRow, FlagRow, MailboxRow, NewRow as SharedNewRow, RecordRow as SharedRecordRow } from '../shared/rows.js';
import { KEPT_COLUMNS, RECORD_COLUMNS } from '../shared/rows.js';

/** An accounts row as SQLite stores it (times in ms). */
export type AccountRow = SharedAccountRow<number>;
/** A messages row as SQLite stores it (times in ms). */
export type RecordRow = SharedRecordRow<number>;
/** A message row about to be inserted (append, copy, move). */
export type NewRow = SharedNewRow<number>;

/** An aliases row. */
export interface AliasRow {
  address: string;
  account_id: number;
}

/** What getAnalysis reads of a blobs row: a composite's base, prefix and offset, or the analysis itself. */
export interface AnalysisRow {
  analysis: string;
  base_id: string | null;
  prefix: Buffer | null;
  base_from: number;
}

/** A summary row as a positional tuple (raw mode: the 100k-row path). */
export type SummaryTuple = [uid: number, modseq: number, systemFlags: number, keywords: string, size: number];

/** Quota limits and current usage of an account. */
export interface UsageRow {
  quota_storage: number | null;
  quota_messages: number | null;
  storage: number;
  messages: number;
}

type Key = [accountId: number, mailboxId: number];
const SCOPE = 'account_id = ? AND mailbox_id = ?';
const IN_UIDS = 'uid IN (SELECT value FROM json_each(?))';

/** Prepares all statements of the store on one connection. */
export function prepareStatements(db: Database.Database) {
  return {
    /** Changes whenever another connection commits (the cross-process poller's trigger). */
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),

    // Accounts
    insertAccount: db.prepare<[name: string, key: string, hash: string, createdAt: number], AccountRow>(
      'INSERT INTO accounts (name, name_key, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING *',
    ),
    accountByKey: db.prepare<[key: string], AccountRow>('SELECT * FROM accounts WHERE name_key = ?'),
    accountById: db.prepare<[accountId: number], AccountRow>('SELECT * FROM accounts WHERE account_id = ?'),
    allAccounts: db.prepare<[], AccountRow>('SELECT * FROM accounts ORDER BY name_key'),
    setPassword: db.prepare<[hash: string, accountId: number]>('UPDATE accounts SET password_hash = ? WHERE account_id = ?'),
    upgradePassword: db.prepare<[to: string, accountId: number, from: string]>(
      'UPDATE accounts SET password_hash = ? WHERE account_id = ? AND password_hash = ?',
    ),
    setDisabled: db.prepare<[disabled: number, accountId: number]>('UPDATE accounts SET disabled = ? WHERE account_id = ?'),
    recordLogin: db.prepare<[at: number, protocol: string, address: string, accountId: number]>(
      'UPDATE accounts SET last_login_at = ?, last_login_protocol = ?, last_login_address = ? WHERE account_id = ?',
    ),
    setQuota: db.prepare<[storage: number | null, messages: number | null, accountId: number]>(
      'UPDATE accounts SET quota_storage = ?, quota_messages = ? WHERE account_id = ?',
    ),
    deleteAccount: db.prepare<[accountId: number]>('DELETE FROM accounts WHERE account_id = ?'),
    usage: db.prepare<[accountId: number], UsageRow>(
      `SELECT a.quota_storage, a.quota_messages,
              coalesce(sum(m.total_size), 0) AS storage, coalesce(sum(m.message_count), 0) AS messages
       FROM accounts a LEFT JOIN mailboxes m ON m.account_id = a.account_id
       WHERE a.account_id = ? GROUP BY a.account_id`,
    ),
    // Installation-wide allocators: the next value is max(previous, floor) + 1.
    nextCounter: db
      .prepare<{ name: string; floor: number }, number>(
        `INSERT INTO counters (account_id, name, value) VALUES (0, @name, @floor + 1)
         ON CONFLICT (account_id, name) DO UPDATE SET value = max(value, @floor) + 1
         RETURNING value`,
      )
      .pluck(),

    // Mailboxes
    insertMailbox: db.prepare<
      [accountId: number, mailboxId: number, name: string, uidValidity: number, specialUse: string | null, objectId: string],
      MailboxRow
    >('INSERT INTO mailboxes (account_id, mailbox_id, name, uid_validity, special_use, object_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING *'),
    mailboxCount: db.prepare<[accountId: number], number>('SELECT count(*) FROM mailboxes WHERE account_id = ?').pluck(),
    mailboxById: db.prepare<Key, MailboxRow>(`SELECT * FROM mailboxes WHERE ${SCOPE}`),
    mailboxByName: db.prepare<[accountId: number, name: string], MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?'),
    mailboxesOf: db.prepare<[accountId: number], MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? ORDER BY name'),
    /** Names strictly between `x/` and `x0` are exactly the inferiors of x ('0' follows '/'). */
    inferiors: db.prepare<[accountId: number, low: string, high: string], MailboxRow>(
      'SELECT * FROM mailboxes WHERE account_id = ? AND name > ? AND name < ? ORDER BY name',
    ),
    renameMailbox: db.prepare<[name: string, ...Key]>(`UPDATE mailboxes SET name = ? WHERE ${SCOPE}`),
    deleteMailbox: db.prepare<Key>(`DELETE FROM mailboxes WHERE ${SCOPE}`),
    advanceMailbox: db.prepare<[uidNext: number, modseq: number, ...Key]>(`UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE ${SCOPE}`),
    setModseq: db.prepare<[modseq: number, ...Key]>(`UPDATE mailboxes SET highest_modseq = ? WHERE ${SCOPE}`),
    /** Every message below uid_next has been claimed: none is recent any more. */
    claimRecent: db.prepare<Key>(`UPDATE mailboxes SET first_recent_uid = uid_next, recent_count = 0 WHERE ${SCOPE}`),
    /** Argument: JSON array of [accountId, mailboxId] pairs. */
    modseqsOf: db.prepare<[pairs: string], { account_id: number; mailbox_id: number; highest_modseq: number }>(
      `SELECT m.account_id, m.mailbox_id, m.highest_modseq
       FROM json_each(?) j JOIN mailboxes m ON m.account_id = j.value ->> 0 AND m.mailbox_id = j.value ->> 1`,
    ),
    /** The account channel (events/change-bus.ts ACCOUNT_CHANNEL): a per-account counter raised by every namespace change. */
    bumpNamespace: db
      .prepare<[accountId: number], number>(
        `INSERT INTO counters (account_id, name, value) VALUES (?, 'namespace', 1)
         ON CONFLICT (account_id, name) DO UPDATE SET value = value + 1 RETURNING value`,
      )
      .pluck(),
    /** Argument: JSON array of account ids; 0 for an account whose namespace never changed, absent for a deleted one. */
    namespaceVersionsOf: db.prepare<[accounts: string], { account_id: number; value: number }>(
      `SELECT a.account_id, coalesce(c.value, 0) AS value
       FROM json_each(?) j JOIN accounts a ON a.account_id = j.value
       LEFT JOIN counters c ON c.account_id = a.account_id AND c.name = 'namespace'`,
    ),

    // Subscriptions
    subscribe: db.prepare<[accountId: number, name: string]>('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)'),
    unsubscribe: db.prepare<[accountId: number, name: string]>('DELETE FROM subscriptions WHERE account_id = ? AND name = ?'),
    subscriptions: db.prepare<[accountId: number], string>('SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name').pluck(),
    subscriptionsUnder: db
      .prepare<[accountId: number, name: string, low: string, high: string], string>(
        'SELECT name FROM subscriptions WHERE account_id = ? AND (name = ? OR (name > ? AND name < ?))',
      )
      .pluck(),

    // Blobs (shared across accounts: see schema.ts)
    blobExists: db.prepare<[blobId: string], number>('SELECT 1 FROM blobs WHERE blob_id = ?').pluck(),
    insertBlob: db.prepare<[blobId: string, size: number, analysis: string]>('INSERT INTO blobs (blob_id, size, refcount, analysis) VALUES (?, ?, 0, ?)'),
    insertFacts: db.prepare<[blobId: string, facts: string]>('INSERT INTO blob_facts (blob_id, facts) VALUES (?, ?)'),
    analysis: db.prepare<[blobId: string], string>('SELECT analysis FROM blobs WHERE blob_id = ?').pluck(),
    analysisRow: db.prepare<[blobId: string], AnalysisRow>('SELECT analysis, base_id, prefix, base_from FROM blobs WHERE blob_id = ?'),
    /** A composite row (schema.ts deliverySupport); its reference on the base is kept by a trigger. */
    insertComposite: db.prepare<[blobId: string, size: number, baseId: string, prefix: Buffer, baseFrom: number]>(
      "INSERT INTO blobs (blob_id, size, refcount, analysis, base_id, prefix, base_from) VALUES (?, ?, 0, '', ?, ?, ?)",
    ),
    /**
     * Stored header facts (schema.ts migration 7) by blob id; argument: a JSON array of ids. A
     * composite's are its base's, looked up (a small row) only when the id has none of its own,
     * unless it replaced the base's header (base_from > 0, schema.ts compositeOffsets).
     */
    headerFacts: db
      .prepare<[blobIdsJson: string], [blobId: string, facts: string]>(
        `SELECT j.value, coalesce(f.facts,
                  (SELECT bf.facts FROM blobs c JOIN blob_facts bf ON bf.blob_id = c.base_id
                   WHERE c.blob_id = j.value AND c.base_from = 0)) AS known
         FROM json_each(?) j LEFT JOIN blob_facts f ON f.blob_id = j.value
         WHERE known IS NOT NULL`,
      )
      .raw(),
    /** Kept to a composite's base (with the base's header), and to blobs still there; facts of a higher version `v` stay. */
    saveHeaderFacts: db.prepare<[{ blobId: string; facts: string; version: number }]>(
      `INSERT INTO blob_facts (blob_id, facts)
         SELECT blob_id, @facts FROM blobs
         WHERE blob_id = coalesce((SELECT base_id FROM blobs WHERE blob_id = @blobId AND base_from = 0), @blobId)
       ON CONFLICT (blob_id) DO UPDATE SET facts = excluded.facts
         WHERE (CASE WHEN json_valid(blob_facts.facts) AND json_type(blob_facts.facts, '$.v') = 'integer'
                THEN json_extract(blob_facts.facts, '$.v') ELSE 0 END) < @version`,
    ),
    compositeParts: db.prepare<[blobId: string], { base_id: string; prefix: Buffer; base_from: number }>(
      'SELECT base_id, prefix, base_from FROM blobs WHERE blob_id = ? AND base_id IS NOT NULL',
    ),

    // Aliases (installation-wide, keyed by lower-cased address)
    insertAlias: db.prepare<[key: string, address: string, accountId: number, createdAt: number]>(
      'INSERT INTO aliases (address_key, address, account_id, created_at) VALUES (?, ?, ?, ?)',
    ),
    deleteAlias: db.prepare<[key: string]>('DELETE FROM aliases WHERE address_key = ?'),
    aliasByKey: db.prepare<[key: string], AliasRow>('SELECT address, account_id FROM aliases WHERE address_key = ?'),
    allAliases: db.prepare<[], AliasRow>('SELECT address, account_id FROM aliases ORDER BY address_key'),
    garbage: db.prepare<[limit: number], string>('SELECT blob_id FROM blobs WHERE refcount = 0 LIMIT ?').pluck(),
    deleteGarbage: db.prepare<[blobId: string]>('DELETE FROM blobs WHERE blob_id = ? AND refcount = 0'),
    /** Of a JSON array of blob ids, those without a row (files a failed APPEND or delivery left behind). */
    unknownBlobs: db.prepare<[ids: string], string>('SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE blob_id = value)').pluck(),

    // Messages
    insertMessage: db.prepare<
      [
        ...Key,
        uid: number,
        modseq: number,
        systemFlags: number,
        keywords: string,
        internalDate: number,
        saveDate: number,
        size: number,
        blobId: string,
        emailId: string,
      ]
    >(
      `INSERT INTO messages (account_id, mailbox_id, uid, modseq, system_flags, keywords, internal_date, save_date, size, blob_id, email_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    summaries: db.prepare<Key, SummaryTuple>(`SELECT uid, modseq, system_flags, keywords, size FROM messages WHERE ${SCOPE} ORDER BY uid`).raw(),
    records: db.prepare<[...Key, uidsJson: string], RecordRow>(`SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} AND ${IN_UIDS} ORDER BY uid`),
    allRecords: db.prepare<Key, RecordRow>(`SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} ORDER BY uid`),
    /** One page of changedSince in (modseq, uid) order, after the cursor (a long catch-up reads in pages). */
    changedPage: db.prepare<[...Key, modseq: number, uid: number, limit: number], FlagRow>(
      `SELECT uid, modseq, system_flags, keywords, size FROM messages INDEXED BY messages_modseq
       WHERE ${SCOPE} AND (modseq, uid) > (?, ?) ORDER BY modseq, uid LIMIT ?`,
    ),
    /** One page of expunge tombstones in (modseq, uid) order, after the cursor (see changedPage). */
    expungedPage: db.prepare<[...Key, modseq: number, uid: number, limit: number], { uid: number; modseq: number }>(
      `SELECT uid, modseq FROM expunged WHERE ${SCOPE} AND (modseq, uid) > (?, ?) ORDER BY modseq, uid LIMIT ?`,
    ),
    /** The flag columns of the given messages (what STORE reads before changing them). */
    flagRows: db.prepare<[...Key, uidsJson: string], FlagRow>(
      `SELECT uid, modseq, system_flags, keywords, size FROM messages WHERE ${SCOPE} AND ${IN_UIDS} ORDER BY uid`,
    ),
    /**
     * Many messages' new flags in one statement. Argument: JSON array of [uid, systemFlags, keywords].
     * MATERIALIZED: otherwise the planner re-reads the JSON for every row of the mailbox.
     */
    updateFlagsMany: db.prepare<[updatesJson: string, modseq: number, ...Key]>(
      `WITH u(uid, system_flags, keywords) AS MATERIALIZED (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?))
       UPDATE messages SET system_flags = u.system_flags, keywords = u.keywords, modseq = ?
       FROM u WHERE messages.account_id = ? AND messages.mailbox_id = ? AND messages.uid = u.uid`,
    ),
    deletedSize: db
      .prepare<Key, number>(`SELECT coalesce(sum(size), 0) FROM messages INDEXED BY messages_deleted WHERE ${SCOPE} AND ${IS_DELETED_SQL}`)
      .pluck(),
    deletedUids: db.prepare<Key, number>(`SELECT uid FROM messages INDEXED BY messages_deleted WHERE ${SCOPE} AND ${IS_DELETED_SQL} ORDER BY uid`).pluck(),
    deletedUidsIn: db
      .prepare<[...Key, uidsJson: string], number>(`SELECT uid FROM messages WHERE ${SCOPE} AND ${IS_DELETED_SQL} AND ${IN_UIDS} ORDER BY uid`)
      .pluck(),
    deleteMessages: db.prepare<[...Key, uidsJson: string]>(`DELETE FROM messages WHERE ${SCOPE} AND ${IN_UIDS}`),
    /** Tombstones that keep each message's FETCH data and hold its blob (schema.ts migration 2); run before deleteMessages. */
    insertTombstones: db.prepare<[modseq: number, expungedAt: number, ...Key, uidsJson: string]>(
      `INSERT INTO expunged (account_id, mailbox_id, modseq, expunged_at, uid, ${KEPT_COLUMNS})
       SELECT account_id, mailbox_id, ?, ?, uid, ${KEPT_COLUMNS} FROM messages WHERE ${SCOPE} AND ${IN_UIDS}`,
    ),
    /** Expunged messages still held by their tombstone (RFC 2180 §4.1); modseq is the expunge's. */
    heldRecords: db.prepare<[...Key, uidsJson: string], RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM expunged INDEXED BY expunged_held
       WHERE ${SCOPE} AND blob_id IS NOT NULL AND ${IN_UIDS} ORDER BY uid`,
    ),
    /** [uid, blob_id] of live messages: what FETCH of bodies and MIME items needs (no record conversion). */
    blobIds: db.prepare<[...Key, uidsJson: string], [uid: number, blobId: string]>(`SELECT uid, blob_id FROM messages WHERE ${SCOPE} AND ${IN_UIDS}`).raw(),
    /** [uid, blob_id] of expunged messages still held by their tombstone (RFC 2180 §4.1). */
    heldBlobIds: db
      .prepare<[...Key, uidsJson: string], [uid: number, blobId: string]>(
        `SELECT uid, blob_id FROM expunged INDEXED BY expunged_held WHERE ${SCOPE} AND blob_id IS NOT NULL AND ${IN_UIDS}`,
      )
      .raw(),
    /** Releases up to `limit` tombstones held since `before` or earlier; the expunged_blob trigger drops their references. */
    releaseTombstones: db.prepare<[before: number, limit: number]>(
      `UPDATE expunged SET blob_id = NULL, system_flags = NULL, keywords = NULL, internal_date = NULL,
         save_date = NULL, size = NULL, email_id = NULL, expunged_at = NULL
       WHERE (account_id, mailbox_id, modseq, uid) IN (
         SELECT account_id, mailbox_id, modseq, uid FROM expunged INDEXED BY expunged_due
         WHERE blob_id IS NOT NULL AND expunged_at <= ? LIMIT ?)`,
    ),

    // Keywords each mailbox defines (schema.ts mailboxCounts); lower-cased
    /** Which of the JSON array of keywords the mailbox does not define yet. */
    undefinedKeywords: db
      .prepare<[keywordsJson: string, ...Key], string>(
        `SELECT DISTINCT j.value FROM json_each(?) j
         WHERE NOT EXISTS (SELECT 1 FROM mailbox_keywords k WHERE k.account_id = ? AND k.mailbox_id = ? AND k.keyword = j.value)`,
      )
      .pluck(),
    keywordCount: db.prepare<Key, number>(`SELECT count(*) FROM mailbox_keywords WHERE ${SCOPE}`).pluck(),
    definedKeywords: db.prepare<Key, string>(`SELECT keyword FROM mailbox_keywords WHERE ${SCOPE}`).pluck(),
    defineKeyword: db.prepare<[...Key, keyword: string]>('INSERT OR IGNORE INTO mailbox_keywords (account_id, mailbox_id, keyword) VALUES (?, ?, ?)'),
    undefineKeyword: db.prepare<[...Key, keyword: string]>(`DELETE FROM mailbox_keywords WHERE ${SCOPE} AND keyword = ?`),
    /** The distinct keyword texts of a mailbox's live messages: what its keywords are in use. */
    keywordTexts: db.prepare<Key, string>(`SELECT DISTINCT keywords FROM messages WHERE ${SCOPE} AND keywords <> ''`).pluck(),

    // Import and migration (schema.ts migration 3)
    importedUid: db.prepare<[...Key, sourceKey: string], number>(`SELECT uid FROM import_records WHERE ${SCOPE} AND source_key = ?`).pluck(),
    importedUids: db.prepare<[...Key, keysJson: string], { source_key: string; uid: number }>(
      `SELECT source_key, uid FROM import_records WHERE ${SCOPE} AND source_key IN (SELECT value FROM json_each(?))`,
    ),
    insertImportRecord: db.prepare<[...Key, sourceKey: string, uid: number]>(
      'INSERT INTO import_records (account_id, mailbox_id, source_key, uid) VALUES (?, ?, ?, ?)',
    ),
    setUidValidity: db.prepare<[uidValidity: number, ...Key]>(`UPDATE mailboxes SET uid_validity = ? WHERE ${SCOPE}`),
    syncState: db.prepare<[...Key, source: string], string>(`SELECT state FROM sync_states WHERE ${SCOPE} AND source = ?`).pluck(),
    setSyncState: db.prepare<[...Key, source: string, state: string]>(
      `INSERT INTO sync_states (account_id, mailbox_id, source, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (account_id, mailbox_id, source) DO UPDATE SET state = excluded.state`,
    ),

    // Metadata (schema.ts migration 4); owner = mailbox_id, or 0 for server-level entries
    metadataValue: db
      .prepare<[accountId: number, owner: number, name: string], Buffer>('SELECT value FROM metadata WHERE account_id = ? AND mailbox_id = ? AND name = ?')
      .pluck(),
    /** Names strictly between `x/` and `x0` are exactly the entries below x ('0' follows '/'). */
    metadataBelow: db.prepare<[accountId: number, owner: number, low: string, high: string], { name: string; value: Buffer }>(
      'SELECT name, value FROM metadata WHERE account_id = ? AND mailbox_id = ? AND name > ? AND name < ? ORDER BY name',
    ),
    metadataCount: db.prepare<[accountId: number, owner: number], number>('SELECT count(*) FROM metadata WHERE account_id = ? AND mailbox_id = ?').pluck(),
    /** Changes no row when the value is already that: `changes` tells whether anything changed. */
    upsertMetadata: db.prepare<[accountId: number, owner: number, name: string, value: Buffer]>(
      `INSERT INTO metadata (account_id, mailbox_id, name, value) VALUES (?, ?, ?, ?)
       ON CONFLICT (account_id, mailbox_id, name) DO UPDATE SET value = excluded.value WHERE value IS NOT excluded.value`,
    ),
    deleteMetadata: db.prepare<[accountId: number, owner: number, name: string]>('DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ? AND name = ?'),
    copyMetadata: db.prepare<[to: number, ...Key]>(
      `INSERT INTO metadata (account_id, mailbox_id, name, value) SELECT account_id, ?, name, value FROM metadata WHERE ${SCOPE}`,
    ),
  };
}

/** The prepared statements of one connection. */
export type Statements = ReturnType<typeof prepareStatements>;
