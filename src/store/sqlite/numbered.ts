/**
 * Statements written once for both backends (store/shared/*.ts) use numbered
 * parameters ($1 …); better-sqlite3 binds those only by name, so $1 becomes
 * @p1. Each is prepared on first use: its tables exist once the store is migrated.
 */
import type Database from 'better-sqlite3';

const named = (sql: string): string => sql.replace(/\$(\d+)/g, '@p$1');
const bind = (values: readonly unknown[]): Record<string, unknown> => Object.fromEntries(values.map((v, i) => [`p${i + 1}`, v]));

/** Shared SQL text run on one SQLite connection. */
export class NumberedStatements {
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  get<R>(sql: string, values: readonly unknown[]): R | undefined {
    return this.statement(sql).get(bind(values)) as R | undefined;
  }

  all<R>(sql: string, values: readonly unknown[]): R[] {
    return this.statement(sql).all(bind(values)) as R[];
  }

  run(sql: string, values: readonly unknown[]): Database.RunResult {
    return this.statement(sql).run(bind(values));
  }

  private statement(sql: string): Database.Statement {
    let st = this.prepared.get(sql);
    if (st === undefined) {
      st = this.db.prepare(named(sql));
      this.prepared.set(sql, st);
    }
    return st;
  }
}
