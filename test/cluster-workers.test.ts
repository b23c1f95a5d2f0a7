/**
 * `mailkeep serve --workers N` (issue 21) on SQLite and PostgreSQL, as a child
 * process over real sockets: IDLE and NOTIFY in one worker hear APPEND, STORE,
 * EXPUNGE and CREATE made in another (through the bus relay, well before the
 * cross-process poll would), appends from two workers into one mailbox get
 * unique ascending UIDs, a worker killed with SIGKILL loses no acknowledged
 * write while the others keep serving and the primary restarts it, SIGHUP
 * reloads the certificates in every worker and SIGTERM drains them all. A connection's worker is read from the ID response
 * (`x-worker`).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { openStore } from '../src/store/open.js';
import { imapOnWorker, workerPids } from './helpers/cluster.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from './helpers/pg-database.js';
import type { RawClient } from './helpers/raw-client.js';
import { spawnServer, type ChildServer } from './helpers/server.js';

const WORKERS = 2;
const USER = 'cluster';
const PASSWORD = 'cluster-pw';
/** Appends timed from one worker to an idler in another. */
const TIMED_APPENDS = 40;

/** A logged-in connection (implicit TLS) to the given worker slot. */
async function connectTo(port: number, worker: number): Promise<RawClient> {
  const client = await imapOnWorker(port, worker);
  const login = await client.command('l', `LOGIN ${USER} ${PASSWORD}`, 30_000);
  assert.match(login.tagged, /^l OK/);
  return client;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

const backends = [
  { name: 'SQLite', pg: false },
  { name: 'PostgreSQL', pg: true },
];
const pgUp = await pgAvailable();

for (const backend of backends) {
  describe(`serve --workers ${WORKERS} on ${backend.name}`, { skip: backend.pg && !pgUp ? 'no PostgreSQL test server' : false }, () => {
    let dataDir: string;
    let db: TestDatabase | null = null;
    let server: ChildServer;
    const storeArgs = (): string[] => (db ? ['--store', db.url] : []);

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-cluster-'));
      if (backend.pg) db = await createTestDatabase({ migrated: true });
      const store = await openStore({ dataDir, url: db?.url ?? null });
      await store.createAccount(USER, await hashPassword(PASSWORD, CHEAP_HASHING));
      await store.close();
      server = await spawnServer(dataDir, ['--workers', String(WORKERS), '--log-level', 'info', ...storeArgs()], process.env, 'mailkeep cluster started');
    });

    after(async () => {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await server.exited;
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('IDLE in worker 1 hears APPEND, STORE and EXPUNGE from worker 2; NOTIFY hears CREATE', async () => {
      const idler = await connectTo(server.imapsPort, 1);
      const writer = await connectTo(server.imapsPort, 2);
      const watcher = await connectTo(server.imapsPort, 1);
      try {
        await idler.command('s', 'SELECT INBOX');
        await writer.command('s', 'SELECT INBOX');
        idler.send('d IDLE\r\n');
        await idler.readUntil(/^\+ /);

        const delays: number[] = [];
        for (let i = 1; i <= TIMED_APPENDS; i++) {
          const message = `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
          const appended = await writer.command('a', `APPEND INBOX {${message.length}+}\r\n${message}`);
          assert.match(appended.tagged, /^a OK/);
          const acked = performance.now();
          await idler.readUntil(new RegExp(`^\\* ${i} EXISTS`));
          delays.push(performance.now() - acked);
        }
        delays.sort((a, b) => a - b);
        const p50 = percentile(delays, 0.5);
        const p99 = percentile(delays, 0.99);
        console.log(`# ${backend.name}: APPEND in worker 2 -> EXISTS at an idler in worker 1: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
        // The relay, not the fallback: SQLite's cross-process poll runs every 75 ms, PostgreSQL's catch-up every second,
        // so a median under the poll period means the relay carried most wake-ups (the 10 ms target is the bench's).
        assert.ok(p50 < 70, `median wake-up ${p50.toFixed(1)} ms`);

        assert.match((await writer.command('f', 'STORE 1 +FLAGS (\\Flagged)')).tagged, /^f OK/);
        assert.match(await idler.readUntil(/^\* 1 FETCH/), /\\Flagged/);
        assert.match((await writer.command('x', 'STORE 2 +FLAGS.SILENT (\\Deleted)')).tagged, /^x OK/);
        assert.match((await writer.command('e', 'EXPUNGE')).tagged, /^e OK/);
        await idler.readUntil(/^\* 2 EXPUNGE/);

        assert.match((await watcher.command('n', 'NOTIFY SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))')).tagged, /^n OK/);
        assert.match((await writer.command('c', 'CREATE Projects')).tagged, /^c OK/);
        assert.match(await watcher.readUntil(/^\* LIST /), /Projects/);

        idler.send('DONE\r\n');
        assert.match((await idler.readTagged('d')).tagged, /^d OK/);
      } finally {
        for (const c of [idler, writer, watcher]) c.close();
      }
    });

    it('two workers appending to one mailbox get unique ascending UIDs', async () => {
      const clients = [await connectTo(server.imapsPort, 1), await connectTo(server.imapsPort, 2)];
      try {
        assert.match((await clients[0]!.command('c', 'CREATE Shared')).tagged, /^c OK/);
        const perClient = await Promise.all(
          clients.map(async (client, n) => {
            const uids: number[] = [];
            for (let i = 0; i < 25; i++) {
              const message = `Subject: w${n} ${i}\r\n\r\nx\r\n`;
              const r = await client.command('a', `APPEND Shared {${message.length}+}\r\n${message}`);
              const uid = /\[APPENDUID \d+ (\d+)\]/.exec(r.tagged)?.[1];
              assert.ok(uid, r.tagged);
              uids.push(Number(uid));
            }
            return uids;
          }),
        );
        for (const uids of perClient)
          assert.deepEqual(
            uids,
            [...uids].sort((a, b) => a - b),
            'each client sees its UIDs ascend',
          );
        const all = perClient.flat().sort((a, b) => a - b);
        assert.deepEqual(
          all,
          Array.from({ length: 50 }, (_, i) => i + 1),
          'unique, with no gaps',
        );
      } finally {
        for (const c of clients) c.close();
      }
    });

    it('a worker killed with SIGKILL loses no acknowledged write; the others serve on and it is restarted', async () => {
      const victim = await connectTo(server.imapsPort, 2);
      const survivor = await connectTo(server.imapsPort, 1);
      assert.match((await victim.command('c', 'CREATE Durable')).tagged, /^c OK/);
      const acknowledged: string[] = [];
      for (let i = 0; i < 10; i++) {
        const message = `Subject: durable ${i}\r\n\r\nx\r\n`;
        assert.match((await victim.command('a', `APPEND Durable {${message.length}+}\r\n${message}`)).tagged, /^a OK/);
        acknowledged.push(`durable ${i}`);
      }
      const victimPid = workerPids(server).get(2);
      assert.ok(victimPid, 'worker 2 logged its pid');
      process.kill(victimPid, 'SIGKILL');
      // Its connection drops; the survivor keeps serving meanwhile.
      await assert.rejects(victim.readLine(10_000));
      victim.close();
      const message = 'Subject: after the kill\r\n\r\nx\r\n';
      assert.match((await survivor.command('a', `APPEND Durable {${message.length}+}\r\n${message}`)).tagged, /^a OK/);
      const fetched = await survivor.command('f', 'SELECT Durable');
      assert.match(fetched.lines.join('\n'), /\* 11 EXISTS/);
      const subjects = await survivor.command('g', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
      for (const subject of [...acknowledged, 'after the kill']) assert.ok(subjects.lines.join('\n').includes(`Subject: ${subject}`), subject);
      survivor.close();
      // The primary restarts the slot: a new pid logs "mailkeep started" for worker 2 and serves.
      const deadline = Date.now() + 30_000;
      while ((workerPids(server).get(2) ?? victimPid) === victimPid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.notEqual(workerPids(server).get(2), victimPid, 'worker 2 was restarted');
      assert.match(server.output(), /worker exited; restarting it/);
      const again = await connectTo(server.imapsPort, 2);
      assert.match((await again.command('s', 'SELECT Durable')).lines.join('\n'), /\* 11 EXISTS/);
      again.close();
    });

    it('SIGHUP to the primary reloads the certificates in every worker', async () => {
      const reloaded = (): Set<number> => {
        const workers = new Set<number>();
        for (const line of server.output().split('\n')) {
          if (line.includes('"TLS certificates reloaded"')) workers.add((JSON.parse(line) as { worker: number }).worker);
        }
        return workers;
      };
      server.child.kill('SIGHUP');
      const deadline = Date.now() + 15_000;
      while (reloaded().size < WORKERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        [...reloaded()].sort(),
        Array.from({ length: WORKERS }, (_, i) => i + 1),
      );
    });

    it('SIGTERM drains every worker: idlers get BYE and the primary exits 0', async () => {
      const idlers = [await connectTo(server.imapsPort, 1), await connectTo(server.imapsPort, 2)];
      for (const idler of idlers) {
        await idler.command('s', 'SELECT INBOX');
        idler.send('d IDLE\r\n');
        await idler.readUntil(/^\+ /);
      }
      server.child.kill('SIGTERM');
      for (const idler of idlers) {
        await idler.readUntil(/^\* BYE/, 15_000);
        idler.close();
      }
      assert.equal(await server.exited, 0);
      assert.match(server.output(), /"mailkeep stopped"/);
    });
  });
}
