import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type AttemptLedger, MemoryAttemptLedger, StoreAttemptLedger } from '../src/auth/attempt-ledger.js';
import { BUSY, HashGate } from '../src/auth/hash-gate.js';
import {
  type Admission,
  AuthThrottle,
  addressKey,
  attemptWindows,
  judgeBy,
  memoryLedger as settingsLedger,
  type ThrottleSettings,
} from '../src/auth/throttle.js';
import { configSchema } from '../src/config/schema.js';
import { openStore } from '../src/store/open.js';
import { createTestDatabase } from './helpers/pg-database.js';

const DEFAULTS: ThrottleSettings = configSchema.parse({}).authThrottle;

/** Makes a ledger for the settings; `close` ends what it opened. */
type LedgerFactory = (s: ThrottleSettings) => Promise<{ ledger: AttemptLedger; close(): Promise<void> }>;

const memoryLedger: LedgerFactory = async (s) => ({
  ledger: settingsLedger(s),
  close: async () => undefined,
});

/** A store-backed ledger on a fresh SQLite file, or a fresh PostgreSQL database under MAILKEEP_TEST_STORE=postgres. */
const storeLedger: LedgerFactory = async (s) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-throttle-'));
  const db = process.env.MAILKEEP_TEST_STORE === 'postgres' ? await createTestDatabase({ migrated: true }) : null;
  const store = await openStore({ dataDir, url: db?.url ?? null });
  return {
    ledger: new StoreAttemptLedger(store, attemptWindows(s), judgeBy(s)),
    async close() {
      await store.close();
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (at most 10 s) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await pause(10);
  assert.ok(cond(), 'condition not met within 10 s');
}

const opened: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of opened) await close();
});

async function setup(overrides: Partial<ThrottleSettings> = {}, makeLedger: LedgerFactory = memoryLedger) {
  const clock = { now: 1_000_000 };
  const s = { ...DEFAULTS, ...overrides };
  const { ledger, close } = await makeLedger(s);
  opened.push(close);
  const t = new AuthThrottle(s, ledger, () => clock.now);
  /** One attempt that must be admitted and ends as `outcome`; resolves to the tarpit delay. */
  const attempt = async (ip: string, account: string, outcome: 'failed' | 'succeeded'): Promise<number> => {
    const a = await t.begin(ip, account);
    assert.ok(a.admit, `${ip} ${account} should be admitted`);
    return t.finish(a, outcome);
  };
  const fail = (ip: string, account: string) => attempt(ip, account, 'failed');
  const succeed = (ip: string, account: string) => attempt(ip, account, 'succeeded');
  /** Whether an attempt would be admitted (the probe itself is abandoned, so it counts nothing). */
  const admits = async (ip: string, account: string): Promise<boolean> => {
    const a = await t.begin(ip, account);
    if (a.admit) await t.finish(a, 'abandoned');
    return a.admit;
  };
  return { t, ledger, clock, fail, succeed, admits };
}

for (const [name, makeLedger] of [
  ['memory', memoryLedger],
  ['store', storeLedger],
] as const) {
  describe(`auth throttle (${name} ledger)`, () => {
    const setupWith = (overrides: Partial<ThrottleSettings> = {}) => setup(overrides, makeLedger);

    it('grows the delay after each failure: 0, 0, 1 s, 2 s, 4 s, 8 s, then capped at 15 s', async () => {
      const { fail } = await setupWith({ maxFailuresPerIp: 100, maxFailuresPerAccount: 100 });
      const delays: number[] = [];
      for (let i = 0; i < 8; i++) delays.push(await fail('192.0.2.1', 'alice'));
      assert.deepEqual(delays, [0, 0, 1000, 2000, 4000, 8000, 15000, 15000]);
    });

    it('counts per address across account names and refuses at 10 failures per window', async () => {
      const { fail, admits, clock } = await setupWith();
      for (let i = 0; i < 9; i++) await fail('192.0.2.1', `user${i}`);
      assert.equal(await admits('192.0.2.1', 'new'), true);
      await fail('192.0.2.1', 'user9');
      assert.equal(await admits('192.0.2.1', 'new'), false);
      assert.equal(await admits('192.0.2.2', 'new'), true, 'other addresses are unaffected');
      clock.now += 299_000;
      assert.equal(await admits('192.0.2.1', 'new'), false, 'still inside the 5-minute window');
      clock.now += 1_000;
      assert.equal(await admits('192.0.2.1', 'new'), true, 'the window has ended');
    });

    it('finding 8: a burst gets the limit verified; the rest wait, then are refused after failures', async () => {
      const { t } = await setupWith();
      const done: Admission[] = [];
      const burst = Array.from({ length: 60 }, () =>
        t.begin('192.0.2.1', 'bob').then((a) => {
          done.push(a);
          return a;
        }),
      );
      await until(() => done.length >= 10);
      await pause(50);
      assert.equal(done.length, 10, 'maxFailuresPerIp attempts admitted; the others wait');
      assert.ok(done.every((a) => a.admit));
      for (const a of [...done]) if (a.admit) await t.finish(a, 'failed');
      const rest = (await Promise.all(burst)).filter((a) => !a.admit);
      assert.equal(rest.length, 50);
      assert.ok(
        rest.every((a) => !a.admit && a.reason === 'throttled'),
        'refused once the failures reach the limit',
      );
    });

    it('finding 8: a burst of honest logins from one address is admitted as earlier ones succeed', async () => {
      const { t } = await setupWith();
      const burst = Array.from({ length: 30 }, () => t.begin('192.0.2.1', 'carol'));
      let finished = 0;
      await Promise.all(
        burst.map(async (p) => {
          const a = await p;
          assert.ok(a.admit, 'every honest login is verified');
          await pause(1);
          await t.finish(a, 'succeeded');
          finished++;
        }),
      );
      assert.equal(finished, 30);
    });

    it('finding 7: an account over its limit refuses addresses that failed for it, not others or trusted ones', async () => {
      const { fail, succeed, admits } = await setupWith();
      await succeed('203.0.113.5', 'Victim');
      for (let i = 0; i < 20; i++) await fail(`198.51.100.${i}`, 'Victim');
      assert.equal(await admits('198.51.100.3', 'victim'), false, 'names compare case-insensitively; the guesser is refused');
      assert.equal(await admits('198.51.100.3', 'someone-else'), true, 'only for the attacked account');
      assert.equal(await admits('203.0.113.9', 'victim'), true, 'an address that has not failed is still checked');
      assert.ok((await fail('203.0.113.9', 'victim')) > 0, 'failures against the attacked account are slowed down');
      assert.equal(await admits('203.0.113.9', 'victim'), false, 'and that address has now failed for it');
      assert.equal(await admits('203.0.113.5', 'victim'), true, 'the address the owner logged in from before');
      await fail('203.0.113.5', 'victim');
      assert.equal(await admits('203.0.113.5', 'victim'), true, 'a trusted pair is judged by its own failures');
    });

    it('finding 23: a success clears its address, but not the failures for other accounts', async () => {
      const { fail, succeed, admits } = await setupWith();
      for (let i = 0; i < 9; i++) await fail('192.0.2.1', `user${i}`);
      await succeed('192.0.2.1', 'carol');
      for (let i = 0; i < 9; i++) await fail('192.0.2.1', `user${i}`);
      assert.equal(await admits('192.0.2.1', 'dave'), true, 'the address was cleared by the success');
      // Laundering guesses through a valid account still hits the target account's own limit.
      for (let i = 0; i < 9; i++) {
        await fail('192.0.2.1', 'bob');
        await succeed('192.0.2.1', 'carol');
      }
      assert.equal(await admits('192.0.2.1', 'bob'), true);
      await fail('192.0.2.1', 'bob');
      assert.equal(await admits('192.0.2.1', 'bob'), false, 'the pair has its own limit');
      assert.equal(await admits('192.0.2.1', 'dave'), true);
    });

    it('drops expired entries when met', async () => {
      const { fail, clock } = await setupWith();
      for (let i = 0; i < 3; i++) await fail('192.0.2.1', 'alice');
      clock.now += 300_000;
      assert.equal(await fail('192.0.2.1', 'alice'), 0, 'a new window starts from zero');
    });

    it('bounds account keys: very long names share their prefix', async () => {
      const { fail, admits } = await setupWith({ maxFailuresPerAccount: 1 });
      await fail('192.0.2.1', `${'a'.repeat(256)}x`);
      assert.equal(await admits('192.0.2.1', `${'a'.repeat(256)}y`), false);
    });
  });
}

describe('auth throttle (store ledger shared by two processes)', () => {
  it("finding 8: two processes on one store share the address limit and see each other's failures", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-throttle-'));
    const db = process.env.MAILKEEP_TEST_STORE === 'postgres' ? await createTestDatabase({ migrated: true }) : null;
    // Two connections to one SQLite file (or one PostgreSQL database) stand for two worker processes (or nodes).
    const stores = [await openStore({ dataDir, url: db?.url ?? null }), await openStore({ dataDir, url: db?.url ?? null })];
    try {
      const [a, b] = stores.map((store) => new AuthThrottle(DEFAULTS, new StoreAttemptLedger(store, attemptWindows(DEFAULTS), judgeBy(DEFAULTS)))) as [
        AuthThrottle,
        AuthThrottle,
      ];
      const done: Array<[AuthThrottle, Admission]> = [];
      const burst = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b)).map((t) => t.begin('192.0.2.7', 'bob').then((x) => done.push([t, x])));
      await until(() => done.length >= 10);
      await pause(200);
      assert.equal(done.length, 10, 'one limit across both');
      for (const [t, x] of [...done]) if (x.admit) await t.finish(x, 'failed');
      await Promise.all(burst);
      assert.equal(done.filter(([, x]) => x.admit).length, 10, 'the waiting ones were refused, also in the process that did not settle them');
      assert.equal((await a.begin('192.0.2.7', 'carol')).admit, false, 'failures recorded by the other process count');
      const fresh = await b.begin('192.0.2.8', 'carol');
      assert.ok(fresh.admit);
      await b.finish(fresh, 'abandoned');
    } finally {
      for (const store of stores) await store.close();
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('auth throttle (memory ledger only)', () => {
  it('keeps memory bounded by evicting the least recently failed keys', async () => {
    const { fail, admits, ledger } = await setup({ maxEntries: 3 });
    assert.ok(ledger instanceof MemoryAttemptLedger);
    for (let i = 1; i <= 10; i++) await fail(`10.0.0.${i}`, `u${i}`);
    assert.deepEqual(ledger.size, { ips: 3, accounts: 3, pairs: 3, trusted: 0, inFlight: 0 });
    for (let i = 0; i < 9; i++) await fail('10.0.0.10', 'u10');
    assert.equal(await admits('10.0.0.10', 'x'), false, 'the most recent key survives');
    await fail('10.0.0.11', 'u11');
    await fail('10.0.0.12', 'u12');
    await fail('10.0.0.13', 'u13');
    assert.equal(await admits('10.0.0.10', 'x'), true, 'evicted once three newer keys failed');
  });
});

describe('hash gate', () => {
  /** A hash stand-in that finishes when told. */
  function pending() {
    let done!: () => void;
    const p = new Promise<void>((resolve) => {
      done = resolve;
    });
    return { work: () => p, done };
  }

  it('runs at most `concurrency` at once; a clean address alone uses every slot, and the address with fewest running goes next', async () => {
    const gate = new HashGate({ concurrency: 2, perAddress: 1, queueLength: 10 });
    const started: string[] = [];
    const jobs = ['a', 'a', 'a', 'b'].map((addr, i) => {
      const h = pending();
      const run = gate.run(addr, true, async () => {
        started.push(`${addr}${i}`);
        await h.work();
      });
      return { h, run };
    });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, ['a0', 'a1']);
    assert.deepEqual(gate.load, { running: 2, waiting: 2 });
    jobs[0]!.h.done();
    await jobs[0]!.run;
    assert.deepEqual(started, ['a0', 'a1', 'b3'], 'b has nothing running, a has one: b goes first');
    for (const j of jobs) j.h.done();
    await Promise.all(jobs.map((j) => j.run));
    assert.deepEqual(started, ['a0', 'a1', 'b3', 'a2']);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('demotes the waiting attempts of an address that failed', async () => {
    const gate = new HashGate({ concurrency: 1, perAddress: 1, queueLength: 10 });
    const first = pending();
    const order: string[] = [];
    const running = gate.run('r', true, first.work);
    const runs = ['f', 'g'].map((addr) => gate.run(addr, true, async () => order.push(addr)));
    gate.demote('f');
    runs.push(gate.run('h', true, async () => order.push('h')));
    first.done();
    await Promise.all([running, ...runs]);
    assert.deepEqual(order, ['g', 'h', 'f']);
  });

  it('keeps one of its slots for clean attempts, so a flood never makes a clean one wait for a running hash', async () => {
    const gate = new HashGate({ concurrency: 2, perAddress: 1, queueLength: 10 });
    const started: string[] = [];
    const a = pending();
    const runA = gate.run('a', false, async () => {
      started.push('a');
      await a.work();
    });
    const runB = gate.run('b', false, async () => started.push('b'));
    const runA2 = gate.run('a', false, async () => started.push('a2'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, ['a'], 'a second flooder waits although a slot is free');
    await gate.run('c', true, async () => started.push('c'));
    assert.deepEqual(started, ['a', 'c']);
    a.done();
    await Promise.all([runA, runB, runA2]);
    assert.deepEqual(started, ['a', 'c', 'b', 'a2'], 'one at a time from an address that failed');
  });

  it('prefers clean waiters, refuses beyond the queue, and lets a clean arrival push out a flooder', async () => {
    const gate = new HashGate({ concurrency: 1, perAddress: 1, queueLength: 2 });
    const first = pending();
    const order: string[] = [];
    const running = gate.run('x', false, first.work);
    const f1 = gate.run('f1', false, async () => order.push('f1'));
    const f2 = gate.run('f2', false, async () => order.push('f2'));
    assert.equal(await gate.run('f3', false, async () => order.push('f3')), BUSY, 'queue full');
    const clean = gate.run('c', true, async () => order.push('c'));
    assert.equal(await f2, BUSY, 'the newest flooder made room');
    first.done();
    await Promise.all([running, f1, clean]);
    assert.deepEqual(order, ['c', 'f1']);
  });
});

describe('addressKey', () => {
  it('keeps IPv4, unmaps IPv4-mapped IPv6 and reduces IPv6 to its /64', () => {
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('::FFFF:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:0db8:0000:0000:ffff:1:2:3'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:db8:1:2:3::'), '2001:db8:1:2::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('1::5:6:7:1.2.3.4'), '1:0:0:5::/64');
  });

  it('throttles a whole IPv6 /64 together', async () => {
    const { fail, admits } = await setup();
    for (let i = 1; i <= 10; i++) await fail(`2001:db8:aa:bb::${i.toString(16)}`, `u${i}`);
    assert.equal(await admits('2001:db8:aa:bb:ffff:ffff:ffff:ffff', 'new'), false);
    assert.equal(await admits('2001:db8:aa:bc::1', 'new'), true);
  });
});
