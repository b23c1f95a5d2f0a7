/**
 * Issue 21: a second process holding SQLite's write lock (`mailkeep deliver`
 * run by Postfix, an import) never freezes the server's event loop. A child
 * node process takes BEGIN IMMEDIATE on the server's database file and holds
 * it; meanwhile sessions (some in IDLE, one sending STORE and APPEND, which
 * need the lock) keep answering NOOP, and the waiting writes complete once
 * the lock is released — or, when it is held beyond the store's bound
 * (5 s), fail with NO [UNAVAILABLE] (RFC 5530 §3) while everything else
 * keeps answering.
 *
 * The server runs as a child process so the clients' own work never delays
 * it. The NOOP bound here is generous for a loaded CI box (the strict 50 ms
 * p99 target is measured by bench/sqlite-lock-guard.ts); a server that waits
 * inside SQLite answers no NOOP for the whole 2 s.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { openStore } from '../src/store/open.js';
import { RawClient } from './helpers/raw-client.js';
import { spawnServer, type ChildServer } from './helpers/server.js';

/** NOOP round trips during the 2 s lock: p99 must stay under this, half of what a blocked loop gives (the 50 ms target is the bench's). */
const NOOP_P99_BOUND_MS = 1000;
/** How long the store waits for another process's lock before UNAVAILABLE (store/sqlite/db.ts DEFAULT_BUSY_TIMEOUT_MS). */
const STORE_LOCK_WAIT_MS = 5000;
const IDLERS = 3;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The child's program: take the write lock, say so, hold it `hold` ms, commit, say so. */
const LOCKER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); }, Number(process.argv[2]));
`;

/** Another process holding the database's write lock: resolves `locked` once taken; `released` with the time it let go. */
function holdWriteLock(dbPath: string, holdMs: number): { locked: Promise<void>; released: Promise<number> } {
  const child = spawn(process.execPath, ['-e', LOCKER, dbPath, String(holdMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const seen = (word: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(word)) resolve(performance.now());
      };
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      child.once('exit', (code) => (out.includes(word) ? resolve(performance.now()) : reject(new Error(`locker exited ${code}: ${err}`))));
      setTimeout(() => reject(new Error(`locker never said ${word}: ${out} ${err}`)), holdMs + 30_000).unref();
    });
  return { locked: seen('locked').then(() => undefined), released: seen('released') };
}

let srv: ChildServer;
let dataDir: string;
let probe: RawClient;
let writer: RawClient;
const idlers: RawClient[] = [];
let tagNo = 0;
const tag = (): string => `t${++tagNo}`;

/** NOOP after NOOP on the probe (10 ms apart) until `work` settles: the round trips and the work's result and time. */
async function noopsDuring<T>(work: () => Promise<T>): Promise<{ result: T; rtts: number[]; ms: number }> {
  const rtts: number[] = [];
  let done = false;
  const loop = (async () => {
    // Bounded by the work's own timeout; each NOOP waits at most 30 s.
    while (!done) {
      const t = performance.now();
      const r = await probe.command(tag(), 'NOOP', 30_000);
      assert.match(r.tagged, / OK/);
      rtts.push(performance.now() - t);
      await sleep(10);
    }
  })();
  const t0 = performance.now();
  try {
    return { result: await work(), rtts, ms: performance.now() - t0 };
  } finally {
    done = true;
    await loop;
  }
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function report(what: string, rtts: readonly number[]): void {
  const f = (v: number): string => v.toFixed(1);
  console.log(`${what}: ${rtts.length} NOOPs, p50 ${f(percentile(rtts, 50))} ms, p99 ${f(percentile(rtts, 99))} ms, max ${f(Math.max(...rtts))} ms`);
}

/** Reads untagged lines on an IDLE session until every pattern matched one (in any order). */
async function idleSees(client: RawClient, patterns: readonly RegExp[]): Promise<void> {
  const missing = new Set(patterns);
  const seen: string[] = [];
  for (let i = 0; i < 100 && missing.size > 0; i++) {
    const line = await client.readLine(15_000);
    seen.push(line);
    for (const p of missing) if (p.test(line)) missing.delete(p);
  }
  assert.equal(missing.size, 0, `IDLE never saw ${[...missing].join(', ')}: ${seen.join(' | ')}`);
}

const message = (i: number): string => `Subject: lock ${i}\r\nFrom: a@example.org\r\n\r\nbody ${i}\r\n`;
const append = (i: number): string => `APPEND INBOX {${Buffer.byteLength(message(i))}+}\r\n${message(i)}`;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-lock-'));
  const store = await openStore({ dataDir });
  await store.createAccount('eve', await hashPassword('pw', CHEAP_HASHING));
  await store.close();
  srv = await spawnServer(dataDir);
  probe = await RawClient.login(srv.imapsPort, 'eve', 'pw');
  writer = await RawClient.login(srv.imapsPort, 'eve', 'pw');
  for (let i = 1; i <= 3; i++) assert.match((await writer.command(tag(), append(i))).tagged, / OK/);
  assert.match((await writer.command(tag(), 'SELECT INBOX')).tagged, / OK/);
  for (let i = 0; i < IDLERS; i++) {
    const c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    assert.match((await c.command(tag(), 'SELECT INBOX')).tagged, / OK/);
    c.send('idle IDLE\r\n');
    assert.match(await c.readLine(), /^\+ /);
    idlers.push(c);
  }
});

after(async () => {
  for (const c of [probe, writer, ...idlers]) c?.close();
  srv?.child.kill('SIGTERM');
  await srv?.exited;
  await rm(dataDir, { recursive: true, force: true });
});

describe('issue 21: another process holding the SQLite write lock', () => {
  test('for 2 s: NOOPs keep answering; the waiting STORE and APPEND complete after the release; IDLE sees them', async () => {
    const lock = holdWriteLock(join(dataDir, 'mailkeep.sqlite3'), 2000);
    await lock.locked;
    const r = await noopsDuring(async () => {
      const sent = performance.now();
      const [store, appended] = await Promise.all([writer.command(tag(), 'STORE 1:3 +FLAGS (\\Flagged)', 30_000), probe2Append()]);
      return { store, appended, sent, done: performance.now() };
    });
    report('2 s lock', r.rtts);
    const released = await lock.released;
    assert.match(r.result.store.tagged, / OK/);
    assert.match(r.result.appended, / OK \[APPENDUID /);
    // It waited for the lock (held about 2 s after it was taken), and did not outlast it by much.
    assert.ok(r.result.done - r.result.sent > 1500, `STORE answered after ${(r.result.done - r.result.sent).toFixed(0)} ms, inside the lock`);
    assert.ok(r.result.done - released < 2000, `STORE answered ${(r.result.done - released).toFixed(0)} ms after the release`);
    assert.ok(r.rtts.length >= 20, `only ${r.rtts.length} NOOPs answered during the 2 s lock`);
    assert.ok(percentile(r.rtts, 99) < NOOP_P99_BOUND_MS, `NOOP p99 ${percentile(r.rtts, 99).toFixed(0)} ms`);
    for (const c of idlers) await idleSees(c, [/^\* 1 FETCH \(.*\\Flagged/, /^\* 3 FETCH \(.*\\Flagged/, /^\* 4 EXISTS/]);
  });

  test('beyond the store bound: NO [UNAVAILABLE] while NOOPs keep answering, then writes work again', async () => {
    const lock = holdWriteLock(join(dataDir, 'mailkeep.sqlite3'), STORE_LOCK_WAIT_MS + 1500);
    await lock.locked;
    const r = await noopsDuring(() => writer.command(tag(), 'STORE 1 +FLAGS (\\Answered)', 30_000));
    report(`${STORE_LOCK_WAIT_MS + 1500} ms lock`, r.rtts);
    assert.match(r.result.tagged, / NO \[UNAVAILABLE\]/);
    assert.ok(r.ms > STORE_LOCK_WAIT_MS - 500, `UNAVAILABLE after ${r.ms.toFixed(0)} ms`);
    assert.ok(percentile(r.rtts, 99) < NOOP_P99_BOUND_MS, `NOOP p99 ${percentile(r.rtts, 99).toFixed(0)} ms`);
    await lock.released;
    assert.match((await writer.command(tag(), 'STORE 1 +FLAGS (\\Answered)')).tagged, / OK/);
    const fetched = await writer.command(tag(), 'FETCH 1 FLAGS');
    assert.ok(
      fetched.lines.some((l) => /\\Answered/.test(l)),
      fetched.lines.join('\n'),
    );
  });
});

/** An APPEND on a connection of its own (the probe's stays for NOOPs), sent during the lock. */
async function probe2Append(): Promise<string> {
  const c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
  try {
    return (await c.command(tag(), append(4), 30_000)).tagged;
  } finally {
    c.close();
  }
}
