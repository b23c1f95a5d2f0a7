/**
 * Two `mailkeep serve` processes on different ports sharing one PostgreSQL
 * database (issue 7): changes made through one node reach IDLE sessions on
 * the other at once (LISTEN/NOTIFY; the latency itself is bench/cluster.ts's), concurrent writers on both nodes
 * get unique, increasing UIDs and lose no flag change, and killing a node
 * loses nothing it acknowledged (DESIGN invariant 1).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { openStore } from '../src/store/open.js';
import type { TestDatabase } from './helpers/pg-database.js';
import { createTestDatabase, pgAvailable } from './helpers/pg-database.js';
import { RawClient } from './helpers/raw-client.js';
import type { ChildServer } from './helpers/server.js';
import { spawnServer } from './helpers/server.js';

const available = await pgAvailable();

let db: TestDatabase;
let dir: string;
let nodeA: ChildServer;
let nodeB: ChildServer;
let mailboxes = 0;

async function startNode(name: string): Promise<ChildServer> {
  return spawnServer(join(dir, name), ['--store', db.url]);
}

async function login(node: ChildServer): Promise<RawClient> {
  const { client } = await RawClient.connect(node.imapsPort, { tls: true });
  assert.match((await client.command('l', 'LOGIN cluster pw')).tagged, /^l OK/);
  return client;
}

/** A new mailbox, created through node A. */
async function newMailbox(): Promise<string> {
  const name = `box${++mailboxes}`;
  const c = await login(nodeA);
  assert.match((await c.command('c', `CREATE ${name}`)).tagged, /^c OK/);
  c.close();
  return name;
}

/** APPENDs one message; returns its UID from APPENDUID (RFC 4315). */
async function append(client: RawClient, tag: string, mailbox: string, text: string): Promise<number> {
  const msg = `Subject: ${text}\r\nFrom: a@example.org\r\n\r\n${text}\r\n`;
  const r = await client.command(tag, `APPEND ${mailbox} {${msg.length}+}\r\n${msg}`);
  const m = /^\S+ OK \[APPENDUID \d+ (\d+)\]/.exec(r.tagged);
  assert.ok(m, r.tagged);
  return Number(m[1]);
}

/** UID → flags of every message, as one node reports them. */
async function flagsOf(node: ChildServer, mailbox: string): Promise<Map<number, string[]>> {
  const c = await login(node);
  await c.command('s', `EXAMINE ${mailbox}`);
  const r = await c.command('f', 'UID FETCH 1:* (FLAGS)');
  c.close();
  const out = new Map<number, string[]>();
  for (const line of r.lines) {
    const m = /^\* \d+ FETCH \((?=.*UID (\d+))(?=.*FLAGS \(([^)]*)\)).*\)$/.exec(line);
    if (m)
      out.set(
        Number(m[1]),
        m[2]!.split(' ').filter((f) => f !== '' && f !== '\\Recent'),
      );
  }
  return out;
}

describe('two nodes on one PostgreSQL database', { skip: available ? false : 'no PostgreSQL test server' }, () => {
  before(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-cluster-'));
    const store = await openStore({ dataDir: join(dir, 'setup'), url: db.url });
    await store.createAccount('cluster', await hashPassword('pw', CHEAP_HASHING));
    await store.close();
    nodeA = await startNode('a');
    nodeB = await startNode('b');
  });

  after(async () => {
    for (const node of [nodeA, nodeB]) {
      if (node && node.child.exitCode === null && node.child.signalCode === null) {
        node.child.kill('SIGTERM');
        await node.exited;
      }
    }
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('an IDLE session on node A sees an APPEND made through node B at once (seconds at most, even on a loaded machine)', async (t) => {
    const mailbox = await newMailbox();
    const idler = await login(nodeA);
    assert.match((await idler.command('s', `SELECT ${mailbox}`)).tagged, /^s OK/);
    idler.send('i IDLE\r\n');
    assert.match(await idler.readLine(), /^\+ /);
    const writer = await login(nodeB);
    const latencies: number[] = [];
    for (let n = 1; n <= 5; n++) {
      const started = Date.now();
      const uid = await append(writer, `a${n}`, mailbox, `hello ${n}`);
      assert.equal(uid, n);
      assert.equal(await idler.readLine(1000), `* ${n} EXISTS`);
      latencies.push(Date.now() - started);
      assert.match(await idler.readLine(1000), /^\* \d+ RECENT$/);
    }
    // Flag changes and expunges travel the same way.
    await writer.command('s', `SELECT ${mailbox}`);
    const started = Date.now();
    await writer.command('st', 'UID STORE 2 +FLAGS.SILENT (\\Deleted)');
    assert.match(await idler.readLine(1000), /^\* 2 FETCH \(UID 2 FLAGS \(\\Deleted( \\Recent)?\)\)$/);
    latencies.push(Date.now() - started);
    await writer.command('x', 'EXPUNGE');
    assert.equal(await idler.readLine(1000), '* 2 EXPUNGE');
    idler.send('DONE\r\n');
    assert.match((await idler.readTagged('i')).tagged, /^i OK/);
    t.diagnostic(`wake-up latencies across nodes: ${latencies.join(', ')} ms`);
    // A generous bound: this checks the wake-up happens; bench/cluster.ts measures how fast.
    assert.ok(Math.max(...latencies) < 5000, `wake-up latencies ${latencies.join(', ')} ms`);
    idler.close();
    writer.close();
  });

  test('concurrent APPENDs to one mailbox through both nodes get unique, increasing UIDs', async () => {
    const mailbox = await newMailbox();
    const perClient = 25;
    const clients = await Promise.all([nodeA, nodeA, nodeA, nodeB, nodeB, nodeB].map((node) => login(node)));
    const got = await Promise.all(
      clients.map(async (c, i) => {
        const uids: number[] = [];
        for (let n = 0; n < perClient; n++) uids.push(await append(c, `a${n}`, mailbox, `client ${i} message ${n}`));
        c.close();
        return uids;
      }),
    );
    for (const uids of got)
      assert.deepEqual(
        uids,
        [...uids].sort((a, b) => a - b),
        'each connection sees increasing UIDs',
      );
    const all = got.flat().sort((a, b) => a - b);
    const total = clients.length * perClient;
    assert.deepEqual(
      all,
      Array.from({ length: total }, (_, i) => i + 1),
      'no UID twice, none skipped',
    );
    for (const node of [nodeA, nodeB]) assert.deepEqual([...(await flagsOf(node, mailbox)).keys()], all);
  });

  test('concurrent flag changes through both nodes are never lost', async () => {
    const mailbox = await newMailbox();
    const setup = await login(nodeA);
    const count = 20;
    for (let n = 1; n <= count; n++) await append(setup, `a${n}`, mailbox, `m${n}`);
    setup.close();
    // Four sessions per node, each adding its own keyword to every message in its own order.
    const sessions = await Promise.all([nodeA, nodeB, nodeA, nodeB, nodeA, nodeB, nodeA, nodeB].map((node) => login(node)));
    await Promise.all(
      sessions.map(async (c, i) => {
        await c.command('s', `SELECT ${mailbox}`);
        // A rotation (reversed for odd sessions): every UID once, each session starting elsewhere.
        const order = Array.from({ length: count }, (_, n) => ((n + i * 5) % count) + 1);
        if (i % 2) order.reverse();
        for (const uid of order) assert.match((await c.command(`f${uid}`, `UID STORE ${uid} +FLAGS.SILENT (kw${i})`)).tagged, / OK/);
        c.close();
      }),
    );
    const expected = sessions.map((_, i) => `kw${i}`).sort();
    for (const node of [nodeA, nodeB]) {
      const flags = await flagsOf(node, mailbox);
      assert.equal(flags.size, count);
      for (const [uid, f] of flags) assert.deepEqual([...f].sort(), expected, `flags of UID ${uid} via node ${node === nodeA ? 'A' : 'B'}`);
    }
  });

  test('killing a node mid-APPEND loses nothing it acknowledged', async () => {
    const mailbox = await newMailbox();
    const victims = await Promise.all([1, 2, 3].map(() => login(nodeB)));
    const survivor = await login(nodeA);
    const acked = new Set<number>();
    let survivorAcked = 0;
    const stop = { now: false };
    // Writers on both nodes; the ones on B die with it.
    const writers = [
      ...victims.map(async (c, i) => {
        try {
          for (let n = 0; ; n++) acked.add(await append(c, `v${n}`, mailbox, `victim ${i} ${n}`));
        } catch {
          // The connection died with the node: the command in flight may or may not have committed.
        }
      }),
      (async () => {
        for (let n = 0; !stop.now; n++) {
          acked.add(await append(survivor, `s${n}`, mailbox, `survivor ${n}`));
          survivorAcked++;
        }
      })(),
    ];
    while (acked.size < 60) await new Promise((resolve) => setTimeout(resolve, 5));
    nodeB.child.kill('SIGKILL');
    await nodeB.exited;
    await Promise.all(writers.slice(0, victims.length));
    // Node A keeps working after its peer died.
    const before = survivorAcked;
    while (survivorAcked < before + 5) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.now = true;
    await writers[writers.length - 1];
    survivor.close();

    const present = [...(await flagsOf(nodeA, mailbox)).keys()];
    for (const uid of acked) assert.ok(present.includes(uid), `acknowledged UID ${uid} is there`);
    // At most one unacknowledged APPEND per dead connection may have committed.
    assert.ok(present.length <= acked.size + victims.length, `${present.length} messages for ${acked.size} acknowledged`);
    assert.equal(new Set(present).size, present.length);

    // The restarted node serves everything, and new UIDs keep growing.
    nodeB = await startNode('b');
    assert.deepEqual([...(await flagsOf(nodeB, mailbox)).keys()], present);
    const c = await login(nodeB);
    assert.ok((await append(c, 'after', mailbox, 'after restart')) > Math.max(...present));
    c.close();
  });
});
