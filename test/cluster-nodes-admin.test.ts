/**
 * Sessions across nodes (issue 23): two `mailkeep serve` processes on one
 * PostgreSQL database, each with its admin listener. The admin API of node A
 * lists a session logged in on node B (user, protocol, remote address, TLS,
 * since, mailbox, command, and where it runs), says which processes answered,
 * and kicks it by id: the client on node B sees `* BYE`. Kicking all of an
 * account's sessions through node B ends those on node A. Both nodes are in
 * the live nodes' table, so a listing ends once both answered; a killed node
 * is named missing until its heartbeat expires.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { openStore } from '../src/store/open.js';
import { addToken, callApi } from './helpers/admin-api.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from './helpers/pg-database.js';
import { RawClient } from './helpers/raw-client.js';
import { type ChildServer, freePort, spawnServer } from './helpers/server.js';

const USER = 'roamer';
const PASSWORD = 'roamer-pw';

const available = await pgAvailable();

describe('sessions across two nodes on one PostgreSQL database', { skip: available ? false : 'no PostgreSQL test server' }, () => {
  let db: TestDatabase;
  let dir: string;
  const nodes: Array<{ server: ChildServer; adminPort: number }> = [];
  let token: string;

  async function login(node: number): Promise<RawClient> {
    const { client } = await RawClient.connect(nodes[node]!.server.imapsPort, { tls: true });
    assert.match((await client.command('l', `LOGIN ${USER} ${PASSWORD}`, 30_000)).tagged, /^l OK/);
    return client;
  }

  before(async () => {
    db = await createTestDatabase({ migrated: true });
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-nodes-admin-'));
    const store = await openStore({ dataDir: join(dir, 'setup'), url: db.url });
    await store.createAccount(USER, await hashPassword(PASSWORD));
    token = await addToken(store, 'ops');
    await store.close();
    for (const name of ['a', 'b']) {
      const adminPort = await freePort();
      nodes.push({ server: await spawnServer(join(dir, name), ['--store', db.url, '--admin-port', String(adminPort)]), adminPort });
    }
  });

  after(async () => {
    for (const { server } of nodes) {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    }
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('node A lists a session of node B with its details and kicks it by id (the client sees * BYE)', async () => {
    const client = await login(1);
    try {
      assert.match((await client.command('s', 'SELECT INBOX')).tagged, /^s OK/);
      client.send('i IDLE\r\n');
      assert.match(await client.readLine(), /^\+ /);
      const listed = await callApi(nodes[0]!.adminPort, 'GET', `/api/v1/sessions?user=${USER}`, { token });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      // Both single-process nodes answered; node B's pid is in its name.
      const answered = listed.body.answered as Array<{ node: string; worker: number }>;
      assert.equal(answered.length, 2, JSON.stringify(answered));
      const nodeB = answered.find((r) => r.node.endsWith(`:${nodes[1]!.server.child.pid}`));
      assert.ok(nodeB, JSON.stringify(answered));
      assert.equal(listed.body.sessions.length, 1, JSON.stringify(listed.body));
      const s = listed.body.sessions[0];
      assert.equal(s.user.name, USER);
      assert.equal(s.protocol, 'imap');
      assert.equal(s.remoteAddress, '127.0.0.1');
      assert.equal(s.tls, true);
      assert.ok(Date.now() - Date.parse(s.since) < 60_000, s.since);
      assert.equal(s.mailbox, 'INBOX');
      assert.equal(s.command, 'IDLE');
      assert.equal(s.node, nodeB.node);

      const kicked = await callApi(nodes[0]!.adminPort, 'DELETE', `/api/v1/sessions/${s.id}`, { token });
      assert.equal(kicked.status, 200, JSON.stringify(kicked.body));
      assert.deepEqual(kicked.body, { kicked: 1 });
      await client.readUntil(/^\* BYE /);
      assert.equal((await callApi(nodes[0]!.adminPort, 'DELETE', '/api/v1/sessions/nosuchsession', { token })).status, 404);
      // The kick is in node A's audit log.
      const audit = await callApi(nodes[0]!.adminPort, 'GET', '/api/v1/audit', { token });
      assert.ok(
        (audit.body.entries as Array<{ action: string; target: string }>).some((e) => e.action === 'session.kick' && e.target === s.id),
        JSON.stringify(audit.body),
      );
    } finally {
      client.close();
    }
  });

  it('node B ends every session of the account, those on node A included', async () => {
    const clients = [await login(0), await login(0), await login(1)];
    try {
      const kicked = await callApi(nodes[1]!.adminPort, 'DELETE', `/api/v1/accounts/${USER}/sessions`, { token });
      assert.equal(kicked.status, 200, JSON.stringify(kicked.body));
      assert.deepEqual(kicked.body, { kicked: 3 });
      for (const c of clients) await c.readUntil(/^\* BYE /);
      const after = await callApi(nodes[1]!.adminPort, 'GET', `/api/v1/sessions?user=${USER}`, { token });
      assert.deepEqual(after.body.sessions, []);
    } finally {
      for (const c of clients) c.close();
    }
  });

  /** Node `i`'s name, as GET /server lists it (host:pid). */
  const nameOf = (i: number): string => `${hostname()}:${nodes[i]!.server.child.pid}`;
  const listing = (node: number) => callApi(nodes[node]!.adminPort, 'GET', '/api/v1/sessions', { token });
  const liveNodes = async (node: number): Promise<Array<{ name: string; workers: number; started: string; lastHeartbeat: string }>> => {
    const server = await callApi(nodes[node]!.adminPort, 'GET', '/api/v1/server', { token });
    assert.equal(server.status, 200, JSON.stringify(server.body));
    return server.body.nodes;
  };

  it('both nodes are in GET /server, and a listing ends once both answered instead of waiting out the window', async (t) => {
    const listed = await liveNodes(0);
    assert.deepEqual(listed.map((n) => n.name).sort(), [nameOf(0), nameOf(1)].sort());
    for (const n of listed) {
      assert.equal(n.workers, 1);
      assert.ok(Date.parse(n.started) <= Date.parse(n.lastHeartbeat), JSON.stringify(n));
      assert.ok(Date.now() - Date.parse(n.lastHeartbeat) < 30_000, JSON.stringify(n));
    }
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const res = await listing(0);
      times.push(performance.now() - started);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual((res.body.answered as Array<{ node: string }>).map((r) => r.node).sort(), [nameOf(0), nameOf(1)].sort());
      assert.deepEqual(res.body.missing, []);
    }
    // A listing that waited for the window takes at least its 1.5 s; the median one did not (no tighter bound: CI is loaded).
    const median = times.sort((a, b) => a - b)[1]!;
    t.diagnostic(`listings: ${times.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    assert.ok(median < 1500, `median listing took ${median.toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(', ')})`);
  });

  it('a killed node is named missing until its heartbeat expires, then it is gone from the nodes', async () => {
    const b = nodes[1]!.server;
    b.child.kill('SIGKILL');
    await b.exited;
    const res = await listing(0);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.missing, [{ node: nameOf(1), worker: 0 }]);
    assert.deepEqual(
      (res.body.answered as Array<{ node: string }>).map((r) => r.node),
      [nameOf(0)],
    );
    // Three missed 5-second beats: bounded polling, generously.
    const deadline = Date.now() + 40_000;
    while ((await liveNodes(0)).some((n) => n.name === nameOf(1))) {
      assert.ok(Date.now() < deadline, 'node B still listed 40 s after it was killed');
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(
      (await liveNodes(0)).map((n) => n.name),
      [nameOf(0)],
    );
    const after = await listing(0);
    assert.deepEqual(after.body.missing, []);
    assert.deepEqual(
      (after.body.answered as Array<{ node: string }>).map((r) => r.node),
      [nameOf(0)],
    );
  });
});
