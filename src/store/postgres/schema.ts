/**
 * PostgreSQL schema and its migrations.
 *
 * Layout rule (DESIGN "MailStore interface"): every per-account table leads
 * with account_id in its primary key and indexes, and every per-account query
 * filters on account_id, so the schema can be distributed by account with
 * Citus without redesign. The semantics mirror the SQLite schema
 * (../sqlite/schema.ts); the differences are deliberate:
 * - Derived columns (per-mailbox counts, blob refcounts) are kept by the store
 *   in the same transaction as the change, not by triggers: the statement
 *   that allocates UIDs and the modseq updates the counts too, and nothing
 *   depends on triggers, which Citus handles poorly on distributed tables.
 * - Message bytes live in `blobs.data` (content-addressed, deduplicated,
 *   shared by all accounts), staged through `blob_staging` while they arrive.
 *   A fresh blob no message references yet is kept until `staged_until`, so
 *   the garbage collector cannot take it from an APPEND in progress.
 * - A composite blob (LMTP: per-recipient header lines before one shared
 *   message) has no data: its bytes are `prefix` followed by its base's. A
 *   reference to a composite counts on the composite and on its base alike,
 *   so the GC deletes any row at refcount 0 without touching another row.
 * - Names are COLLATE "C": byte order, as in SQLite, which the inferiors
 *   range query (`name > 'x/' AND name < 'x0'`) depends on.
 * - Timestamps are timestamptz; flags use the same bits and keyword text as
 *   SQLite (../shared/flags.ts); analyses are stored as the same codec's UTF-8
 *   bytes (bytea: exact, whatever the database's text rules).
 *
 * Citus (run once on the coordinator after the first migration, before any data):
 *   SELECT create_reference_table('accounts');      -- global unique login names
 *   SELECT create_reference_table('counters');      -- installation-wide UIDVALIDITY allocator
 *   SELECT create_reference_table('blobs');         -- shared by all accounts (see below)
 *   SELECT create_reference_table('aliases');       -- looked up by address before the account is known
 *   SELECT create_reference_table('api_tokens');    -- the admin API's (installation-wide)
 *   SELECT create_reference_table('admin_audit');
 *   SELECT create_reference_table('admin_users');
 *   SELECT create_reference_table('admin_sign_ins');
 *   SELECT create_reference_table('live_nodes');
 *   SELECT create_distributed_table('blob_staging', 'stage_id');
 *   SELECT create_distributed_table('mailboxes', 'account_id');
 *   SELECT create_distributed_table('subscriptions', 'account_id', colocate_with => 'mailboxes');
 *   SELECT create_distributed_table('messages', 'account_id', colocate_with => 'mailboxes');
 *   SELECT create_distributed_table('expunged', 'account_id', colocate_with => 'mailboxes');
 *   SELECT create_distributed_table('import_records', 'account_id', colocate_with => 'mailboxes');
 *   SELECT create_distributed_table('sync_states', 'account_id', colocate_with => 'mailboxes');
 *   SELECT create_distributed_table('metadata', 'account_id', colocate_with => 'mailboxes');
 *   SELECT create_distributed_table('namespace_versions', 'account_id', colocate_with => 'mailboxes');
 *   SELECT create_distributed_table('mailbox_keywords', 'account_id', colocate_with => 'mailboxes');
 * Every query on the distributed tables names one account_id, so it routes
 * to one shard. The exceptions are deliberate:
 * `blobs` is keyed by content hash so that one message for many recipients is
 * stored once; as a reference table its refcount updates are replicated to
 * every node (two-phase commit per append) — a deployment that outgrows that
 * moves bytes to an object store behind the BlobStore interface and
 * distributes `blobs` by blob_id. The background sweeps (releasing expired
 * tombstones, the change bus catch-up poll) span accounts and fan out.
 * LISTEN/NOTIFY is per server: every mailkeep node must connect to the
 * coordinator (the periodic catch-up bounds the delay otherwise).
 *
 * Migrations: the `mailkeep_schema` row holds the number applied. All run in
 * one transaction under an advisory lock, so nodes starting together migrate
 * once. Append new migrations at the end; never edit a released one.
 */
import type pg from 'pg';
import { IS_DELETED_SQL, SEEN } from '../shared/flags.js';

/** One schema step: SQL run inside the migration transaction. */
export type PgMigration = string;

const initialSchema: PgMigration = `
  CREATE TABLE accounts (
    account_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- identity: ids are never reused
    name           text NOT NULL,
    name_key       text COLLATE "C" NOT NULL,                         -- lower-cased name: logins are case-insensitive
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL,
    quota_storage  bigint,                                            -- octets; NULL = unlimited
    quota_messages bigint,
    CONSTRAINT accounts_name_unique UNIQUE (name_key)
  );

  -- Installation-wide allocators (UIDVALIDITY): the next value is max(previous, floor) + 1.
  CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
  );

  -- Mailbox ids are unique across accounts and never reused (and never 0: see metadata).
  CREATE SEQUENCE mailbox_ids MINVALUE 1;

  CREATE TABLE mailboxes (
    account_id       bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    mailbox_id       bigint NOT NULL,
    name             text COLLATE "C" NOT NULL,
    uid_validity     bigint NOT NULL,
    uid_next         bigint NOT NULL DEFAULT 1,
    highest_modseq   bigint NOT NULL DEFAULT 1,
    special_use      text,
    first_recent_uid bigint NOT NULL DEFAULT 1,  -- \\Recent marker (RFC 3501 §2.3.2)
    message_count    bigint NOT NULL DEFAULT 0,
    total_size       bigint NOT NULL DEFAULT 0,
    unseen_count     bigint NOT NULL DEFAULT 0,
    deleted_count    bigint NOT NULL DEFAULT 0,
    recent_count     bigint NOT NULL DEFAULT 0,  -- messages with uid >= first_recent_uid
    PRIMARY KEY (account_id, mailbox_id),
    CONSTRAINT mailboxes_name_unique UNIQUE (account_id, name),
    CHECK (message_count >= 0 AND total_size >= 0 AND unseen_count >= 0 AND deleted_count >= 0 AND recent_count >= 0)
  );

  CREATE TABLE subscriptions (
    account_id bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, name)
  );

  CREATE TABLE blobs (
    blob_id      text COLLATE "C" PRIMARY KEY CHECK (blob_id ~ '^[0-9a-f]{64}$'),  -- lower-case hex SHA-256 of the bytes
    size         bigint NOT NULL,
    -- Message rows and held tombstones pointing here, directly or through a composite.
    refcount     bigint NOT NULL DEFAULT 0 CHECK (refcount >= 0),
    staged_until timestamptz,  -- unreferenced but freshly staged: not garbage before this time
    analysis     bytea,        -- MessageAnalysis (analysis-codec), set by the first message referencing it; NULL on composites
    data         bytea,        -- the bytes; NULL on a composite
    base_id      text COLLATE "C",  -- composite: the plain blob whose bytes follow the prefix
    prefix       bytea,             -- composite: the bytes before the base's
    CHECK ((data IS NULL) = (base_id IS NOT NULL) AND (base_id IS NULL) = (prefix IS NULL))
  );
  -- Uncompressed out-of-line storage: substring() reads a range without detoasting the whole message.
  ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;
  CREATE INDEX blobs_garbage ON blobs (blob_id) WHERE refcount = 0;

  -- Chunks of a message body still arriving (BlobWriter); removed when it is finished or aborted.
  CREATE TABLE blob_staging (
    stage_id   uuid NOT NULL,
    seq        integer NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stage_id, seq)
  );
  ALTER TABLE blob_staging ALTER COLUMN data SET STORAGE EXTERNAL;
  CREATE INDEX blob_staging_age ON blob_staging (created_at);

  CREATE TABLE messages (
    account_id    bigint NOT NULL,
    mailbox_id    bigint NOT NULL,
    uid           bigint NOT NULL,
    modseq        bigint NOT NULL,
    system_flags  smallint NOT NULL,  -- bits, see ../sqlite/flags.ts
    keywords      text NOT NULL,      -- space-separated, case-preserved
    internal_date timestamptz NOT NULL,
    save_date     timestamptz NOT NULL,  -- RFC 8514
    size          bigint NOT NULL,
    blob_id       text COLLATE "C" NOT NULL,
    email_id      text NOT NULL,      -- RFC 8474 EMAILID
    PRIMARY KEY (account_id, mailbox_id, uid),
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
  );
  -- RFC 7162 "changed since": rows with modseq > ? in one mailbox.
  CREATE INDEX messages_modseq ON messages (account_id, mailbox_id, modseq);
  -- EXPUNGE finds \\Deleted messages without reading the whole mailbox.
  CREATE INDEX messages_deleted ON messages (account_id, mailbox_id, uid) WHERE ${IS_DELETED_SQL};

  -- Expunge tombstones (RFC 7162 §3.2.5.2 VANISHED): (uid, modseq) per removed message. While
  -- blob_id is set the tombstone also "holds" the message for sessions not yet told (RFC 2180 §4.1)
  -- and counts in the blob's refcount; the retention sweep sets these columns to NULL.
  CREATE TABLE expunged (
    account_id    bigint NOT NULL,
    mailbox_id    bigint NOT NULL,
    modseq        bigint NOT NULL,
    uid           bigint NOT NULL,
    blob_id       text COLLATE "C",
    system_flags  smallint,
    keywords      text,
    internal_date timestamptz,
    save_date     timestamptz,
    size          bigint,
    email_id      text,
    expunged_at   timestamptz,
    PRIMARY KEY (account_id, mailbox_id, modseq, uid),
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
  );
  -- Both partial: only held tombstones (at most one retention period of expunges) are indexed.
  CREATE INDEX expunged_held ON expunged (account_id, mailbox_id, uid) WHERE blob_id IS NOT NULL;
  CREATE INDEX expunged_due ON expunged (expunged_at) WHERE blob_id IS NOT NULL;

  -- Addresses delivering into an account (LMTP); looked up before the account is known.
  CREATE TABLE aliases (
    address_key text COLLATE "C" NOT NULL,  -- lower-cased address
    address     text NOT NULL,              -- as given
    account_id  bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    CONSTRAINT aliases_address_unique PRIMARY KEY (address_key)
  );
  CREATE INDEX aliases_account ON aliases (account_id);

  -- mailkeep import / migrate: the source key of every imported message with its UID, and resume states.
  CREATE TABLE import_records (
    account_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    source_key text COLLATE "C" NOT NULL,
    uid        bigint NOT NULL,
    PRIMARY KEY (account_id, mailbox_id, source_key),
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
  );
  CREATE TABLE sync_states (
    account_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    source     text COLLATE "C" NOT NULL,
    state      text NOT NULL,
    PRIMARY KEY (account_id, mailbox_id, source),
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
  );

  -- RFC 5464 METADATA of a mailbox, or with mailbox_id 0 the account's server-level entries (no
  -- mailbox has id 0, so no foreign key covers mailboxes: the store deletes a mailbox's entries with it).
  CREATE TABLE metadata (
    account_id bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    mailbox_id bigint NOT NULL,
    name       text COLLATE "C" NOT NULL,  -- lower-case entry name, e.g. /private/comment
    value      bytea NOT NULL,
    PRIMARY KEY (account_id, mailbox_id, name)
  );
`;

/** The account channel (events/change-bus.ts ACCOUNT_CHANNEL): a per-account counter raised by every namespace change. */
const namespaceVersions: PgMigration = `
  CREATE TABLE namespace_versions (
    account_id bigint PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    version    bigint NOT NULL
  );
`;

/**
 * What SORT, THREAD and header SEARCH read of a message (mime/header-facts.ts),
 * stored at ingestion beside the analysis (plain blobs only: a composite reads
 * its base's). Rows stored before this migration stay NULL and are derived
 * from the analysis when first needed.
 */
const headerFacts: PgMigration = `
  ALTER TABLE blobs ADD COLUMN header_facts text;
`;

/**
 * Per-mailbox counts a hostile client could otherwise grow without bound (as
 * SQLite's mailboxCounts): the random MAILBOXID minted with each new mailbox
 * (older rows keep NULL and their derived id), and the keywords (lower-cased)
 * each mailbox defines, filled here from the messages and then by every
 * write that brings a keyword, under the mailbox's row lock.
 */
const mailboxCounts: PgMigration = `
  ALTER TABLE mailboxes ADD COLUMN object_id text;

  CREATE TABLE mailbox_keywords (
    account_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    keyword    text COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, mailbox_id, keyword),
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes (account_id, mailbox_id) ON DELETE CASCADE
  );

  INSERT INTO mailbox_keywords (account_id, mailbox_id, keyword)
  SELECT DISTINCT m.account_id, m.mailbox_id, lower(k.keyword)
  FROM messages m, unnest(string_to_array(m.keywords, ' ')) AS k (keyword)
  WHERE m.keywords <> ''
  ON CONFLICT DO NOTHING;
`;

/**
 * Login-attempt state shared by the nodes (auth/throttle.ts,
 * store/shared/auth-attempts.ts). Installation-wide like `counters`: keyed by
 * client address and account name, which may name no account; on Citus a
 * reference table (or local to one coordinator).
 */
const authAttempts: PgMigration = `
  CREATE TABLE auth_failures (
    kind         text COLLATE "C" NOT NULL,  -- 'ip', 'account', 'pair' (failures in a window) or 'trusted' (last success)
    key          text COLLATE "C" NOT NULL,
    failures     integer NOT NULL,
    window_start bigint NOT NULL,            -- epoch ms
    PRIMARY KEY (kind, key)
  );
  CREATE TABLE auth_in_flight (
    attempt_id bigserial PRIMARY KEY,
    ip         text COLLATE "C" NOT NULL,
    pair       text COLLATE "C" NOT NULL,
    expires_at bigint NOT NULL              -- epoch ms; a dead node's attempts stop counting then
  );
  CREATE INDEX auth_in_flight_ip ON auth_in_flight (ip);
  CREATE INDEX auth_in_flight_pair ON auth_in_flight (pair);
`;

/** Disabled accounts and the last login (`mailkeep user set --disabled`, `user show`). */
const accountStates: PgMigration = `
  ALTER TABLE accounts ADD COLUMN disabled boolean NOT NULL DEFAULT false;
  ALTER TABLE accounts ADD COLUMN last_login_at timestamptz;
  ALTER TABLE accounts ADD COLUMN last_login_protocol text;
  ALTER TABLE accounts ADD COLUMN last_login_address text;
`;

/**
 * App passwords and the account switch that requires them (auth/app-passwords.ts,
 * `mailkeep user app-password`, `user set --require-app-passwords`). Ids come from
 * the counter 'app_password_id', raised past the account's largest (so a copied
 * store goes on from there): never reused; a live name is unique per account.
 */
const appPasswordsAndRequirement: PgMigration = `
  ALTER TABLE accounts ADD COLUMN require_app_passwords boolean NOT NULL DEFAULT false;
  CREATE TABLE app_passwords (
    account_id         bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    app_password_id    bigint NOT NULL,
    name               text NOT NULL,
    name_key           text NOT NULL,   -- lower-cased name
    lookup             text NOT NULL,   -- the password's first group (not secret: the rest is)
    password_hash      text NOT NULL,
    protocols          text NOT NULL,   -- space-separated
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz,
    revoked_at         timestamptz,
    last_used_at       timestamptz,
    last_used_protocol text,
    last_used_address  text,
    PRIMARY KEY (account_id, app_password_id)
  );
  CREATE UNIQUE INDEX app_passwords_live_name ON app_passwords (account_id, name_key) WHERE revoked_at IS NULL;
`;

/** The admin API's tokens (their SHA-256 only), the web admin's accounts and the audit log (store/shared/admin.ts); times in epoch ms as in SQLite. */
const adminTokensAndAudit: PgMigration = `
  CREATE TABLE api_tokens (
    name       text COLLATE "C" PRIMARY KEY,
    token_hash text COLLATE "C" NOT NULL UNIQUE,  -- lower-case hex SHA-256 of the token
    created_at bigint NOT NULL,                   -- epoch ms
    expires_at bigint                             -- epoch ms; NULL: never
  );
  CREATE TABLE admin_audit (
    audit_id bigserial PRIMARY KEY,  -- the paging cursor
    at       bigint NOT NULL,        -- epoch ms
    actor    text NOT NULL,
    action   text NOT NULL,
    target   text,
    address  text NOT NULL,
    outcome  text NOT NULL
  );
  CREATE TABLE admin_users (
    name          text COLLATE "C" PRIMARY KEY,  -- web admin accounts, apart from mail accounts
    password_hash text NOT NULL,
    totp_secret   text NOT NULL,                 -- base32 (RFC 6238)
    created_at    bigint NOT NULL                -- epoch ms
  );
`;

/** Sieve scripts (RFC 5804): named texts per account, at most one active (`mailkeep sieve`, ManageSieve). */
const sieveScripts: PgMigration = `
  CREATE TABLE sieve_scripts (
    account_id bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,   -- NFC, compared octet by octet (RFC 5804 §1.6)
    content    text NOT NULL,
    size       integer NOT NULL,            -- octets of content in UTF-8 (quotas, LISTSCRIPTS)
    active     boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, name)
  );
  CREATE UNIQUE INDEX sieve_scripts_one_active ON sieve_scripts (account_id) WHERE active;
`;

/** Web admin sign-ins shared by every worker and node, and the TOTP step each admin used last. */
const adminSignInsAcrossWorkers: PgMigration = `
  CREATE TABLE admin_sign_ins (
    id_hash    text COLLATE "C" PRIMARY KEY,  -- SHA-256 of the cookie value: the table holds no usable cookie
    user_name  text NOT NULL,
    csrf       text NOT NULL,
    expires_at bigint NOT NULL                -- epoch ms
  );
  ALTER TABLE admin_users ADD COLUMN last_totp_step bigint;  -- RFC 6238 §5.2: a code is accepted once
`;

/** Sieve memory (RFC 5230 §4.2 vacation replies sent, RFC 7352 duplicate ids): per-account keys with an expiry. */
const sieveDeliveryMemory: PgMigration = `
  CREATE TABLE sieve_memory (
    account_id bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    kind       text NOT NULL,          -- 'duplicate' | 'vacation'
    key        text COLLATE "C" NOT NULL, -- SHA-256 of handle and id or sender (mail/sieve-context.ts)
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, kind, key)
  );
`;

/**
 * SCRAM keys (RFC 5802 §3) per account and hash function, tied to the
 * password hash they were derived beside (store/scram-key-types.ts).
 */
const scramKeys: PgMigration = `
  CREATE TABLE scram_keys (
    account_id    bigint NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    hash          text COLLATE "C" NOT NULL,  -- 'SHA-1' or 'SHA-256'
    password_hash text NOT NULL,              -- accounts.password_hash when derived; another value retires the row
    salt          bytea NOT NULL,
    iterations    integer NOT NULL,
    stored_key    bytea NOT NULL,
    server_key    bytea NOT NULL,
    PRIMARY KEY (account_id, hash)
  );
`;

/** Composites starting their base at an offset (see the SQLite schema's compositeOffsets). */
const compositeOffsets: PgMigration = `
  ALTER TABLE blobs ADD COLUMN base_from bigint NOT NULL DEFAULT 0;  -- composite: where in the base its bytes start
`;

/** The live nodes and their heartbeats (see the SQLite schema's liveNodes); times in epoch ms as in SQLite. */
const liveNodes: PgMigration = `
  CREATE TABLE live_nodes (
    name         text COLLATE "C" PRIMARY KEY,  -- host:pid of the serve process (its primary under --workers N)
    workers      integer NOT NULL,              -- worker processes; 1: a single process (slot 0)
    started_at   bigint NOT NULL,               -- epoch ms
    heartbeat_at bigint NOT NULL                -- epoch ms, by the node's clock
  );
`;

/** Every migration in order; mailkeep_schema.version says how many have run. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  initialSchema,
  namespaceVersions,
  headerFacts,
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

/** Serializes migrations of one database across nodes (an arbitrary constant: 'mkschema'). */
const MIGRATION_LOCK = 0x6d6b736368656d61n;

/** SQL fragment: a system_flags value without \Seen (for counts). */
export const UNSEEN_SQL = `system_flags & ${SEEN} = 0`;

/**
 * Brings a database up to date in one transaction under an advisory lock.
 * Returns the versions before and after; refuses a database written by a
 * newer mailkeep, and a database whose encoding cannot hold every name.
 */
export async function migratePg(pool: pg.Pool, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<{ from: number; to: number }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const encoding = (await client.query<{ server_encoding: string }>('SHOW server_encoding')).rows[0]?.server_encoding;
    if (encoding !== 'UTF8') throw new Error(`the database must use UTF8 encoding (it uses ${encoding ?? 'unknown'})`);
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
      await client.query('CREATE TABLE IF NOT EXISTS mailkeep_schema (version integer NOT NULL)');
      const row = (await client.query<{ version: number }>('SELECT version FROM mailkeep_schema')).rows[0];
      const from = row?.version ?? 0;
      if (from > migrations.length) {
        throw new Error(`database schema version ${from} is newer than this mailkeep supports (${migrations.length})`);
      }
      for (let v = from; v < migrations.length; v++) await client.query(migrations[v] ?? '');
      if (!row) await client.query('INSERT INTO mailkeep_schema (version) VALUES ($1)', [migrations.length]);
      else if (from !== migrations.length) await client.query('UPDATE mailkeep_schema SET version = $1', [migrations.length]);
      await client.query('COMMIT');
      return { from, to: migrations.length };
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken = e instanceof Error ? e : new Error(String(e));
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
}
