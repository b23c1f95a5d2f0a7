/**
 * The SQLite store's administration role (AdminStore): API token hashes, the
 * audit log, and the admin API's paged account list and size (SQL in
 * ../shared/admin.ts, shared with PostgreSQL).
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
import { type AccountRow, toAccount } from '../shared/rows.js';
import { type Account, StoreError } from '../types.js';
import type { SqliteBase } from './core.js';
import { NumberedStatements } from './numbered.js';

/** Adds the AdminStore role to the SQLite store. */
export function withAdmin<B extends SqliteBase>(Base: B) {
  return class SqliteAdmin extends Base implements AdminStore {
    private adminStatements: NumberedStatements | undefined;

    private get sql(): NumberedStatements {
      this.adminStatements ??= new NumberedStatements(this.db);
      return this.adminStatements;
    }

    async addApiToken(name: string, tokenHash: string, expiresAt: Date | null): Promise<void> {
      const row = await this.write(() => this.sql.get(TOKEN_INSERT_SQL, tokenInsertParams(name, tokenHash, expiresAt, Date.now())));
      if (row === undefined) throw new StoreError('ALREADYEXISTS', 'token exists');
    }

    async findApiToken(tokenHash: string): Promise<ApiTokenInfo | null> {
      const row = this.sql.get<TokenRow>(TOKEN_BY_HASH_SQL, [tokenHash]);
      return row ? toTokenInfo(row) : null;
    }

    async listApiTokens(): Promise<ApiTokenInfo[]> {
      return this.sql.all<TokenRow>(TOKENS_SQL, []).map(toTokenInfo);
    }

    async revokeApiToken(name: string): Promise<void> {
      await this.write(() => this.changedOne(this.sql.run(TOKEN_DELETE_SQL, [name]), 'token'));
    }

    async addAdminUser(name: string, passwordHash: string, totpSecret: string): Promise<void> {
      const row = await this.write(() => this.sql.get(ADMIN_USER_INSERT_SQL, [name, passwordHash, totpSecret, Date.now()]));
      if (row === undefined) throw new StoreError('ALREADYEXISTS', 'admin user exists');
    }

    async findAdminUser(name: string): Promise<AdminUser | null> {
      const row = this.sql.get<AdminUserRow>(ADMIN_USER_SQL, [name]);
      return row ? toAdminUser(row) : null;
    }

    async claimAdminTotpStep(name: string, step: number): Promise<boolean> {
      return (await this.write(() => this.sql.get(ADMIN_TOTP_STEP_SQL, [name, step]))) !== undefined;
    }

    async addAdminSignIn(idHash: string, signIn: StoredSignIn): Promise<void> {
      await this.write(() => {
        this.sql.run(SIGN_IN_PRUNE_SQL, [Date.now()]);
        this.sql.run(SIGN_IN_INSERT_SQL, [idHash, signIn.user, signIn.csrf, signIn.expiresAt.getTime()]);
      });
    }

    async findAdminSignIn(idHash: string): Promise<StoredSignIn | null> {
      const row = this.sql.get<SignInRow>(SIGN_IN_SQL, [idHash, Date.now()]);
      return row ? toSignIn(row) : null;
    }

    async deleteAdminSignIn(idHash: string): Promise<void> {
      await this.write(() => this.sql.run(SIGN_IN_DELETE_SQL, [idHash]));
    }

    async recordAudit(entry: NewAuditEntry): Promise<void> {
      await this.write(() => this.sql.run(AUDIT_INSERT_SQL, auditInsertParams(entry)));
    }

    async pruneAudit(before: Date, limit: number): Promise<number> {
      return this.write(() => this.sql.run(AUDIT_PRUNE_SQL, [limit, before.getTime()]).changes);
    }

    async auditPage(beforeId: number | null, limit: number): Promise<AuditEntry[]> {
      return this.sql.all<AuditRow>(AUDIT_PAGE_SQL, auditPageParams(beforeId, limit)).map(toAuditEntry);
    }

    async accountPage(afterName: string | null, limit: number, contains: string | null): Promise<Account[]> {
      return this.sql.all<AccountRow<number>>(ACCOUNT_PAGE_SQL, accountPageParams(afterName, limit, contains)).map(toAccount);
    }

    async storageSize(): Promise<StorageSize> {
      const pages = this.sql.get<{ bytes: number }>('SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()', []);
      const blobs = this.sql.get<{ bytes: number }>(BLOB_BYTES_SQL, []);
      return { databaseBytes: Number(pages?.bytes ?? 0), blobBytes: Number(blobs?.bytes ?? 0) };
    }

    async beatNode(node: LiveNode, staleBefore: Date): Promise<void> {
      await this.write(() => {
        this.sql.run(NODE_PRUNE_SQL, [staleBefore.getTime()]);
        this.sql.run(NODE_UPSERT_SQL, nodeUpsertParams(node));
      });
    }

    async removeNode(name: string): Promise<void> {
      await this.write(() => this.sql.run(NODE_DELETE_SQL, [name]));
    }

    async liveNodes(staleBefore: Date): Promise<LiveNode[]> {
      return this.sql.all<NodeRow>(NODES_SQL, [staleBefore.getTime()]).map(toLiveNode);
    }
  };
}
