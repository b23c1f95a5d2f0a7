/**
 * The admin side of `mailkeep serve --workers 2` (issues 21 and 23), on SQLite
 * and PostgreSQL, as a child process over real sockets: /metrics scraped from
 * one worker counts the logins of both; the admin API lists and kicks the
 * sessions of every worker (the client on the other worker sees `* BYE`) and
 * a password change through it ends them all; /api/v1/server lists the
 * workers; a web admin sign-in made in one worker is honoured by the other and
 * a sign-out in the other ends it; a TOTP code is accepted once across
 * workers; /readyz answers in each worker. A request is pinned to a worker by
 * keeping one connection open whose first answer carried `x-mailkeep-worker`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Administration } from '../src/auth/administration.js';
import { hashPassword } from '../src/auth/password.js';
import { totpCode } from '../src/auth/totp.js';
import { openStore } from '../src/store/open.js';
import { addToken } from './helpers/admin-api.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { imapOnWorker, workerPids } from './helpers/cluster.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from './helpers/pg-database.js';
import { parseScrape, sampleSum } from './helpers/prometheus.js';
import type { RawClient } from './helpers/raw-client.js';
import { freePort, spawnServer, type ChildServer } from './helpers/server.js';

const WORKERS = 2;
const USER = 'kicked';
const PASSWORD = 'kicked-pw';
const ADMIN = 'root';
const ADMIN_PASSWORD = 'root-pw';
/** Connections tried to reach one chosen worker (round-robin makes a few enough). */
const MAX_TRIES = 40;
/** Scrapes timed for the report. */
const TIMED_SCRAPES = 20;

/** An HTTP answer. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Requests over one kept-alive connection, which landed on a known worker. */
interface Pinned {
  send(method: string, path: string, opts?: { headers?: Record<string, string>; body?: string }): Promise<Answer>;
  close(): void;
}

function send(agent: Agent, port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: opts.headers, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A connection to the admin listener of the given worker slot. */
async function pinTo(port: number, worker: number): Promise<Pinned> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const probe = await send(agent, port, 'GET', '/healthz');
    if (probe.headers['x-mailkeep-worker'] === String(worker)) {
      return {
        async send(method, path, opts) {
          const answer = await send(agent, port, method, path, opts);
          // The one connection must still be the pinned worker's.
          assert.equal(answer.headers['x-mailkeep-worker'], String(worker));
          return answer;
        },
        close: () => agent.destroy(),
      };
    }
    agent.destroy();
  }
  throw new Error(`no admin connection reached worker ${worker} in ${MAX_TRIES} tries`);
}

/** An IMAP connection to the given worker slot after a LOGIN, and the LOGIN's tagged answer. */
async function loginOn(port: number, worker: number, password: string): Promise<{ client: RawClient; tagged: string }> {
  const client = await imapOnWorker(port, worker);
  return { client, tagged: (await client.command('l', `LOGIN ${USER} ${password}`, 30_000)).tagged };
}

/** A logged-in IMAP connection to the given worker slot. */
async function imapOn(port: number, worker: number, password = PASSWORD): Promise<RawClient> {
  const { client, tagged } = await loginOn(port, worker, password);
  assert.match(tagged, /^l OK/);
  return client;
}

const IMAP_LOGINS = { protocol: 'imap', outcome: 'succeeded' };

const backends = [
  { name: 'SQLite', pg: false },
  { name: 'PostgreSQL', pg: true },
];
const pgUp = await pgAvailable();

for (const backend of backends) {
  describe(`the admin side of serve --workers ${WORKERS} on ${backend.name}`, { skip: backend.pg && !pgUp ? 'no PostgreSQL test server' : false }, () => {
    let dataDir: string;
    let db: TestDatabase | null = null;
    let server: ChildServer;
    let adminPort: number;
    let token: string;
    let totpSecret: string;
    const bearer = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-cluster-admin-'));
      if (backend.pg) db = await createTestDatabase({ migrated: true });
      const store = await openStore({ dataDir, url: db?.url ?? null });
      await store.createAccount(USER, await hashPassword(PASSWORD, CHEAP_HASHING));
      token = await addToken(store, 'ops');
      totpSecret = await new Administration(store, { actor: 'cli:test', address: 'local' }, CHEAP_HASHING).addAdminUser(ADMIN, ADMIN_PASSWORD);
      await store.close();
      adminPort = await freePort();
      const args = ['--workers', String(WORKERS), '--log-level', 'info', '--admin-port', String(adminPort), ...(db ? ['--store', db.url] : [])];
      server = await spawnServer(dataDir, args, process.env, 'mailkeep cluster started');
    });

    after(async () => {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await server.exited;
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('/metrics scraped from one worker counts the logins made in both', async (t) => {
      const admin = await pinTo(adminPort, 1);
      try {
        const scrape = async () => {
          const res = await admin.send('GET', '/metrics');
          assert.equal(res.status, 200, res.text);
          return parseScrape(res.text);
        };
        const before = await scrape();
        const made = [3, 2];
        for (const [i, n] of made.entries()) {
          for (let k = 0; k < n; k++) {
            const c = await imapOn(server.imapsPort, i + 1);
            await c.command('o', 'LOGOUT');
            c.close();
          }
        }
        const afterScrape = await scrape();
        for (const [i, n] of made.entries()) {
          const match = { ...IMAP_LOGINS, worker: String(i + 1) };
          assert.equal(sampleSum(afterScrape, 'mailkeep_logins_total', match) - sampleSum(before, 'mailkeep_logins_total', match), n, `worker ${i + 1}`);
        }
        assert.equal(sampleSum(afterScrape, 'mailkeep_logins_total', IMAP_LOGINS) - sampleSum(before, 'mailkeep_logins_total', IMAP_LOGINS), 5);
        // What a merged scrape costs (worker → primary → every worker → back), reported, not gated.
        const times: number[] = [];
        for (let i = 0; i < TIMED_SCRAPES; i++) {
          const started = performance.now();
          await scrape();
          times.push(performance.now() - started);
        }
        times.sort((x, y) => x - y);
        t.diagnostic(`merged scrape over ${TIMED_SCRAPES}: median ${times[TIMED_SCRAPES >> 1]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
      } finally {
        admin.close();
      }
    });

    it('the API lists the sessions of both workers and kicks one in the other worker (it sees * BYE)', async () => {
      const a = await imapOn(server.imapsPort, 1);
      const b = await imapOn(server.imapsPort, 2);
      const admin = await pinTo(adminPort, 1);
      try {
        await b.command('s', 'SELECT INBOX');
        const listed = await admin.send('GET', `/api/v1/sessions?user=${USER}`, { headers: bearer() });
        assert.equal(listed.status, 200, listed.text);
        const sessions = JSON.parse(listed.text).sessions as Array<{ id: string; mailbox: string | null }>;
        assert.equal(sessions.length, 2);
        // The primary registered the node with both workers: each answered, none is missing.
        assert.deepEqual(JSON.parse(listed.text).missing, []);
        const other = sessions.find((s) => s.mailbox === 'INBOX');
        assert.ok(other, listed.text);
        const kicked = await admin.send('DELETE', `/api/v1/sessions/${other.id}`, { headers: bearer() });
        assert.equal(kicked.status, 200, kicked.text);
        assert.deepEqual(JSON.parse(kicked.text), { kicked: 1 });
        await b.readUntil(/^\* BYE /);
        // The one in this worker is still there; an unknown id is 404 after asking every worker.
        assert.match((await a.command('n', 'NOOP')).tagged, /^n OK/);
        assert.equal((await admin.send('DELETE', '/api/v1/sessions/nosuchsession', { headers: bearer() })).status, 404);
      } finally {
        admin.close();
        a.close();
        b.close();
      }
    });

    it('kicking an account and changing its password through the API end its sessions in every worker', async () => {
      const admin = await pinTo(adminPort, 2);
      let clients = [await imapOn(server.imapsPort, 1), await imapOn(server.imapsPort, 2)];
      try {
        const kicked = await admin.send('DELETE', `/api/v1/accounts/${USER}/sessions`, { headers: bearer() });
        assert.equal(kicked.status, 200, kicked.text);
        assert.deepEqual(JSON.parse(kicked.text), { kicked: 2 });
        for (const c of clients) await c.readUntil(/^\* BYE /);
        for (const c of clients) c.close();

        clients = [await imapOn(server.imapsPort, 1), await imapOn(server.imapsPort, 2)];
        const changed = await admin.send('PUT', `/api/v1/accounts/${USER}/password`, {
          headers: { ...bearer(), 'content-type': 'application/json' },
          body: JSON.stringify({ password: 'new-pw-123' }),
        });
        assert.ok(changed.status < 300, changed.text);
        for (const c of clients) await c.readUntil(/^\* BYE /);
        const after = await admin.send('GET', `/api/v1/sessions?user=${USER}`, { headers: bearer() });
        assert.deepEqual(JSON.parse(after.text).sessions, []);
        // The new password works in both workers, and the old one, verified (and cached) in both before, in neither.
        for (const w of [1, 2]) {
          const c = await imapOn(server.imapsPort, w, 'new-pw-123');
          await c.command('o', 'LOGOUT');
          c.close();
          const old = await loginOn(server.imapsPort, w, PASSWORD);
          assert.match(old.tagged, /^l NO /);
          old.client.close();
        }
      } finally {
        admin.close();
        for (const c of clients) c.close();
      }
    });

    it('GET /api/v1/server lists the workers (slot, pid, uptime) and the node', async () => {
      const admin = await pinTo(adminPort, 2);
      try {
        const res = await admin.send('GET', '/api/v1/server', { headers: bearer() });
        assert.equal(res.status, 200, res.text);
        const body = JSON.parse(res.text) as {
          startedAt: string;
          workers: { self: number; list: Array<{ slot: number; pid: number; startedAt: string; uptimeSeconds: number }> };
          processes: Array<{ pid: number }>;
          nodes: Array<{ name: string; workers: number }>;
        };
        // One node, named after the primary, with both workers.
        assert.deepEqual(
          body.nodes.map((n) => [n.name, n.workers]),
          [[`${hostname()}:${server.child.pid}`, WORKERS]],
        );
        assert.equal(body.workers.self, 2);
        const pids = workerPids(server);
        assert.deepEqual(
          body.workers.list.map((w) => [w.slot, w.pid]),
          [...pids].sort((x, y) => x[0] - y[0]),
        );
        for (const w of body.workers.list) assert.ok(w.uptimeSeconds >= 0);
        assert.equal(body.processes[0]?.pid, pids.get(2));
        // "Up since" is the start of `serve`, the same from every worker, before any worker was forked.
        const other = await pinTo(adminPort, 1);
        try {
          const fromOne = JSON.parse((await other.send('GET', '/api/v1/server', { headers: bearer() })).text) as { startedAt: string };
          assert.equal(fromOne.startedAt, body.startedAt);
        } finally {
          other.close();
        }
        for (const w of body.workers.list) assert.ok(Date.parse(body.startedAt) <= Date.parse(w.startedAt), `${body.startedAt} after ${w.startedAt}`);
      } finally {
        admin.close();
      }
    });

    it('a web admin sign-in made in one worker holds in the other; signing out in the other ends it; a code is used once', async () => {
      const one = await pinTo(adminPort, 1);
      const two = await pinTo(adminPort, 2);
      const base = `http://127.0.0.1:${adminPort}`;
      const form = { 'content-type': 'application/x-www-form-urlencoded', origin: base };
      try {
        const code = totpCode(totpSecret);
        const signIn = await one.send('POST', '/admin/login', {
          headers: form,
          body: new URLSearchParams({ name: ADMIN, password: ADMIN_PASSWORD, code }).toString(),
        });
        assert.equal(signIn.status, 303);
        assert.equal(signIn.headers.location, '/admin/');
        const cookie = /mailkeep_admin=[^;]+/.exec(String(signIn.headers['set-cookie']))?.[0];
        assert.ok(cookie);

        const page = await two.send('GET', '/admin/', { headers: { cookie } });
        assert.equal(page.status, 200, page.text);
        const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
        assert.ok(csrf);
        // The dashboard's login total is every worker's, as /metrics counts them (the earlier tests logged in on both).
        const shown = Number(/<table id="activity"><tr><td>logins<\/td><td class="num">(\d+)</.exec(page.text)?.[1]);
        const scraped = sampleSum(parseScrape((await two.send('GET', '/metrics')).text), 'mailkeep_logins_total', { outcome: 'succeeded' });
        assert.equal(shown, scraped);
        assert.ok(scraped > sampleSum(parseScrape((await two.send('GET', '/metrics')).text), 'mailkeep_logins_total', { outcome: 'succeeded', worker: '2' }));

        // The same code again, in the other worker: refused (RFC 6238 §5.2).
        const replay = await two.send('POST', '/admin/login', {
          headers: form,
          body: new URLSearchParams({ name: ADMIN, password: ADMIN_PASSWORD, code }).toString(),
        });
        assert.equal(replay.status, 303);
        assert.match(String(replay.headers.location), /^\/admin\/login\?error=/);

        const out = await two.send('POST', '/admin/logout', { headers: { ...form, cookie }, body: new URLSearchParams({ csrf }).toString() });
        assert.equal(out.status, 303);
        const gone = await one.send('GET', '/admin/', { headers: { cookie } });
        assert.equal(gone.status, 303);
        assert.equal(gone.headers.location, '/admin/login');
      } finally {
        one.close();
        two.close();
      }
    });

    it('/readyz answers ready in each worker', async () => {
      for (const w of [1, 2]) {
        const admin = await pinTo(adminPort, w);
        try {
          const res = await admin.send('GET', '/readyz');
          assert.equal(res.status, 200, res.text);
          assert.deepEqual(JSON.parse(res.text), { ready: true, reasons: [] });
        } finally {
          admin.close();
        }
      }
    });
  });
}
