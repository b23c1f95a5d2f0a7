/**
 * The control channel (events/control-channel.ts): between sibling workers
 * (an in-memory primary routes their PeerLink messages, as cluster IPC does),
 * between nodes over PostgreSQL NOTIFY, and as a server uses it — a kick ends
 * a live IMAP session with BYE, credentials-changed empties the account's
 * cached verifications, the listing includes the session, and ACME
 * challenges set up in one worker are answered by its siblings.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { AcmeChallenges } from '../src/acme/challenges.js';
import { CredentialCache } from '../src/auth/credential-cache.js';
import { ControlChannel, type ControlMessage } from '../src/events/control-channel.js';
import type { PeerLink, PeerMessage } from '../src/events/peer-link.js';
import { PgControlChannel } from '../src/events/pg-control.js';
import type { AccountId } from '../src/ids.js';
import { LiveSessions } from '../src/net/live-sessions.js';
import { startServerControl } from '../src/server/server-control.js';
import { openStore } from '../src/store/open.js';
import type { MailStore } from '../src/store/types.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from './helpers/pg-database.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Links `n` workers through an in-memory primary that forwards like cluster-primary.ts (async, in order). */
function siblings(n: number): PeerLink[] {
  const handlers = new Map<number, Array<(m: PeerMessage) => void>>();
  return Array.from({ length: n }, (_, i) => {
    const self = i + 1;
    handlers.set(self, []);
    return {
      self,
      workers: n,
      send(message: PeerMessage) {
        const to = message.kind === 'control' ? message.to : undefined;
        for (const [slot, list] of handlers) {
          if (slot === self || (to !== undefined && slot !== to)) continue;
          // Structured clone: what crosses a process boundary is a copy.
          const copy = structuredClone(message);
          setImmediate(() => {
            for (const h of list) h(copy);
          });
        }
      },
      onMessage: (h: (m: PeerMessage) => void) => handlers.get(self)!.push(h),
    };
  });
}

const noError = (err: unknown): void => assert.fail(`unexpected error: ${String(err)}`);

/** Resolves with the next `count` messages a channel hands to its handlers of `type`. */
function collect(channel: ControlChannel, type: ControlMessage['type'], count: number): Promise<ControlMessage[]> {
  const got: ControlMessage[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} ${type} messages arrived`)), 5000);
    channel.on(type, (m) => {
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        setTimeout(() => resolve(got), 50);
      }
    });
  });
}

describe('control channel between workers', () => {
  it('broadcasts to the sender and every sibling, each once, in order', async () => {
    const [a, b, c] = siblings(3).map((link) => new ControlChannel(link, noError));
    const heardB = collect(b!, 'kick', 2);
    const heardC = collect(c!, 'kick', 2);
    const heardA = collect(a!, 'kick', 2);
    a!.broadcast({ type: 'kick', accountId: 7, reason: 'first' });
    a!.broadcast({ type: 'kick', accountId: 7, reason: 'second', credential: 'app:3' });
    for (const heard of [heardA, heardB, heardC]) {
      assert.deepEqual(
        (await heard).map((m) => (m.type === 'kick' ? m.reason : '')),
        ['first', 'second'],
      );
    }
  });

  it('gathers the siblings’ replies to a request', async () => {
    const [a, b, c] = siblings(3).map((link) => new ControlChannel(link, noError));
    const from = { node: 'n', last: true };
    b!.answer('sessions-request', (m) => [{ type: 'sessions-reply', requestId: m.requestId, ...from, worker: 2, sessions: [{ id: 'b1' }] }]);
    // A reply in two parts: the sibling has answered once its last part came.
    c!.answer('sessions-request', (m) => [
      { type: 'sessions-reply', requestId: m.requestId, ...from, worker: 3, last: false, sessions: [{ id: 'c1' }] },
      { type: 'sessions-reply', requestId: m.requestId, ...from, worker: 3, sessions: [{ id: 'c2' }] },
    ]);
    const started = Date.now();
    const replies = await a!.request({ type: 'sessions-request', requestId: 'r1', filter: {}, limit: 10 }, { timeoutMs: 5000 });
    assert.ok(Date.now() - started < 4000, 'returns once every sibling answered, not at the timeout');
    assert.deepEqual(replies.flatMap((r) => (r.type === 'sessions-reply' ? r.sessions.map((s) => s.id) : [])).sort(), ['b1', 'c1', 'c2']);
  });

  it('counts the sessions each sibling ended for a kick request, with a silent sibling left out at the timeout', async () => {
    // The third channel answers nothing.
    const [a, b] = siblings(3).map((link) => new ControlChannel(link, noError));
    const filters: unknown[] = [];
    b!.answer('kick-sessions-request', (m) => {
      filters.push(m.filter);
      return [{ type: 'kick-sessions-reply', requestId: m.requestId, node: 'n', worker: 2, last: true, kicked: 2 }];
    });
    const started = Date.now();
    const replies = await a!.request({ type: 'kick-sessions-request', requestId: 'k1', filter: { user: 'ann' }, reason: 'bye' }, { timeoutMs: 300 });
    assert.ok(Date.now() - started >= 250, 'waits for the silent sibling until the timeout');
    assert.deepEqual(
      replies.map((r) => r.kicked),
      [2],
    );
    assert.deepEqual(filters, [{ user: 'ann' }]);
  });

  it('drops malformed messages and handles a duplicate once', async () => {
    const errors: unknown[] = [];
    const [link] = siblings(1);
    const channel = new ControlChannel(link!, (err) => errors.push(err));
    let kicks = 0;
    channel.on('kick', () => kicks++);
    const node = { start: async (on: (p: string) => void) => void (deliver = on), send: async () => undefined, close: async () => undefined };
    let deliver: (payload: string) => void = () => undefined;
    await channel.attachNodes(node);
    const envelope = { id: 'same-id', from: 9, message: { type: 'kick', accountId: 1, reason: 'x' } };
    deliver(JSON.stringify(envelope));
    deliver(JSON.stringify(envelope));
    deliver(JSON.stringify({ id: 'other', from: 9, message: { type: 'kick', accountId: -1, reason: 'x' } }));
    deliver('not json');
    assert.equal(kicks, 1);
    assert.equal(errors.length, 2);
  });
});

describe('server control between workers', () => {
  it('mirrors the ACME challenges one worker sets up to its siblings, and their removal', async () => {
    const links = siblings(2);
    const challenges = links.map(() => new AcmeChallenges());
    const controls = await Promise.all(
      links.map((peers, i) =>
        startServerControl({
          store: {} as MailStore,
          credentials: new CredentialCache({ ttlMs: 60_000, maxEntries: 10 }),
          sessions: new LiveSessions(),
          log: pino({ level: 'silent' }),
          peers,
          node: 'test',
          challenges: challenges[i]!,
        }),
      ),
    );
    const [manager, sibling] = challenges;
    manager!.addHttp('tok-1', 'tok-1.thumbprint');
    await waitFor(() => sibling!.httpResponse('tok-1') === 'tok-1.thumbprint');
    manager!.removeHttp('tok-1');
    await waitFor(() => sibling!.httpResponse('tok-1') === undefined);
    for (const c of controls) await c.close();
  });
});

/** Polls `done` every 10 ms for up to 5 s. */
async function waitFor(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail('condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pgUp = await pgAvailable();

describe('control channel between nodes (PostgreSQL NOTIFY)', { skip: pgUp ? false : 'no PostgreSQL test server' }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const channels: ControlChannel[] = [];

  before(async () => {
    db = await createTestDatabase({ migrated: true });
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });

  after(async () => {
    for (const c of channels) await c.close();
    await pool.end();
    await db.drop();
  });

  it('a credentials-changed sent on one node reaches the other, once on each', async () => {
    for (let i = 0; i < 2; i++) {
      const channel = new ControlChannel(null, noError);
      await channel.attachNodes(new PgControlChannel(() => new pg.Client({ connectionString: db.url }), pool, noError));
      channels.push(channel);
    }
    const [one, two] = channels;
    const heardTwo = collect(two!, 'credentials-changed', 1);
    const heardOne = collect(one!, 'credentials-changed', 1);
    one!.broadcast({ type: 'credentials-changed', accountId: 42 });
    assert.deepEqual(await heardTwo, [{ type: 'credentials-changed', accountId: 42 }]);
    // The sender handled it at once and drops its own NOTIFY echo (collect waits 50 ms for a second copy).
    assert.deepEqual(await heardOne, [{ type: 'credentials-changed', accountId: 42 }]);
  });

  it('a sessions request reaches every process of every node; long answers come in parts; a kick by id stops at its holder', async () => {
    const registries = [new LiveSessions(), new LiveSessions(), new LiveSessions()];
    // Enough sessions with long mailbox names that one process's answer needs several NOTIFY payloads.
    const kicked: string[] = [];
    for (const [i, registry] of registries.entries()) {
      for (let n = 0; n < 40; n++) {
        const id = `s${i}-${n}`;
        const info = {
          id,
          protocol: 'imap' as const,
          remoteAddress: '127.0.0.1',
          tls: true,
          since: new Date().toISOString(),
          user: { accountId: 1, name: `user${i}`, credential: 'password' },
          mailbox: `${'m'.repeat(400)}${n}`,
          command: null,
        };
        registry.add({ id, describe: () => info, shutdown: () => void kicked.push(id) });
      }
    }
    // Nodes a and b, and b's second worker (a sibling reached through NOTIFY too: one path per request).
    const places = [
      { node: 'a', worker: 0 },
      { node: 'b', worker: 1 },
      { node: 'b', worker: 2 },
    ];
    const controls = await Promise.all(
      places.map((place, i) =>
        startServerControl({
          store: {
            nodeChannel: (onError: (err: unknown) => void) => new PgControlChannel(() => new pg.Client({ connectionString: db.url }), pool, onError),
          } as unknown as MailStore,
          credentials: new CredentialCache({ ttlMs: 60_000, maxEntries: 10 }),
          sessions: registries[i]!,
          log: pino({ level: 'silent' }),
          peers: place.worker === 0 ? null : { self: place.worker, workers: 2, send: () => undefined, onMessage: () => undefined },
          node: place.node,
          challenges: new AcmeChallenges(),
        }),
      ),
    );
    try {
      const all = await controls[0]!.listSessions({}, 1000);
      assert.equal(all.sessions.length, 120);
      assert.deepEqual(all.answered, places);
      assert.equal(all.sessions.find((s) => s.id === 's2-7')?.node, 'b');
      assert.equal(all.sessions.find((s) => s.id === 's2-7')?.mailbox, `${'m'.repeat(400)}7`);
      const one = await controls[0]!.listSessions({ user: 'USER1' }, 5);
      assert.deepEqual(new Set(one.sessions.map((s) => s.user?.name)), new Set(['user1']));
      assert.equal(one.sessions.length, 5);
      const started = Date.now();
      assert.equal(await controls[0]!.kickSessions({ id: 's2-3' }, 'bye'), 1);
      assert.ok(Date.now() - started < 1400, 'the holder’s answer ends the wait');
      assert.deepEqual(kicked, ['s2-3']);
      assert.equal(await controls[1]!.kickSessions({ user: 'user0' }, 'bye'), 40);
      assert.equal(await controls[1]!.kickSessions({ id: 'none' }, 'bye'), 0);
    } finally {
      for (const c of controls) await c.close();
    }
  });

  it('the PostgreSQL store announces a password change, a disable and a deletion to every node', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-control-'));
    const store = await openStore({ dataDir, url: db.url });
    try {
      const account = await store.createAccount('changing', 'hash-1');
      const heard = collect(channels[1]!, 'credentials-changed', 3);
      await store.setPasswordHash(account.id, 'hash-2');
      await store.setDisabled(account.id, true);
      await store.deleteAccount(account.id);
      assert.deepEqual(
        (await heard).map((m) => (m.type === 'credentials-changed' ? m.accountId : 0)),
        [account.id, account.id, account.id],
      );
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a server on its control channel', () => {
  let srv: TestServer;

  before(async () => {
    srv = await startTestServer({ plaintextAuth: { allowInsecure: true } });
    await srv.addUser('kicked', 'pw-kicked');
  });

  after(() => srv.stop());

  it('lists the session, forgets cached verifications and kicks with BYE', async () => {
    const { client } = await RawClient.connect(srv.imapPort);
    assert.match((await client.command('l', 'LOGIN kicked pw-kicked', 30_000)).tagged, /^l OK/);
    const account = await srv.server.store.findAccount('kicked');
    assert.ok(account);
    const listed = await srv.server.control.listSessions({}, 10);
    assert.ok(listed.sessions.some((s) => s.user?.name === 'kicked'));
    assert.equal(listed.answered.length, 1);

    assert.ok(srv.server.credentials.size > 0, 'the login was cached');
    srv.server.control.credentialsChanged(account.id as AccountId);
    assert.equal(srv.server.credentials.size, 0);

    srv.server.control.kick(account.id as AccountId, 'Account locked by the administrator');
    assert.match(await client.readLine(), /^\* BYE Account locked by the administrator/);
    client.close();
  });
});
