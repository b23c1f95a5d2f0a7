/**
 * SQLite schema and its migrations.
 *
 * Layout rule (DESIGN "MailStore interface"): every table leads with
 * account_id in its primary key and indexes, so the same shape can be
 * distributed by account on PostgreSQL/Citus. Two deliberate exceptions:
 * - `blobs` is keyed by content hash and shared by all accounts: one LMTP
 *   message for 100 recipients is stored (and analysed) once. Its refcount
 *   counts the message rows and held tombstones, of any account, that point at it.
 * - `counters` holds installation-wide allocators under account_id 0 (no
 *   account has id 0): mailbox ids, unique across accounts, and UIDVALIDITY
 *   values, increasing across delete + recreate of the same name (RFC 9051 §2.3.1.1).
 * - `expunged_due` orders held tombstones by expunge time for the retention
 *   sweep, which runs across all accounts (like the blob GC).
 * - `auth_failures` and `auth_in_flight` (authAttempts) hold login-attempt
 *   counts keyed by client address and account name, which may name no account.
 * - `api_tokens`, `admin_users` and `admin_audit` (adminTokensAndAudit) belong to the
 *   installation's administration, not to an account.
 * - `aliases` (deliverySupport) is keyed by address, like accounts by name:
 *   LMTP looks an address up before it knows the account. On Citus it is a
 *   reference table.
 *
 * Derived columns are kept by triggers in the same transaction as the change:
 * blobs.refcount and the per-mailbox aggregates (message_count, total_size,
 * unseen_count, deleted_count, recent_count) that STATUS and quota read
 * without scanning. The aggregates count live messages only; a held
 * tombstone (migration 2) references its blob but is not a message.
 *
 * Migrations: PRAGMA user_version = number of migrations applied. Append new
 * migrations at the end of MIGRATIONS; never edit or reorder a released one.
 */
import type Database from 'better-sqlite3';
import { DELETED, IS_DELETED_SQL, SEEN } from '../shared/flags.js';

/** One schema step; runs inside the migration transaction. */
export type Migration = (db: Database.Database) => void;

const NOT_SEEN = `(NEW.system_flags & ${SEEN} = 0)`;
const IS_DELETED = `(NEW.system_flags & ${DELETED} <> 0)`;
const OLD_NOT_SEEN = `(OLD.system_flags & ${SEEN} = 0)`;
const OLD_DELETED = `(OLD.system_flags & ${DELETED} <> 0)`;

const initialSchema: Migration = (db) => {
  db.exec(`
    CREATE TABLE accounts (
      account_id     INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
      name           TEXT NOT NULL,
      name_key       TEXT NOT NULL UNIQUE,               -- lower-cased name: logins are case-insensitive
      password_hash  TEXT NOT NULL,
      created_at     INTEGER NOT NULL,                   -- epoch ms
      quota_storage  INTEGER,                            -- octets; NULL = unlimited
      quota_messages INTEGER
    );

    CREATE TABLE counters (
      account_id INTEGER NOT NULL,
      name       TEXT NOT NULL,
      value      INTEGER NOT NULL,
      PRIMARY KEY (account_id, name)
    ) WITHOUT ROWID;

    CREATE TABLE mailboxes (
      account_id       INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      mailbox_id       INTEGER NOT NULL,
      name             TEXT NOT NULL,
      uid_validity     INTEGER NOT NULL,
      uid_next         INTEGER NOT NULL DEFAULT 1,
      highest_modseq   INTEGER NOT NULL DEFAULT 1,
      special_use      TEXT,
      first_recent_uid INTEGER NOT NULL DEFAULT 1,  -- \\Recent marker (RFC 3501 §2.3.2)
      message_count    INTEGER NOT NULL DEFAULT 0,
      total_size       INTEGER NOT NULL DEFAULT 0,
      unseen_count     INTEGER NOT NULL DEFAULT 0,
      deleted_count    INTEGER NOT NULL DEFAULT 0,
      recent_count     INTEGER NOT NULL DEFAULT 0,   -- messages with uid >= first_recent_uid
      PRIMARY KEY (account_id, mailbox_id),
      UNIQUE (account_id, name)
    ) WITHOUT ROWID;

    CREATE TABLE subscriptions (
      account_id INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      name       TEXT NOT NULL,
      PRIMARY KEY (account_id, name)
    ) WITHOUT ROWID;

    CREATE TABLE blobs (
      blob_id  TEXT PRIMARY KEY,   -- lower-case hex SHA-256 of the bytes
      size     INTEGER NOT NULL,
      refcount INTEGER NOT NULL,   -- message rows pointing here; 0 = garbage awaiting the GC
      analysis TEXT NOT NULL       -- MessageAnalysis JSON (analysis-codec.ts)
    );
    CREATE INDEX blobs_garbage ON blobs (blob_id) WHERE refcount = 0;

    CREATE TABLE messages (
      account_id    INTEGER NOT NULL,
      mailbox_id    INTEGER NOT NULL,
      uid           INTEGER NOT NULL,
      modseq        INTEGER NOT NULL,
      system_flags  INTEGER NOT NULL,  -- bits, see flags.ts
      keywords      TEXT NOT NULL,     -- space-separated, case-preserved
      internal_date INTEGER NOT NULL,  -- epoch ms
      save_date     INTEGER NOT NULL,  -- epoch ms (RFC 8514)
      size          INTEGER NOT NULL,
      blob_id       TEXT NOT NULL,
      email_id      TEXT NOT NULL,     -- RFC 8474 EMAILID
      PRIMARY KEY (account_id, mailbox_id, uid),
      FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    -- RFC 7162 "changed since": rows with modseq > ? in one mailbox.
    CREATE INDEX messages_modseq ON messages (account_id, mailbox_id, modseq);
    -- EXPUNGE finds \\Deleted messages without reading the whole mailbox.
    CREATE INDEX messages_deleted ON messages (account_id, mailbox_id, uid) WHERE ${IS_DELETED_SQL};

    -- Expunge tombstones (RFC 7162 §3.2.5.2 VANISHED): (uid, modseq) per removed message.
    CREATE TABLE expunged (
      account_id INTEGER NOT NULL,
      mailbox_id INTEGER NOT NULL,
      modseq     INTEGER NOT NULL,
      uid        INTEGER NOT NULL,
      PRIMARY KEY (account_id, mailbox_id, modseq, uid),
      FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TRIGGER messages_insert AFTER INSERT ON messages BEGIN
      UPDATE blobs SET refcount = refcount + 1 WHERE blob_id = NEW.blob_id;
      UPDATE mailboxes SET
        message_count = message_count + 1,
        total_size = total_size + NEW.size,
        unseen_count = unseen_count + ${NOT_SEEN},
        deleted_count = deleted_count + ${IS_DELETED},
        recent_count = recent_count + (NEW.uid >= first_recent_uid)
      WHERE account_id = NEW.account_id AND mailbox_id = NEW.mailbox_id;
    END;

    CREATE TRIGGER messages_delete AFTER DELETE ON messages BEGIN
      UPDATE blobs SET refcount = refcount - 1 WHERE blob_id = OLD.blob_id;
      UPDATE mailboxes SET
        message_count = message_count - 1,
        total_size = total_size - OLD.size,
        unseen_count = unseen_count - ${OLD_NOT_SEEN},
        deleted_count = deleted_count - ${OLD_DELETED},
        recent_count = recent_count - (OLD.uid >= first_recent_uid)
      WHERE account_id = OLD.account_id AND mailbox_id = OLD.mailbox_id;
    END;

    CREATE TRIGGER messages_flags AFTER UPDATE OF system_flags ON messages
    WHEN OLD.system_flags <> NEW.system_flags BEGIN
      UPDATE mailboxes SET
        unseen_count = unseen_count + ${NOT_SEEN} - ${OLD_NOT_SEEN},
        deleted_count = deleted_count + ${IS_DELETED} - ${OLD_DELETED}
      WHERE account_id = NEW.account_id AND mailbox_id = NEW.mailbox_id;
    END;
  `);
};

/**
 * RFC 2180 §4.1: a message expunged by another session stays fetchable by
 * sessions not yet told. Its tombstone keeps what FETCH needs and "holds" its
 * blob (blob_id NOT NULL, counted in blobs.refcount) until the retention sweep
 * releases it by setting these columns to NULL; the row itself (uid, modseq)
 * stays for VANISHED. Tombstones written before this migration hold nothing.
 */
const heldTombstones: Migration = (db) => {
  db.exec(`
    ALTER TABLE expunged ADD COLUMN blob_id TEXT;          -- NULL once released
    ALTER TABLE expunged ADD COLUMN system_flags INTEGER;  -- flags as at expunge
    ALTER TABLE expunged ADD COLUMN keywords TEXT;
    ALTER TABLE expunged ADD COLUMN internal_date INTEGER;
    ALTER TABLE expunged ADD COLUMN save_date INTEGER;
    ALTER TABLE expunged ADD COLUMN size INTEGER;
    ALTER TABLE expunged ADD COLUMN email_id TEXT;
    ALTER TABLE expunged ADD COLUMN expunged_at INTEGER;   -- epoch ms
    -- Both partial: only held tombstones (at most one retention period of expunges) are indexed.
    CREATE INDEX expunged_held ON expunged (account_id, mailbox_id, uid) WHERE blob_id IS NOT NULL;
    CREATE INDEX expunged_due ON expunged (expunged_at) WHERE blob_id IS NOT NULL;

    -- A NULL blob_id matches no blob, so these hold for held and released tombstones alike.
    CREATE TRIGGER expunged_insert AFTER INSERT ON expunged BEGIN
      UPDATE blobs SET refcount = refcount + 1 WHERE blob_id = NEW.blob_id;
    END;

    CREATE TRIGGER expunged_delete AFTER DELETE ON expunged BEGIN
      UPDATE blobs SET refcount = refcount - 1 WHERE blob_id = OLD.blob_id;
    END;

    CREATE TRIGGER expunged_blob AFTER UPDATE OF blob_id ON expunged
    WHEN OLD.blob_id IS NOT NEW.blob_id BEGIN
      UPDATE blobs SET refcount = refcount - 1 WHERE blob_id = OLD.blob_id;
      UPDATE blobs SET refcount = refcount + 1 WHERE blob_id = NEW.blob_id;
    END;
  `);
};

/**
 * `mailkeep import` and `migrate` (store/types.ts importMessages): the source
 * key of every imported message with the UID it got, written in the append's
 * transaction, so a second or resumed run skips what is already there; and the
 * per-mailbox resume state of a sync from another server. Both go with their
 * mailbox (cascade) and lead with account_id.
 */
const importRecords: Migration = (db) => {
  db.exec(`
    CREATE TABLE import_records (
      account_id INTEGER NOT NULL,
      mailbox_id INTEGER NOT NULL,
      source_key TEXT NOT NULL,
      uid        INTEGER NOT NULL,
      PRIMARY KEY (account_id, mailbox_id, source_key),
      FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
    ) WITHOUT ROWID;

    CREATE TABLE sync_states (
      account_id INTEGER NOT NULL,
      mailbox_id INTEGER NOT NULL,
      source     TEXT NOT NULL,
      state      TEXT NOT NULL,
      PRIMARY KEY (account_id, mailbox_id, source),
      FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
  `);
};

/**
 * RFC 5464 METADATA: the annotations of a mailbox, or with mailbox_id 0 the
 * account's server-level ones (no mailbox has id 0, so no foreign key can
 * cover those rows: a trigger removes a mailbox's entries with it instead).
 * Keyed by mailbox id, entries follow a mailbox through RENAME.
 */
const metadata: Migration = (db) => {
  db.exec(`
    CREATE TABLE metadata (
      account_id INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      mailbox_id INTEGER NOT NULL,  -- 0: a server-level entry
      name       TEXT NOT NULL,     -- lower-case entry name, e.g. /private/comment
      value      BLOB NOT NULL,
      PRIMARY KEY (account_id, mailbox_id, name)
    ) WITHOUT ROWID;

    CREATE TRIGGER mailboxes_delete_metadata AFTER DELETE ON mailboxes BEGIN
      DELETE FROM metadata WHERE account_id = OLD.account_id AND mailbox_id = OLD.mailbox_id;
    END;
  `);
};

/**
 * LMTP delivery (RFC 2033): aliases, and composite blobs so that one message
 * for many recipients is stored once although each copy starts with its own
 * Return-Path/Delivered-To lines. A composite row has no file of its own:
 * its bytes are `prefix` followed by the base blob's, it holds one reference
 * on its base for as long as the row exists, and its analysis is derived
 * from the base's (store/composite-analysis.ts), so `analysis` is '' there. The GC
 * deletes a composite row like any other at refcount 0, which may turn its
 * base into garbage for the next GC round.
 */
const deliverySupport: Migration = (db) => {
  db.exec(`
    ALTER TABLE blobs ADD COLUMN base_id TEXT;  -- composite: the blob whose bytes follow the prefix
    ALTER TABLE blobs ADD COLUMN prefix BLOB;   -- composite: the bytes before the base's

    CREATE TRIGGER blobs_composite_insert AFTER INSERT ON blobs WHEN NEW.base_id IS NOT NULL BEGIN
      UPDATE blobs SET refcount = refcount + 1 WHERE blob_id = NEW.base_id;
    END;

    CREATE TRIGGER blobs_composite_delete AFTER DELETE ON blobs WHEN OLD.base_id IS NOT NULL BEGIN
      UPDATE blobs SET refcount = refcount - 1 WHERE blob_id = OLD.base_id;
    END;

    CREATE TABLE aliases (
      address_key TEXT PRIMARY KEY,   -- lower-cased address
      address     TEXT NOT NULL,      -- as given
      account_id  INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      created_at  INTEGER NOT NULL    -- epoch ms
    ) WITHOUT ROWID;
    CREATE INDEX aliases_account ON aliases (account_id);
  `);
};

/**
 * What SORT, THREAD and header SEARCH read of a message (mime/header-facts.ts),
 * stored at ingestion beside the analysis so a command does not decode
 * analyses. Set on plain blobs only (a composite reads its base's); rows
 * stored before this migration stay NULL and are derived from the analysis
 * when first needed.
 */
const headerFacts: Migration = (db) => {
  db.exec('ALTER TABLE blobs ADD COLUMN header_facts TEXT');
};

/**
 * Header facts in a table of their own. As the last column of `blobs` they
 * sat behind `analysis` (about 12 KB of JSON per message, mostly on overflow
 * pages), so reading a message's half kilobyte of facts walked its whole
 * overflow chain: the facts of 10,000 messages took 200–350 ms to read, and
 * 25–140 ms from this table. A row is keyed by the blob that holds the facts
 * (a composite reads its base's) and goes with it. The old column stays,
 * unread: dropping it would rewrite every row of `blobs`. Facts stored there
 * are derived again from the analysis when first needed and written here.
 */
const blobFacts: Migration = (db) => {
  db.exec(`
    CREATE TABLE blob_facts (
      blob_id TEXT PRIMARY KEY REFERENCES blobs (blob_id) ON DELETE CASCADE,
      facts   TEXT NOT NULL   -- mime/header-facts.ts encodeHeaderFacts
    ) WITHOUT ROWID;
  `);
};

/**
 * Per-mailbox counts a hostile client could otherwise grow without bound:
 * - `object_id`: the RFC 8474 MAILBOXID, random, minted with each new mailbox
 *   (a derived one would tell how many mailboxes the server holds). Older
 *   rows keep NULL and their derived id: the same mailbox keeps its MAILBOXID.
 * - `mailbox_keywords`: the keywords (lower-cased) each mailbox defines, so
 *   the per-mailbox keyword limit is checked without reading its messages.
 *   Filled from the messages here; after that, every write that brings a
 *   keyword adds it in its own transaction.
 */
const mailboxCounts: Migration = (db) => {
  db.exec(`
    ALTER TABLE mailboxes ADD COLUMN object_id TEXT;

    CREATE TABLE mailbox_keywords (
      account_id INTEGER NOT NULL,
      mailbox_id INTEGER NOT NULL,
      keyword    TEXT NOT NULL,  -- lower-cased (RFC 9051 §2.3.2: flag names are case-insensitive)
      PRIMARY KEY (account_id, mailbox_id, keyword),
      FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
  `);
  const define = db.prepare('INSERT OR IGNORE INTO mailbox_keywords (account_id, mailbox_id, keyword) VALUES (?, ?, ?)');
  const texts = db.prepare<[], { account_id: number; mailbox_id: number; keywords: string }>(
    "SELECT DISTINCT account_id, mailbox_id, keywords FROM messages WHERE keywords <> ''",
  );
  // all(), not iterate(): the connection cannot write while a read is open. Distinct texts: a few per mailbox.
  for (const row of texts.all()) {
    for (const k of row.keywords.split(' ')) define.run(row.account_id, row.mailbox_id, k.toLowerCase());
  }
};

/**
 * Login-attempt state shared by the processes on this file (auth/throttle.ts,
 * store/shared/auth-attempts.ts). Installation-wide like `counters`: keyed by
 * client address and account name, which may name no account.
 */
const authAttempts: Migration = (db) => {
  db.exec(`
    CREATE TABLE auth_failures (
      kind         TEXT NOT NULL,     -- 'ip', 'account', 'pair' (failures in a window) or 'trusted' (last success)
      key          TEXT NOT NULL,
      failures     INTEGER NOT NULL,
      window_start INTEGER NOT NULL,  -- epoch ms
      PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    CREATE TABLE auth_in_flight (
      attempt_id INTEGER PRIMARY KEY,
      ip         TEXT NOT NULL,
      pair       TEXT NOT NULL,
      expires_at INTEGER NOT NULL   -- epoch ms; a dead process's attempts stop counting then
    );
    CREATE INDEX auth_in_flight_ip ON auth_in_flight (ip);
    CREATE INDEX auth_in_flight_pair ON auth_in_flight (pair);
  `);
};

/** Disabled accounts and the last login (`mailkeep user set --disabled`, `user show`). */
const accountStates: Migration = (db) => {
  db.exec(`
    ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN last_login_at INTEGER;         -- epoch ms
    ALTER TABLE accounts ADD COLUMN last_login_protocol TEXT;
    ALTER TABLE accounts ADD COLUMN last_login_address TEXT;
  `);
};

/**
 * App passwords and the account switch that requires them (auth/app-passwords.ts,
 * `mailkeep user app-password`, `user set --require-app-passwords`). Ids come from
 * the installation-wide counter 'app_password_id' (counters, account 0), raised
 * past the account's largest (so a copied store goes on from there): never
 * reused; a live name is unique per account.
 */
const appPasswordsAndRequirement: Migration = (db) => {
  db.exec(`
    ALTER TABLE accounts ADD COLUMN require_app_passwords INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE app_passwords (
      account_id         INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      app_password_id    INTEGER NOT NULL,
      name               TEXT NOT NULL,
      name_key           TEXT NOT NULL,   -- lower-cased name
      lookup             TEXT NOT NULL,   -- the password's first group (not secret: the rest is)
      password_hash      TEXT NOT NULL,
      protocols          TEXT NOT NULL,   -- space-separated
      created_at         INTEGER NOT NULL,  -- epoch ms
      expires_at         INTEGER,
      revoked_at         INTEGER,
      last_used_at       INTEGER,
      last_used_protocol TEXT,
      last_used_address  TEXT,
      PRIMARY KEY (account_id, app_password_id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX app_passwords_live_name ON app_passwords (account_id, name_key) WHERE revoked_at IS NULL;
  `);
};

/**
 * The admin API's tokens (their SHA-256 only), the web admin's accounts and
 * the audit log of administrative actions (store/shared/admin.ts). Installation-wide like
 * `aliases`: keyed by token name and audit id.
 */
const adminTokensAndAudit: Migration = (db) => {
  db.exec(`
    CREATE TABLE api_tokens (
      name       TEXT PRIMARY KEY,
      token_hash TEXT NOT NULL UNIQUE,  -- lower-case hex SHA-256 of the token
      created_at INTEGER NOT NULL,      -- epoch ms
      expires_at INTEGER                -- epoch ms; NULL: never
    );
    CREATE TABLE admin_audit (
      audit_id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids only grow: the paging cursor
      at       INTEGER NOT NULL,                   -- epoch ms
      actor    TEXT NOT NULL,
      action   TEXT NOT NULL,
      target   TEXT,
      address  TEXT NOT NULL,
      outcome  TEXT NOT NULL
    );
    CREATE TABLE admin_users (
      name          TEXT PRIMARY KEY,   -- web admin accounts, apart from mail accounts
      password_hash TEXT NOT NULL,
      totp_secret   TEXT NOT NULL,      -- base32 (RFC 6238)
      created_at    INTEGER NOT NULL    -- epoch ms
    );
  `);
};

/** Sieve scripts (RFC 5804): named texts per account, at most one active (`mailkeep sieve`, ManageSieve). */
const sieveScripts: Migration = (db) => {
  db.exec(`
    CREATE TABLE sieve_scripts (
      account_id INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      name       TEXT NOT NULL,      -- NFC, compared octet by octet (RFC 5804 §1.6)
      content    TEXT NOT NULL,
      size       INTEGER NOT NULL,   -- octets of content in UTF-8 (quotas, LISTSCRIPTS)
      active     INTEGER NOT NULL DEFAULT 0,
      updated_at INTEGER NOT NULL,   -- epoch ms
      PRIMARY KEY (account_id, name)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX sieve_scripts_one_active ON sieve_scripts (account_id) WHERE active = 1;
  `);
};

/** Web admin sign-ins shared by every worker (a sign-in made in one is honoured by all), and the TOTP step each admin used last. */
const adminSignInsAcrossWorkers: Migration = (db) => {
  db.exec(`
    CREATE TABLE admin_sign_ins (
      id_hash    TEXT PRIMARY KEY,    -- SHA-256 of the cookie value: the table holds no usable cookie
      user_name  TEXT NOT NULL,
      csrf       TEXT NOT NULL,
      expires_at INTEGER NOT NULL     -- epoch ms
    );
    ALTER TABLE admin_users ADD COLUMN last_totp_step INTEGER;  -- RFC 6238 §5.2: a code is accepted once
  `);
};

/** Sieve memory (RFC 5230 §4.2 vacation replies sent, RFC 7352 duplicate ids): per-account keys with an expiry. */
const sieveDeliveryMemory: Migration = (db) => {
  db.exec(`
    CREATE TABLE sieve_memory (
      account_id INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      kind       TEXT NOT NULL,      -- 'duplicate' | 'vacation'
      key        TEXT NOT NULL,      -- SHA-256 of handle and id or sender (mail/sieve-context.ts)
      expires_at INTEGER NOT NULL,   -- epoch ms
      PRIMARY KEY (account_id, kind, key)
    ) WITHOUT ROWID;
  `);
};

/**
 * SCRAM keys (RFC 5802 §3) per account and hash function, tied to the
 * password hash they were derived beside (store/scram-key-types.ts).
 */
const scramKeys: Migration = (db) => {
  db.exec(`
    CREATE TABLE scram_keys (
      account_id    INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
      hash          TEXT NOT NULL,     -- 'SHA-1' or 'SHA-256'
      password_hash TEXT NOT NULL,     -- accounts.password_hash when derived; another value retires the row
      salt          BLOB NOT NULL,
      iterations    INTEGER NOT NULL,
      stored_key    BLOB NOT NULL,
      server_key    BLOB NOT NULL,
      PRIMARY KEY (account_id, hash)
    ) WITHOUT ROWID;
  `);
};

/**
 * A composite may start its base's bytes at an offset (Sieve editheader,
 * RFC 5293: the edited header as prefix, the shared body from where it
 * starts). Such a composite's header differs from its base's, so it keeps
 * its own header facts (saved lazily, like those of older blobs).
 */
const compositeOffsets: Migration = (db) => {
  // composite: where in the base its bytes start
  db.exec('ALTER TABLE blobs ADD COLUMN base_from INTEGER NOT NULL DEFAULT 0');
};

/**
 * The live nodes (issue 23): each `mailkeep serve` registers itself, beats every few seconds and leaves at
 * shutdown, so a session listing knows whom to wait for (server/node-heartbeat.ts). On SQLite only this
 * machine's processes. Installation-wide, keyed by node name; never copied (it describes running processes).
 */
const liveNodes: Migration = (db) => {
  db.exec(`
    CREATE TABLE live_nodes (
      name         TEXT PRIMARY KEY,   -- host:pid of the serve process (its primary under --workers N)
      workers      INTEGER NOT NULL,   -- worker processes; 1: a single process (slot 0)
      started_at   INTEGER NOT NULL,   -- epoch ms
      heartbeat_at INTEGER NOT NULL    -- epoch ms, by the node's clock
    );
  `);
};

/** Every migration in order; the database's user_version says how many have run. */
export const MIGRATIONS: readonly Migration[] = [
  initialSchema,
  heldTombstones,
  importRecords,
  metadata,
  deliverySupport,
  headerFacts,
  blobFacts,
  mailboxCounts,
  authAttempts,
  accountStates,
  appPasswordsAndRequirement,
  adminTokensAndAudit,
  sieveScripts,
  adminSignInsAcrossWorkers,
  sieveDeliveryMemory,
  scramKeys,
  compositeOffsets,
  liveNodes,
];

/**
 * Brings a database up to date in one write transaction (BEGIN IMMEDIATE, so two
 * processes opening an old file at once do not both migrate). Returns the
 * versions before and after. Refuses a database written by a newer mailkeep.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): { from: number; to: number } {
  const run = db.transaction(() => {
    const from = db.pragma('user_version', { simple: true }) as number;
    if (from > migrations.length) {
      throw new Error(`database schema version ${from} is newer than this mailkeep supports (${migrations.length})`);
    }
    for (let v = from; v < migrations.length; v++) migrations[v]?.(db);
    if (from !== migrations.length) db.pragma(`user_version = ${migrations.length}`);
    return { from, to: migrations.length };
  });
  return run.immediate();
}
