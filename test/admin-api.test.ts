/**
 * The admin HTTP API over real HTTP (web/admin/): every endpoint, token
 * authentication and its failures, paging, kicking a live IMAP session (the
 * client sees `* BYE`), the audit trail, and the OpenAPI document matching
 * the routes. Runs on SQLite, and on PostgreSQL under MAILKEEP_TEST_STORE.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { hashApiToken } from '../src/auth/api-token.js';
import { eventually, waitUntil } from './helpers/eventually.js';
import { addToken, callApi, checkedOperations, type ApiResponse } from './helpers/admin-api.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let port: number;
let token: string;

/** The API as the `ops` token. */
const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> => callApi(port, method, path, { token, body });

before(async () => {
  srv = await startTestServer({ adminPort: await freePort(), authThrottle: { passwordHashCost: 10 } });
  port = srv.server.ports.admin!;
  token = await addToken(srv.server.store, 'ops');
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) await srv.addUser(name, `pw-${name}`);
});
after(async () => srv.stop());

describe('admin API authentication', () => {
  test('a missing, malformed, unknown, revoked or expired token gets 401 with no detail', async () => {
    const revoked = await addToken(srv.server.store, 'gone');
    await srv.server.store.revokeApiToken('gone');
    const expired = 'mk_expiredexpiredexpiredexpiredexpiredexpired';
    await srv.server.store.addApiToken('old', hashApiToken(expired), new Date(Date.now() - 1000));
    for (const opts of [{}, { authorization: `Basic ${token}` }, { token: 'mk_nope' }, { token: revoked }, { token: expired }]) {
      const res = await callApi(port, 'GET', '/api/v1/accounts', opts);
      assert.equal(res.status, 401, JSON.stringify(opts));
      assert.deepEqual(res.body, { error: 'unauthorized', message: 'unauthorized' });
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assert.equal((await api('GET', '/api/v1/accounts')).status, 200);
  });

  test('the OpenAPI document is public; unknown endpoints are JSON 404s', async () => {
    const doc = await callApi(port, 'GET', '/api/v1/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    const missing = await api('GET', '/api/v1/no-such-thing');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not-found');
  });
});

describe('accounts', () => {
  test('create, refuse duplicates and bad input, show with mailboxes, list paged and filtered', async () => {
    const created = await api('POST', '/api/v1/accounts', { name: 'frank', password: 'pw-frank' });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, 'frank');
    assert.equal((await api('POST', '/api/v1/accounts', { name: 'Frank', password: 'x' })).body.error, 'exists');
    const bad = await api('POST', '/api/v1/accounts', { name: 'has space', password: 'x' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid');
    assert.equal((await api('POST', '/api/v1/accounts', { name: 'gina' })).body.error, 'invalid');
    assert.equal((await api('POST', '/api/v1/accounts', { name: 'gina', password: '' })).body.error, 'invalid');
    const prohibited = await api('POST', '/api/v1/accounts', { name: 'gina', password: 'pw\u0007' });
    assert.equal(prohibited.status, 400);
    assert.match(String(prohibited.body.message), /SASLprep \(RFC 4013 §2\.3\) prohibits/);

    // frank can log in with the password the API set.
    const imap = await RawClient.login(srv.imapsPort, 'frank', 'pw-frank');
    imap.close();

    // The last login is recorded in the background (auth/last-login.ts), beside the SCRAM key check: wait for it.
    const shown = await eventually(
      () => api('GET', '/api/v1/accounts/FRANK'),
      (r) => r.body.lastLogin !== null,
    );
    assert.equal(shown.status, 200);
    assert.equal(shown.body.name, 'frank');
    assert.equal(shown.body.disabled, false);
    assert.equal(shown.body.lastLogin.protocol, 'imap');
    assert.deepEqual(shown.body.quota, { storage: null, messages: null, usedStorage: 0, usedMessages: 0 });
    const inbox = shown.body.mailboxes.find((m: { name: string }) => m.name === 'INBOX');
    assert.deepEqual(inbox, { name: 'INBOX', specialUse: null, messages: 0, unseen: 0, size: 0 });
    assert.equal((await api('GET', '/api/v1/accounts/nobody')).body.error, 'not-found');

    // Paging: six accounts two at a time, in name order, nothing skipped or repeated.
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const res: ApiResponse = await api('GET', `/api/v1/accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.accounts.length <= 2);
      seen.push(...res.body.accounts.map((a: { name: string }) => a.name));
      cursor = res.body.next;
      if (cursor === null) break;
    }
    assert.deepEqual(seen, ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']);
    const filtered = await api('GET', '/api/v1/accounts?q=AR');
    assert.deepEqual(
      filtered.body.accounts.map((a: { name: string }) => a.name),
      ['carol'],
    );
    assert.equal((await api('GET', '/api/v1/accounts?limit=0')).body.error, 'invalid');
    assert.equal((await api('GET', '/api/v1/accounts?cursor=not%20a%20cursor')).body.error, 'invalid');
  });

  test('a password change ends the account’s sessions; the old password stops working', async () => {
    const session = await RawClient.login(srv.imapsPort, 'bob', 'pw-bob');
    try {
      const res = await api('PUT', '/api/v1/accounts/bob/password', { password: 'new-bob' });
      assert.equal(res.status, 200);
      assert.equal(res.body.sessionsEnded, 1);
      assert.match(await session.readLine(10_000), /^\* BYE /);
    } finally {
      session.close();
    }
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      assert.match((await client.command('a', 'LOGIN bob pw-bob', 30_000)).tagged, /^a NO/);
      assert.match((await client.command('b', 'LOGIN bob new-bob', 30_000)).tagged, /^b OK/);
    } finally {
      client.close();
    }
  });

  test('disable ends sessions and refuses logins; enable allows them again', async () => {
    const session = await RawClient.login(srv.imapsPort, 'carol', 'pw-carol');
    try {
      const res = await api('POST', '/api/v1/accounts/carol/disable');
      assert.equal(res.status, 200);
      assert.equal(res.body.disabled, true);
      assert.equal(res.body.sessionsEnded, 1);
      assert.match(await session.readLine(10_000), /^\* BYE /);
    } finally {
      session.close();
    }
    await assert.rejects(RawClient.login(srv.imapsPort, 'carol', 'pw-carol'));
    assert.equal((await api('POST', '/api/v1/accounts/carol/enable')).body.disabled, false);
    (await RawClient.login(srv.imapsPort, 'carol', 'pw-carol')).close();
  });

  test('quota: read and set, a limit left out is kept, bad values refused', async () => {
    assert.deepEqual((await api('PUT', '/api/v1/accounts/dave/quota', { storage: 1000000 })).body, { storage: 1000000, messages: null });
    assert.deepEqual((await api('PUT', '/api/v1/accounts/dave/quota', { messages: 50 })).body, { storage: 1000000, messages: 50 });
    const q = await api('GET', '/api/v1/accounts/dave/quota');
    assert.deepEqual(q.body, { storage: 1000000, messages: 50, usedStorage: 0, usedMessages: 0 });
    assert.equal((await api('PUT', '/api/v1/accounts/dave/quota', { storage: -1 })).body.error, 'invalid');
    assert.equal((await api('PUT', '/api/v1/accounts/dave/quota', {})).body.error, 'invalid');
    assert.deepEqual((await api('PUT', '/api/v1/accounts/dave/quota', { storage: null, messages: null })).body, { storage: null, messages: null });
  });

  test('aliases: add, list (all and per account), refuse duplicates, delete', async () => {
    assert.equal((await api('POST', '/api/v1/aliases', { address: 'sales@example.com', user: 'dave' })).status, 201);
    assert.equal((await api('POST', '/api/v1/aliases', { address: 'SALES@example.com', user: 'erin' })).body.error, 'exists');
    assert.equal((await api('POST', '/api/v1/aliases', { address: 'x@example.com', user: 'nobody' })).body.error, 'not-found');
    assert.equal((await api('POST', '/api/v1/aliases', { address: 'bad address', user: 'dave' })).body.error, 'invalid');
    assert.deepEqual((await api('GET', '/api/v1/aliases')).body.aliases, [{ address: 'sales@example.com', user: 'dave' }]);
    assert.deepEqual((await api('GET', '/api/v1/aliases?user=erin')).body.aliases, []);
    assert.deepEqual((await api('GET', '/api/v1/accounts/dave')).body.aliases, ['sales@example.com']);
    assert.equal((await api('DELETE', `/api/v1/aliases/${encodeURIComponent('sales@example.com')}`)).status, 200);
    assert.equal((await api('DELETE', `/api/v1/aliases/${encodeURIComponent('sales@example.com')}`)).body.error, 'not-found');
  });

  test('delete needs ?confirm=NAME, then removes the account and ends its sessions', async () => {
    await srv.addUser('zed', 'pw-zed');
    const session = await RawClient.login(srv.imapsPort, 'zed', 'pw-zed');
    try {
      const unconfirmed = await api('DELETE', '/api/v1/accounts/zed');
      assert.equal(unconfirmed.status, 400);
      assert.equal(unconfirmed.body.error, 'confirmation-required');
      assert.equal((await api('DELETE', '/api/v1/accounts/zed?confirm=bob')).body.error, 'confirmation-required');
      const res = await api('DELETE', '/api/v1/accounts/zed?confirm=zed');
      assert.deepEqual(res.body, { deleted: 'zed', sessionsEnded: 1 });
      assert.match(await session.readLine(10_000), /^\* BYE /);
    } finally {
      session.close();
    }
    assert.equal((await api('GET', '/api/v1/accounts/zed')).status, 404);
  });
});

describe('sessions', () => {
  test('live sessions are listed and filtered; one is kicked by id, the rest by account; the IMAP client sees * BYE', async () => {
    const a = await RawClient.login(srv.imapsPort, 'alice', 'pw-alice');
    const b = await RawClient.login(srv.imapsPort, 'alice', 'pw-alice');
    const e = await RawClient.login(srv.imapsPort, 'erin', 'pw-erin');
    try {
      assert.match((await a.command('s', 'SELECT INBOX')).tagged, /^s OK/);
      a.send('i IDLE\r\n');
      assert.match(await a.readLine(), /^\+ /);
      const listed = await api('GET', '/api/v1/sessions?user=ALICE&protocol=imap');
      assert.equal(listed.status, 200);
      assert.equal(listed.body.sessions.length, 2);
      const idling = listed.body.sessions.find((s: { command: string | null }) => s.command === 'IDLE');
      assert.ok(idling, JSON.stringify(listed.body));
      assert.equal(idling.mailbox, 'INBOX');
      assert.equal(idling.tls, true);
      assert.equal(idling.remoteAddress, '127.0.0.1');
      assert.equal(idling.user.name, 'alice');
      assert.equal((await api('GET', '/api/v1/sessions?protocol=pop3')).body.sessions.length, 0);
      assert.equal((await api('GET', '/api/v1/sessions?protocol=smtp')).body.error, 'invalid');

      const kicked = await api('DELETE', `/api/v1/sessions/${idling.id}`);
      assert.deepEqual(kicked.body, { kicked: 1 });
      assert.match(await a.readLine(10_000), /^\* BYE Session ended by the administrator/);
      assert.equal((await api('DELETE', `/api/v1/sessions/${idling.id}`)).status, 404);
      // The other alice session and erin's go on.
      assert.match((await b.command('n', 'NOOP')).tagged, /^n OK/);

      assert.deepEqual((await api('DELETE', '/api/v1/accounts/alice/sessions')).body, { kicked: 1 });
      assert.match(await b.readLine(10_000), /^\* BYE /);
      assert.match((await e.command('n', 'NOOP')).tagged, /^n OK/);
      // Sessions end asynchronously after a kick.
      await waitUntil('the kicked sessions to end', async () => (await api('GET', '/api/v1/sessions?user=alice')).body.sessions.length === 0, 10_000);
      assert.equal((await api('DELETE', '/api/v1/accounts/nobody/sessions')).status, 404);
    } finally {
      a.close();
      b.close();
      e.close();
    }
  });
});

describe('server and audit', () => {
  test('server: version, uptime, listeners, certificates, store kind and size, the live node', async () => {
    const res = await api('GET', '/api/v1/server');
    assert.equal(res.status, 200);
    assert.match(res.body.version, /^\d+\.\d+\.\d+/);
    assert.ok(res.body.uptimeSeconds >= 0);
    const names = res.body.listeners.map((l: { name: string }) => l.name);
    for (const n of ['imap', 'imaps', 'admin']) assert.ok(names.includes(n), names.join());
    assert.equal(res.body.listeners.find((l: { name: string }) => l.name === 'admin').port, port);
    assert.equal(res.body.certificates.certificates.length, 1);
    assert.equal(res.body.certificates.certificates[0].source, 'self-signed');
    assert.equal(res.body.store.kind, process.env.MAILKEEP_TEST_STORE === 'postgres' ? 'postgresql' : 'sqlite');
    assert.ok(res.body.storage.databaseBytes > 0);
    assert.equal(typeof res.body.storage.blobBytes, 'number');
    assert.equal(res.body.processes[0].pid, process.pid);
    // The single process is its own node, registered with its heartbeat.
    assert.deepEqual(
      res.body.nodes.map((n: { name: string; workers: number }) => [n.name, n.workers]),
      [[`${hostname()}:${process.pid}`, 1]],
    );
  });

  test('every change is in the audit log with who, what, target, address and outcome, newest first and paged', async () => {
    await api('POST', '/api/v1/accounts', { name: 'audited', password: 'pw' });
    await api('POST', '/api/v1/accounts', { name: 'audited', password: 'pw' });
    const first = await api('GET', '/api/v1/audit?limit=2');
    assert.equal(first.status, 200);
    assert.equal(first.body.entries.length, 2);
    const [newest, older] = first.body.entries;
    assert.equal(newest.action, 'account.create');
    assert.equal(newest.target, 'audited');
    assert.equal(newest.outcome, 'exists');
    assert.equal(newest.actor, 'token:ops');
    assert.equal(newest.address, '127.0.0.1');
    assert.ok(Date.now() - Date.parse(newest.at) < 60_000);
    assert.equal(older.outcome, 'ok');
    assert.ok(newest.id > older.id);

    // Walk every page: the whole trail of this file, oldest entry the CLI-style token creation.
    const all = [...first.body.entries];
    let cursor = first.body.next;
    for (let pages = 0; cursor !== null && pages < 100; pages++) {
      const res = await api('GET', `/api/v1/audit?limit=3&cursor=${cursor}`);
      all.push(...res.body.entries);
      cursor = res.body.next;
    }
    assert.equal(cursor, null);
    const ids = all.map((e: { id: number }) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => y - x),
    );
    assert.equal(new Set(ids).size, ids.length);
    const actions = new Set(all.map((e: { action: string }) => e.action));
    for (const a of [
      'token.add',
      'account.create',
      'account.password',
      'account.disable',
      'account.enable',
      'account.delete',
      'quota.set',
      'alias.add',
      'alias.delete',
      'session.kick',
    ]) {
      assert.ok(actions.has(a), `${a} in ${[...actions].join()}`);
    }
    assert.equal(all[all.length - 1].actor, 'cli:test');
    assert.equal(all[all.length - 1].action, 'token.add');
    assert.ok(all.some((e: { action: string; outcome: string }) => e.action === 'session.kick' && e.outcome === 'not-found'));
  });

  test('the OpenAPI document and the routes match: every documented operation answers, every route is documented', async () => {
    const doc = (await callApi(port, 'GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        const url = path.replace('{name}', 'nobody').replace('{id}', 'nosuchsession').replace('{address}', 'nobody%40example.com');
        const res = await api(method.toUpperCase(), url, method === 'get' || method === 'delete' ? undefined : {});
        // Answered by the route itself (possibly "no such account"), never by the unknown-endpoint handler.
        assert.notEqual(res.body?.message, 'no such endpoint', `${method} ${path}`);
        assert.ok(res.status < 500, `${method} ${path}: ${res.status}`);
      }
    }
    // The routes fastify knows under /api/v1, from its route tree (one segment per line, indented by depth).
    const tree = srv.server.admin!.app.printRoutes({ commonPrefix: false });
    const registered = new Set<string>();
    const stack: string[] = [];
    for (const line of tree.split('\n')) {
      const m = /^([│ ├└─]*?)[├└]── (\S+) \(([^)]+)\)$/.exec(line);
      if (!m) continue;
      const depth = m[1]!.length / 4;
      stack.length = depth;
      stack.push(m[2]!);
      const path = stack.join('').replace(/:(\w+)/g, '{$1}');
      if (!path.startsWith('/api/v1/') || path === '/api/v1/openapi.json') continue;
      for (const method of m[3]!.split(', ')) if (method !== 'HEAD') registered.add(`${method} ${path}`);
    }
    assert.ok(registered.size >= 15, [...registered].join('\n'));
    assert.deepEqual([...registered].sort(), [...documented].sort());
  });
});

describe('the published response schemas', () => {
  // Last in the file: every answer above was checked against the OpenAPI document (helpers/admin-api.ts).
  test('every operation answered successfully at least once in this file, and each answer matched its published schema', async () => {
    const doc = (await callApi(port, 'GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    const unanswered = operations.filter((op) => ![...(checkedOperations.get(op) ?? [])].some((status) => status < 300));
    assert.deepEqual(unanswered, []);
  });
});
