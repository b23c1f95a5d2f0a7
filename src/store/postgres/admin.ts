/**
 * The PostgreSQL store's administration role (AdminStore): API token hashes,
 * the audit log, and the admin API's paged account list and size (SQL in
 * ../shared/admin.ts, shared with SQLite).
 */
import type { AdminStore, AdminUser, ApiTokenInfo, AuditEntry, LiveNode, NewAuditEntry, StorageSize, StoredSignIn } from '../admin-types.js';
import {
  ACCOUNT_PAGE_SQL,
  ADMIN_TOTP_STEP_SQL,
  ADMIN_USER_INSERT_SQL,
  ADMIN_USER_SQL,
  type AdminUserRow,
  AUDIT_INSERT_SQL,
  AUDIT_PAGE_SQL,
  AUDIT_PRUNE_SQL,
  type AuditRow,
  NODE_DELETE_SQL,
  NODE_PRUNE_SQL,
  NODE_UPSERT_SQL,
  NODES_SQL,
  type NodeRow,
  nodeUpsertParams,
  toLiveNode,
  SIGN_IN_DELETE_SQL,
  SIGN_IN_INSERT_SQL,
  SIGN_IN_PRUNE_SQL,
  SIGN_IN_SQL,
  type SignInRow,
  toSignIn,
  accountPageParams,
  auditInsertParams,
  auditPageParams,
  BLOB_BYTES_SQL,
  TOKEN_BY_HASH_SQL,
  TOKEN_DELETE_SQL,
  TOKEN_INSERT_SQL,
  TOKENS_SQL,
  type TokenRow,
  toAdminUser,
  toAuditEntry,
  tokenInsertParams,
  toTokenInfo,
} from '../shared/admin.js';
import { toAccount } from '../shared/rows.js';
import { type Account, StoreError } from '../types.js';
import type { PgBase } from './core.js';
import type { AccountRow } from './rows.js';
import { firstOf, rowsOf, storable } from './sql.js';

/** Adds the AdminStore role to the PostgreSQL store. */
export function withAdmin<B extends PgBase>(Base: B) {
  return class PgAdmin extends Base implements AdminStore {
    async addApiToken(name: string, tokenHash: string, expiresAt: Date | null): Promise<void> {
      if (!storable(name)) throw new StoreError('CANNOT', 'invalid token name');
      const row = await firstOf(this.pool, TOKEN_INSERT_SQL, tokenInsertParams(name, tokenHash, expiresAt, Date.now()));
      if (row === undefined) throw new StoreError('ALREADYEXISTS', 'token exists');
    }

    async findApiToken(tokenHash: string): Promise<ApiTokenInfo | null> {
      if (!storable(tokenHash)) return null;
      const row = await firstOf<TokenRow>(this.pool, TOKEN_BY_HASH_SQL, [tokenHash]);
      return row ? toTokenInfo(row) : null;
    }

    async listApiTokens(): Promise<ApiTokenInfo[]> {
      return (await rowsOf<TokenRow>(this.pool, TOKENS_SQL, [])).map(toTokenInfo);
    }

    async revokeApiToken(name: string): Promise<void> {
      const res = storable(name) ? await this.pool.query(TOKEN_DELETE_SQL, [name]) : { rowCount: 0 };
      if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such token');
    }

    async addAdminUser(name: string, passwordHash: string, totpSecret: string): Promise<void> {
      if (!storable(name)) throw new StoreError('CANNOT', 'invalid admin user name');
      const row = await firstOf(this.pool, ADMIN_USER_INSERT_SQL, [name, passwordHash, totpSecret, Date.now()]);
      if (row === undefined) throw new StoreError('ALREADYEXISTS', 'admin user exists');
    }

    async findAdminUser(name: string): Promise<AdminUser | null> {
      if (!storable(name)) return null;
      const row = await firstOf<AdminUserRow>(this.pool, ADMIN_USER_SQL, [name]);
      return row ? toAdminUser(row) : null;
    }

    async claimAdminTotpStep(name: string, step: number): Promise<boolean> {
      if (!storable(name)) return false;
      return (await firstOf(this.pool, ADMIN_TOTP_STEP_SQL, [name, step])) !== undefined;
    }

    async addAdminSignIn(idHash: string, signIn: StoredSignIn): Promise<void> {
      await this.pool.query(SIGN_IN_PRUNE_SQL, [Date.now()]);
      await this.pool.query(SIGN_IN_INSERT_SQL, [idHash, signIn.user, signIn.csrf, signIn.expiresAt.getTime()]);
    }

    async findAdminSignIn(idHash: string): Promise<StoredSignIn | null> {
      const row = await firstOf<SignInRow>(this.pool, SIGN_IN_SQL, [idHash, Date.now()]);
      return row ? toSignIn(row) : null;
    }

    async deleteAdminSignIn(idHash: string): Promise<void> {
      await this.pool.query(SIGN_IN_DELETE_SQL, [idHash]);
    }

    async recordAudit(entry: NewAuditEntry): Promise<void> {
      // Audit text is admin input (names, addresses): PostgreSQL text cannot hold NUL.
      const params = auditInsertParams(entry).map((v) => (typeof v === 'string' ? v.replace(/\0/g, '\uFFFD') : v));
      await this.pool.query(AUDIT_INSERT_SQL, params);
    }

    async pruneAudit(before: Date, limit: number): Promise<number> {
      return (await this.pool.query(AUDIT_PRUNE_SQL, [limit, before.getTime()])).rowCount ?? 0;
    }

    async auditPage(beforeId: number | null, limit: number): Promise<AuditEntry[]> {
      return (await rowsOf<AuditRow>(this.pool, AUDIT_PAGE_SQL, auditPageParams(beforeId, limit))).map(toAuditEntry);
    }

    async accountPage(afterName: string | null, limit: number, contains: string | null): Promise<Account[]> {
      if (!storable(afterName ?? '') || !storable(contains ?? '')) return [];
      return (await rowsOf<AccountRow>(this.pool, ACCOUNT_PAGE_SQL, accountPageParams(afterName, limit, contains))).map(toAccount);
    }

    async storageSize(): Promise<StorageSize> {
      const db = await firstOf<{ bytes: string }>(this.pool, 'SELECT pg_database_size(current_database()) AS bytes', []);
      const blobs = await firstOf<{ bytes: string }>(this.pool, BLOB_BYTES_SQL, []);
      return { databaseBytes: Number(db?.bytes ?? 0), blobBytes: Number(blobs?.bytes ?? 0) };
    }

    async beatNode(node: LiveNode, staleBefore: Date): Promise<void> {
      await this.pool.query(NODE_PRUNE_SQL, [staleBefore.getTime()]);
      await this.pool.query(NODE_UPSERT_SQL, nodeUpsertParams(node));
    }

    async removeNode(name: string): Promise<void> {
      await this.pool.query(NODE_DELETE_SQL, [name]);
    }

    async liveNodes(staleBefore: Date): Promise<LiveNode[]> {
      return (await rowsOf<NodeRow>(this.pool, NODES_SQL, [staleBefore.getTime()])).map(toLiveNode);
    }
  };
}
