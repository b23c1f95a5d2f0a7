/**
 * `[admin] audit-retention` (issue 23): audit entries older than the
 * retention are deleted in bounded batches, younger ones stay, on SQLite and
 * PostgreSQL; a server started with a short retention trims its log in the
 * background shortly after start-up.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { configSchema } from '../src/config/schema.js';
import { AUDIT_PRUNE_BATCH, AuditRetention } from '../src/server/audit-retention.js';
import { openStore } from '../src/store/open.js';
import type { MailStore } from '../src/store/types.js';
import { createTestDatabase, pgAvailable } from './helpers/pg-database.js';
import { startTestServer } from './helpers/server.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const log = pino({ level: 'silent' });

/** Records `n` entries dated `daysAgo` days back, named by `tag`. */
async function record(store: MailStore, n: number, daysAgo: number, tag: string): Promise<void> {
  const at = new Date(Date.now() - daysAgo * DAY_MS);
  for (let i = 0; i < n; i++) await store.recordAudit({ at, actor: 'token:ops', action: tag, target: `t${i}`, address: '127.0.0.1', outcome: 'ok' });
}

/** The actions of every entry left, newest first. */
async function actions(store: MailStore): Promise<string[]> {
  return (await store.auditPage(null, 10_000)).map((e) => e.action);
}

const pgUp = await pgAvailable();

describe('audit retention', () => {
  it('defaults to 365 days; 0 is accepted (keep forever)', () => {
    assert.equal(configSchema.parse({}).admin.auditRetention, 365);
    assert.equal(configSchema.parse({ admin: { auditRetention: '0' } }).admin.auditRetention, 0);
    assert.throws(() => configSchema.parse({ admin: { auditRetention: -1 } }));
  });

  for (const backend of ['SQLite', 'PostgreSQL'] as const) {
    it(`deletes what is older than the retention in batches of ${AUDIT_PRUNE_BATCH}, on ${backend}`, { skip: backend === 'PostgreSQL' && !pgUp }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-audit-'));
      const db = backend === 'PostgreSQL' ? await createTestDatabase({ migrated: true }) : null;
      const store = await openStore({ dataDir, url: db?.url ?? null });
      try {
        const old = AUDIT_PRUNE_BATCH * 2 + 17;
        await record(store, old, 400, 'old');
        await record(store, 3, 29, 'recent');
        await record(store, 1, 0, 'now');
        const batches: number[] = [];
        const counting = {
          pruneAudit: async (before: Date, limit: number) => {
            const n = await store.pruneAudit(before, limit);
            assert.equal(limit, AUDIT_PRUNE_BATCH);
            batches.push(n);
            return n;
          },
        };
        assert.equal(await new AuditRetention(counting, 30, log).sweep(), old);
        assert.deepEqual(batches, [AUDIT_PRUNE_BATCH, AUDIT_PRUNE_BATCH, 17]);
        assert.deepEqual(await actions(store), ['now', 'recent', 'recent', 'recent']);
        // Nothing more to do: one batch that deletes nothing.
        assert.equal(await new AuditRetention(store, 30, log).sweep(), 0);
        // A shorter retention takes the recent ones too.
        assert.equal(await new AuditRetention(store, 1, log).sweep(), 3);
        assert.deepEqual(await actions(store), ['now']);
      } finally {
        await store.close();
        await db?.drop();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }

  it('a server with a short retention trims the log in the background after start-up', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-audit-server-'));
    try {
      const store = await openStore({ dataDir, url: null });
      await record(store, 5, 3, 'old');
      await record(store, 2, 0, 'now');
      await store.close();
      const srv = await startTestServer({ dataDir, store: { url: null }, admin: { auditRetention: 2 } });
      try {
        const deadline = Date.now() + 15_000;
        while ((await actions(srv.server.store)).includes('old')) {
          assert.ok(Date.now() < deadline, 'the old entries are still there after 15 s');
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(await actions(srv.server.store), ['now', 'now']);
      } finally {
        await srv.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
