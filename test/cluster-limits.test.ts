/**
 * Limits of `mailkeep serve --workers 2` count for the whole cluster, not per
 * worker (issue 21, server/cluster-limits.ts), over real sockets: with
 * `max-connections-per-ip = 4`, the fifth connection from 127.0.0.1 is
 * refused whichever worker it lands in, a closed one frees its slot, and a
 * worker killed with SIGKILL has its leases released; login failures spread
 * over both workers trip the per-address throttle at `max-failures-per-ip`.
 * A connection's worker is read from the ID response (`x-worker`). Without
 * the primary's answer a worker decides by its own counts at once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { configSchema } from '../src/config/schema.js';
import { PrimaryLimits, WorkerLimits } from '../src/server/cluster-limits.js';
import { openStore } from '../src/store/open.js';
import { workerPids } from './helpers/cluster.js';
import { RawClient } from './helpers/raw-client.js';
import { spawnServer, type ChildServer } from './helpers/server.js';

const USER = 'limited';
const PASSWORD = 'limited-pw';
const PER_IP = 4;
const FAILURES_PER_IP = 3;
/** Connections tried to get both workers among the open ones (round robin makes a few enough). */
const MAX_TRIES = 40;
const REFUSED = /^\* BYE Too many connections from your address/;

/** An admitted connection and the worker serving it. */
interface Open {
  client: RawClient;
  worker: number;
}

/** Connects over implicit TLS; an admitted connection is asked its worker, a refused one gives its greeting. */
async function open(port: number): Promise<Open | { refused: string }> {
  const { client, greeting } = await RawClient.connect(port, { tls: true });
  if (!greeting.startsWith('* OK')) {
    client.close();
    return { refused: greeting };
  }
  const id = await client.command('i', 'ID NIL', 10_000);
  const worker = Number(/"x-worker" "(\d+)"/.exec(id.lines.join('\n'))?.[1]);
  assert.ok(worker > 0, id.lines.join('\n'));
  return { client, worker };
}

async function admitted(port: number): Promise<Open> {
  const c = await open(port);
  assert.ok('client' in c, `refused: ${'refused' in c ? c.refused : ''}`);
  return c;
}

/** Tries until a connection is admitted (a slot given back travels to the primary first); at most 10 s. */
async function admittedSoon(port: number): Promise<Open> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = await open(port);
    if ('client' in c) return c;
    if (Date.now() > deadline) assert.fail(`still refused after 10 s: ${c.refused}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Fills the address's share with connections in both workers. */
async function fill(port: number, held: Open[]): Promise<void> {
  for (let i = 0; held.length < PER_IP || new Set(held.map((c) => c.worker)).size < 2; i++) {
    assert.ok(i < MAX_TRIES, `connections reached workers ${held.map((c) => c.worker)} only`);
    if (held.length === PER_IP) {
      // All in one worker so far: give one back and try again.
      held.shift()!.client.close();
      held.push(await admittedSoon(port));
    } else held.push(await admitted(port));
  }
}

/** Workers that logged a refusal of this address. */
function refusingWorkers(server: ChildServer): Set<number> {
  const workers = new Set<number>();
  for (const line of server.output().split('\n')) {
    if (!line.includes('Too many connections from your address')) continue;
    workers.add((JSON.parse(line) as { worker: number }).worker);
  }
  return workers;
}

describe('serve --workers 2: limits across workers', () => {
  let dataDir: string;
  let server: ChildServer;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-cluster-limits-'));
    const store = await openStore({ dataDir, url: null });
    await store.createAccount(USER, await hashPassword(PASSWORD));
    await store.close();
    server = await spawnServer(
      dataDir,
      ['--workers', '2', '--log-level', 'info'],
      {
        ...process.env,
        MAILKEEP_LIMITS__MAX_CONNECTIONS_PER_IP: String(PER_IP),
        MAILKEEP_AUTH_THROTTLE__MAX_FAILURES_PER_IP: String(FAILURES_PER_IP),
      },
      'mailkeep cluster started',
    );
  });

  after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('max-connections-per-ip counts the connections of both workers; closing or killing gives slots back', async () => {
    const held: Open[] = [];
    try {
      await fill(server.imapsPort, held);
      // Round robin hands these to both workers: each must refuse, though each holds fewer than the limit itself.
      for (let i = 0; i < 4; i++) {
        const extra = await open(server.imapsPort);
        assert.ok('refused' in extra, `connection ${PER_IP + 1} admitted by worker ${'worker' in extra ? extra.worker : ''}`);
        assert.match(extra.refused, REFUSED);
      }
      assert.deepEqual([...refusingWorkers(server)].sort(), [1, 2], 'both workers refused');

      held.shift()!.client.close();
      held.push(await admittedSoon(server.imapsPort));
      const again = await open(server.imapsPort);
      assert.ok('refused' in again, 'full again');

      // SIGKILL one worker holding connections: the primary drops its leases when it exits.
      const victim = held[0]!.worker;
      const pid = workerPids(server).get(victim);
      assert.ok(pid, `worker ${victim} logged its pid`);
      process.kill(pid, 'SIGKILL');
      const gone = held.filter((c) => c.worker === victim);
      for (const c of gone) await assert.rejects(c.client.readLine(10_000));
      held.splice(0, held.length, ...held.filter((c) => c.worker !== victim));
      for (const c of gone) c.client.close();
      while (held.length < PER_IP) held.push(await admittedSoon(server.imapsPort));
      const full = await open(server.imapsPort);
      assert.ok('refused' in full, 'the limit still holds after the restart');
      assert.match(full.refused, REFUSED);
    } finally {
      for (const c of held) c.client.close();
    }
  });

  it('login failures in both workers trip the per-address throttle at max-failures-per-ip', async () => {
    // Slots freed by the previous test travel to the primary first.
    const first = await admittedSoon(server.imapsPort);
    const pair: Open[] = [first];
    try {
      // The worker killed above may still be starting again: until then the other one gets every connection.
      const deadline = Date.now() + 30_000;
      while (pair.length < 2) {
        assert.ok(Date.now() < deadline, 'no connection reached the other worker in 30 s');
        const c = await admittedSoon(server.imapsPort);
        if (c.worker !== first.worker) pair.push(c);
        else {
          c.client.close();
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // Failures alternate between the workers: neither alone reaches the limit.
      for (let n = 0; n < FAILURES_PER_IP; n++) {
        const r = await pair[n % 2]!.client.command(`f${n}`, `LOGIN ${USER} wrong-${n}`, 60_000);
        assert.match(r.tagged, new RegExp(`^f${n} NO \\[AUTHENTICATIONFAILED\\]`));
      }
      for (const [n, c] of pair.entries()) {
        const r = await c.client.command(`t${n}`, `LOGIN ${USER} ${PASSWORD}`, 60_000);
        assert.match(r.tagged, new RegExp(`^t${n} NO \\[UNAVAILABLE\\]`), `worker ${c.worker} refuses the address`);
      }
    } finally {
      for (const c of pair) c.client.close();
    }
  });
});

describe('cluster limits without processes', () => {
  const config = configSchema.parse({ limits: { maxConnectionsPerIp: 2 }, authThrottle: { maxFailuresPerIp: 2 } });

  it("the primary counts every worker's leases and attempts, and drops a worker's when it leaves", async () => {
    const limits = new PrimaryLimits(config);
    limits.join(1);
    limits.join(2);
    const ask = (worker: number, request: Record<string, unknown>) => limits.handle(worker, { mailkeep: 'limits', ...request });
    assert.equal((await ask(1, { op: 'lease', id: 1, address: '192.0.2.1' }))?.refusal, null);
    assert.equal((await ask(2, { op: 'lease', id: 1, address: '192.0.2.1' }))?.refusal, null);
    assert.equal((await ask(2, { op: 'lease', id: 2, address: '192.0.2.1' }))?.refusal, 'Too many connections from your address');
    assert.equal(await ask(1, { op: 'return', id: 1 }), null);
    assert.equal((await ask(2, { op: 'lease', id: 3, address: '192.0.2.1' }))?.refusal, null, 'a returned lease frees its slot');
    limits.leave(2);
    assert.equal((await ask(1, { op: 'lease', id: 2, address: '192.0.2.1' }))?.refusal, null, "a leaving worker's leases are released");
    assert.equal(await ask(2, { op: 'lease', id: 4, address: '192.0.2.1' }), null, 'a worker that left is not answered');

    const key = { ip: '192.0.2.9', account: 'bob' };
    const admit = async (worker: number, id: number) => (await ask(worker, { op: 'admit', id, key, now: Date.now() }))?.verdict?.admit;
    limits.join(3);
    assert.equal(await admit(1, 10), true);
    assert.equal(await admit(3, 10), true);
    assert.equal(await admit(1, 11), false, 'two in flight from the address in two workers fill its limit of 2');
    limits.leave(3);
    assert.equal(await admit(1, 12), true, "the departed worker's attempt ended as abandoned");
    assert.equal(await ask(1, { op: 'abandon', id: 12 }), null);
    const settled = await ask(1, { op: 'settle', id: 10, now: Date.now(), outcome: 'failed' });
    assert.equal(settled?.counts?.ipFailures, 1);
    assert.equal(settled?.counts?.ipInFlight, 0, 'the abandoned attempt no longer counts');
  });

  it('a worker that cannot ask the primary decides by its own counts at once', async () => {
    // This test process has no IPC channel: every question goes unanswered, as with a stuck primary.
    const limits = new WorkerLimits(config);
    const started = Date.now();
    const first = await limits.connections.admit('192.0.2.1');
    const second = await limits.connections.admit('192.0.2.1');
    assert.deepEqual(await limits.connections.admit('192.0.2.1'), { refusal: 'Too many connections from your address' });
    assert.ok('release' in first && 'release' in second);
    first.release();
    const third = await limits.connections.admit('192.0.2.1');
    assert.ok('release' in third, 'a released slot is free again');

    const key = { ip: '192.0.2.9', account: 'bob' };
    for (let i = 0; i < 2; i++) {
      assert.equal((await limits.attempts.admit(key, Date.now())).admit, true);
      assert.equal((await limits.attempts.settle(key, Date.now(), 'failed')).ipFailures, i + 1, 'counted by the local ledger');
    }
    assert.equal((await limits.attempts.admit(key, Date.now())).admit, false, 'the local ledger refuses at the limit');
    assert.ok(Date.now() - started < 1000, 'nothing waited for an answer that cannot come');
  });
});
