/**
 * IDLE fan-out through the shared mailbox index (DESIGN "Shared mailbox
 * index"): many sessions on one mailbox learn of a change from one store
 * query per process, with every per-session rule intact — \Recent exactly
 * once (RFC 3501 §2.3.2), no EXPUNGE during FETCH (RFC 9051 §7.4.1), VANISHED
 * for QRESYNC (RFC 7162 §3.2.10), MODSEQ for CONDSTORE — and a second process
 * on the same store still wakes idlers and sees this one's changes at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChangeBus } from '../src/events/change-bus.js';
import { RawClient } from './helpers/raw-client.js';
import { spawnServer, startTestServer, type TestServer } from './helpers/server.js';

/** Generous timeout: 50 TLS sessions on a busy machine. Only a hang should fail a test. */
const SLOW = 30_000;

let srv: TestServer;
let box = 0;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('fan', 'pw');
});
after(async () => srv.stop());

async function login(port = srv.imapsPort): Promise<RawClient> {
  const { client } = await RawClient.connect(port, { tls: true });
  // scrypt makes logins slow on a busy machine.
  assert.match((await client.command('l', 'LOGIN fan pw', 2 * SLOW)).tagged, /OK/);
  return client;
}

async function newMailbox(messages: number): Promise<string> {
  const name = `fan${++box}`;
  const c = await login();
  await c.command('c', `CREATE ${name}`);
  for (let i = 1; i <= messages; i++) await append(c, name, i);
  // Claims \Recent for these, so the sessions under test start with none.
  await c.command('s', `SELECT ${name}`);
  c.close();
  return name;
}

async function append(c: RawClient, name: string, i: number): Promise<void> {
  const msg = `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
  assert.match((await c.command(`a${i}`, `APPEND ${name} {${msg.length}+}\r\n${msg}`)).tagged, /OK/);
}

/** Connects n sessions, each SELECTed (after `enable`, if given) and in IDLE. */
async function idlers(name: string, n: number, enable?: string, port = srv.imapsPort): Promise<RawClient[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = await login(port);
      if (enable) assert.match((await c.command('e', `ENABLE ${enable}`)).tagged, /OK/);
      assert.match((await c.command('s', `SELECT ${name}`, SLOW)).tagged, /OK/);
      c.send('i IDLE\r\n');
      assert.match(await c.readLine(SLOW), /^\+ /);
      return c;
    }),
  );
}

/** Reads lines until one matches (or times out). */
async function readUntil(c: RawClient, re: RegExp, timeoutMs = SLOW): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = await c.readLine(timeoutMs);
    lines.push(line);
    if (re.test(line)) return lines;
  }
}

/** Counts calls of a method (a store's, the bus's) while the test runs. */
function count<T extends object>(target: T, method: keyof T & string): { calls: number; restore(): void } {
  const slot = target as Record<string, unknown>;
  const original = slot[method] as (...args: unknown[]) => unknown;
  const counter = {
    calls: 0,
    restore: () => {
      slot[method] = original;
    },
  };
  slot[method] = (...args: unknown[]) => {
    counter.calls++;
    return original.apply(target, args);
  };
  return counter;
}

/**
 * Counts the bus's settle rounds: SQLite's settle() reads data_version each
 * call; PostgreSQL's calls of one turn share one query, and one promise.
 */
function settleRounds(bus: ChangeBus): { rounds(): number; restore(): void } {
  const results: unknown[] = [];
  const original = bus.settle!;
  bus.settle = (accountId, mailboxId) => {
    const r = original.call(bus, accountId, mailboxId);
    results.push(r);
    return r;
  };
  return {
    rounds: () => results.filter((r) => r === undefined).length + new Set(results.filter((r) => r !== undefined)).size,
    restore: () => {
      bus.settle = original;
    },
  };
}

async function done(clients: RawClient[]): Promise<string[][]> {
  return Promise.all(
    clients.map(async (c) => {
      c.send('DONE\r\n');
      const lines = await readUntil(c, /^i OK/);
      c.close();
      return lines;
    }),
  );
}

describe('IDLE fan-out', () => {
  test('50 idlers all get EXISTS from one store query; rev1 read-write idlers share one \\Recent', async () => {
    const name = await newMailbox(2);
    const clients = await idlers(name, 50);
    const writer = await login();
    const queries = count(srv.server.store, 'changesSince');
    const claims = count(srv.server.store, 'claimRecent');
    try {
      await append(writer, name, 3);
      const seen = await Promise.all(clients.map((c) => readUntil(c, /^\* \d+ RECENT$/)));
      for (const lines of seen) assert.ok(lines.includes('* 3 EXISTS'), lines.join('\n'));
      const recent = seen.filter((lines) => lines.includes('* 1 RECENT'));
      assert.equal(recent.length, 1, 'exactly one session is told the new message is \\Recent');
      assert.equal(seen.filter((lines) => lines.includes('* 0 RECENT')).length, 49);
      assert.equal(queries.calls, 1, 'one changesSince for the whole process');
      assert.equal(claims.calls, 1, 'one \\Recent claim for the whole process');
    } finally {
      queries.restore();
      claims.restore();
    }
    // The flag agrees with the count: FETCH shows \Recent on the new message in exactly one session.
    await Promise.all(
      clients.map(async (c) => {
        c.send('DONE\r\n');
        await readUntil(c, /^i OK/);
      }),
    );
    const flags = await Promise.all(clients.map(async (c) => (await c.command('f', 'FETCH 3 (FLAGS)')).lines.join('\n')));
    assert.equal(flags.filter((l) => /\\Recent/.test(l)).length, 1, flags.join('\n'));
    for (const c of clients) c.close();
    writer.close();
  });

  test('a change arriving while an idler is being synced is not lost: it is served again after', async () => {
    const name = await newMailbox(2);
    const clients = await idlers(name, 3, 'IMAP4rev2');
    const writer = await login();
    // The index refresh for the first APPEND answers late, so the idlers are mid-sync when the second commits.
    const store = srv.server.store;
    const original = store.changesSince;
    let delayed = false;
    store.changesSince = (async (...args: Parameters<typeof original>) => {
      const answer = await original.apply(store, args);
      if (!delayed) {
        delayed = true;
        await new Promise((r) => setTimeout(r, 400));
      }
      return answer;
    }) as typeof original;
    try {
      await append(writer, name, 3);
      await new Promise((r) => setTimeout(r, 100));
      await append(writer, name, 4);
      // No further change comes: only the wake-up that arrived mid-sync can bring the last count.
      await Promise.all(clients.map((c) => readUntil(c, /^\* 4 EXISTS$/, 5_000)));
    } finally {
      store.changesSince = original;
    }
    await done(clients);
    writer.close();
  });

  test('an idler gets EXPUNGE, a QRESYNC idler VANISHED, a CONDSTORE idler MODSEQ; a FETCH in progress gets none', async () => {
    const name = await newMailbox(40);
    const [plain] = await idlers(name, 1);
    const [vanished] = await idlers(name, 1, 'QRESYNC');
    const [condstore] = await idlers(name, 1, 'CONDSTORE');
    const fetcher = await login();
    await fetcher.command('s', `SELECT ${name}`);
    const writer = await login();
    await writer.command('s', `SELECT ${name}`);

    await writer.command('f', 'STORE 5 +FLAGS.SILENT ($Hot)');
    const hot = await readUntil(condstore!, /^\* 5 FETCH/);
    assert.match(hot.at(-1)!, /^\* 5 FETCH \(UID 5 FLAGS \(\$Hot\) MODSEQ \(\d+\)\)$/);
    assert.match((await readUntil(plain!, /^\* 5 FETCH/)).at(-1)!, /^\* 5 FETCH \(UID 5 FLAGS \(\$Hot\)\)$/);

    await writer.command('d', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    // The FETCH is sent before the EXPUNGE and pipelined with it on the server.
    fetcher.send('f1 FETCH 1:40 (UID BODY.PEEK[])\r\n');
    const expunged = writer.command('e', 'EXPUNGE');
    const fetched = await fetcher.readTagged('f1');
    await expunged;
    assert.ok(!fetched.lines.some((l) => /EXPUNGE|VANISHED/.test(l)), 'no EXPUNGE during FETCH (RFC 9051 §7.4.1)');
    assert.equal(fetched.lines.filter((l) => /^\* \d+ FETCH \(UID \d+ BODY\[\]/.test(l)).length, 40);
    assert.ok((await fetcher.command('n', 'NOOP')).lines.includes('* 2 EXPUNGE'));

    assert.ok((await readUntil(plain!, /EXPUNGE/)).includes('* 2 EXPUNGE'));
    assert.ok((await readUntil(vanished!, /VANISHED|EXPUNGE/)).includes('* VANISHED 2'));
    await done([plain!, vanished!, condstore!]);
    fetcher.close();
    writer.close();
  });

  test("a second process on the same store wakes this one's idlers and sees its changes at once", async () => {
    const name = await newMailbox(1);
    const url = srv.config.store.url;
    const other = await spawnServer(srv.dataDir, url ? ['--store', url] : []);
    try {
      const local = await idlers(name, 5);
      const remote = await idlers(name, 5, undefined, other.imapsPort);
      const writer = await login(other.imapsPort);
      await append(writer, name, 2);
      for (const c of [...local, ...remote]) assert.ok((await readUntil(c, /EXISTS/)).includes('* 2 EXISTS'));

      // The other process has the mailbox indexed; a change made here is visible there right away.
      await writer.command('s', `SELECT ${name}`);
      const here = await login();
      await append(here, name, 3);
      const reselect = await writer.command('s2', `SELECT ${name}`);
      assert.ok(reselect.lines.includes('* 3 EXISTS'), reselect.lines.join('\n'));
      for (const c of [...local, ...remote]) assert.ok((await readUntil(c, /EXISTS/)).includes('* 3 EXISTS'));
      await done([...local, ...remote]);
      writer.close();
      here.close();
    } finally {
      other.child.kill('SIGTERM');
      await other.exited;
    }
  });

  test('re-SELECT of an unchanged mailbox asks the store nothing about its messages', async () => {
    const name = await newMailbox(3);
    const c = await login();
    await c.command('s1', `SELECT ${name}`);
    await c.command('u', 'UNSELECT');
    const queries = count(srv.server.store, 'changesSince');
    const claims = count(srv.server.store, 'claimRecent');
    const bus = srv.server.store.bus;
    const settles = settleRounds(bus);
    try {
      const again = await c.command('s2', `SELECT ${name}`);
      assert.ok(again.lines.includes('* 3 EXISTS'));
      assert.equal(queries.calls + claims.calls, 0);
      // One look at what other processes committed covers the name and the mailbox.
      assert.equal(settles.rounds(), 1);
      // A change is seen by the next SELECT, with one query.
      const w = await login();
      await append(w, name, 4);
      await c.command('u2', 'UNSELECT');
      const third = await c.command('s3', `SELECT ${name}`);
      assert.ok(third.lines.includes('* 4 EXISTS'), third.lines.join('\n'));
      assert.ok(third.lines.includes('* 1 RECENT'), third.lines.join('\n'));
      assert.equal(queries.calls, 1);
      w.close();
    } finally {
      queries.restore();
      claims.restore();
      settles.restore();
    }
    c.close();
  });
});
