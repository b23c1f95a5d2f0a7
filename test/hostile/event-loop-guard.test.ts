/**
 * Issue 18, findings 5 and 10: one session's long command never blocks
 * another's. While a heavy command runs on one connection, a second
 * connection sends NOOP after NOOP; the slowest NOOP must answer within a
 * second (the bench row `bench/event-loop-guard.ts` measures the same at full
 * size, with a 50 ms p99 target). The sizes here stalled the server for
 * seconds before the work was sliced.
 *
 * The server runs as a child process, so the clients' own work never delays
 * it, and without MAILKEEP_CHECK_VIEWS: the view check reads and compares the
 * whole selected mailbox after every command, synchronously by design, which
 * is exactly the stall this test looks for.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { CHEAP_HASHING } from '../helpers/cheap-hashing.js';
import { openStore } from '../../src/store/open.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.js';
import { RawClient } from '../helpers/raw-client.js';
import { spawnServer, startTestServer, type ChildServer, type TestServer } from '../helpers/server.js';

const PG = process.env.MAILKEEP_TEST_STORE === 'postgres';
/** The slowest NOOP of the second session allowed while the heavy command runs. */
const NOOP_BOUND_MS = 1000;
/**
 * Messages APPENDed, then doubled by COPY 1:* to 24,000, where an unsliced
 * STORE or EXPUNGE held the event loop about a second. Now the longest
 * pause is one slice's transaction or one step of the sync's report (a few
 * ms, more on a loaded machine).
 */
const BASE_MESSAGES = 1500;
/** On both stores: PostgreSQL's changesSince reads in pages too (store/shared/changes-pages.ts). */
const DOUBLINGS = 4;
/** Generous: the heavy commands themselves may take many seconds on a loaded CI box. */
const HEAVY_TIMEOUT_MS = 240_000;

let srv: ChildServer;
let dataDir: string;
let db: TestDatabase | null = null;
let heavy: RawClient;
let probe: RawClient;
let tagNo = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends a command on the heavy connection; resolves with its tagged line. */
async function run(command: string | Buffer, timeoutMs = HEAVY_TIMEOUT_MS): Promise<string> {
  const tag = `h${++tagNo}`;
  return (await heavy.command(tag, command, timeoutMs)).tagged.slice(tag.length + 1);
}

/** NOOPs on the probe connection for as long as `work` runs: the slowest round trip and the work's own time, in ms. */
async function slowestNoopDuring<T>(work: () => Promise<T>): Promise<{ result: T; slowest: number; ms: number }> {
  let done = false;
  let slowest = 0;
  let noops = 0;
  const loop = (async () => {
    // Bounded by the work's own timeout: each NOOP waits at most 30 s.
    while (!done) {
      const t = performance.now();
      const r = await probe.command(`p${++noops}`, 'NOOP', 30_000);
      assert.match(r.tagged, / OK/);
      slowest = Math.max(slowest, performance.now() - t);
      await sleep(2);
    }
  })();
  await sleep(5);
  const t0 = performance.now();
  let result: T;
  try {
    result = await work();
  } finally {
    done = true;
  }
  const ms = performance.now() - t0;
  await loop;
  return { result, slowest, ms };
}

/**
 * The slowest NOOP stays under a second, or under a quarter of the command's
 * own time when a crowded machine stretches the command past 4 s. A command
 * that holds the event loop makes a NOOP wait about as long as the whole
 * command, so this still fails it; what it forgives are the scheduler and GC
 * pauses of a loaded 2-core box (up to a second here, with an idle server too).
 */
function assertNotBlocked(r: { slowest: number; ms: number }, what: string): void {
  const bound = Math.max(NOOP_BOUND_MS, r.ms / 4);
  assert.ok(r.slowest < bound, `a NOOP waited ${r.slowest.toFixed(0)} ms during ${what} (${r.ms.toFixed(0)} ms)`);
}

/** A message with `fields` header fields. */
function manyFields(i: number, fields: number): string {
  const lines = [`Subject: many fields ${i}`, 'From: a@example.org', `Message-ID: <f${i}@example.org>`];
  for (let k = 0; k < fields; k++) lines.push(`X-Field-${k}: value ${k} of message ${i}`);
  return `${lines.join('\r\n')}\r\n\r\nbody ${i}\r\n`;
}

const small = (i: number): string => `Subject: small ${i}\r\nFrom: a@example.org\r\n\r\nhello ${i}\r\n`;

/** APPEND of several messages in one command (RFC 3502 MULTIAPPEND), LITERAL+ (RFC 7888). */
function multiAppend(box: string, messages: string[]): Buffer {
  return Buffer.from(`APPEND ${box}${messages.map((m) => ` {${Buffer.byteLength(m)}+}\r\n${m}`).join('')}`);
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-guard-'));
  db = PG ? await createTestDatabase({ migrated: true }) : null;
  const store = await openStore({ dataDir, url: db?.url ?? null });
  await store.createAccount('eve', await hashPassword('pw', CHEAP_HASHING));
  await store.close();
  const env: NodeJS.ProcessEnv = { ...process.env, MAILKEEP_LIMITS__MAX_COMMAND_SIZE: String(4 * 1024 * 1024) };
  delete env.MAILKEEP_CHECK_VIEWS;
  srv = await spawnServer(dataDir, db ? ['--store', db.url] : [], env);
  heavy = await RawClient.login(srv.imapsPort, 'eve', 'pw');
  probe = await RawClient.login(srv.imapsPort, 'eve', 'pw');
});
after(async () => {
  heavy?.close();
  probe?.close();
  srv?.child.kill('SIGTERM');
  await srv?.exited;
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('issue 18: long work never blocks other sessions', () => {
  test('finding 10: SEARCH with many TEXT keys over messages of 2,000 header fields', async () => {
    assert.match(await run('CREATE fields'), /^OK/);
    for (let b = 0; b < 2; b++) {
      assert.match(
        await run(
          multiAppend(
            'fields',
            Array.from({ length: 30 }, (_, k) => manyFields(b * 30 + k, 2000)),
          ),
        ),
        /^OK/,
      );
    }
    assert.match(await run('SELECT fields'), /^OK/);
    const keys = Array.from({ length: 200 }, (_, k) => `TEXT nomatch${k}`).join(' ');
    const search = await slowestNoopDuring(() => run(`SEARCH ${keys} TEXT "value 7 of"`));
    assert.match(search.result, /^OK/);
    assertNotBlocked(search, 'SEARCH');
  });

  test('finding 10: COPY 1:* doubling a mailbox, STORE 1:* and EXPUNGE', async () => {
    assert.match(await run('CREATE big'), /^OK/);
    for (let b = 0; b < BASE_MESSAGES / 250; b++) {
      assert.match(
        await run(
          multiAppend(
            'big',
            Array.from({ length: 250 }, (_, k) => small(b * 250 + k)),
          ),
        ),
        /^OK/,
      );
    }
    assert.match(await run('SELECT big'), /^OK/);
    for (let c = 0; c < DOUBLINGS; c++) {
      const copied = await slowestNoopDuring(() => run('COPY 1:* big'));
      assert.match(copied.result, /^OK \[COPYUID /);
      assertNotBlocked(copied, `COPY ${c + 1}`);
    }
    const total = BASE_MESSAGES << DOUBLINGS;
    const count = await heavy.command(`h${++tagNo}`, 'STATUS big (MESSAGES)');
    assert.ok(
      count.lines.some((l) => l.includes(`MESSAGES ${total}`)),
      count.lines.join('\n'),
    );

    const flagged = await slowestNoopDuring(() => run('STORE 1:* +FLAGS.SILENT (\\Flagged)'));
    assert.match(flagged.result, /^OK/);
    assertNotBlocked(flagged, 'STORE');
    const search = await heavy.command(`h${++tagNo}`, 'SEARCH RETURN (COUNT) UNFLAGGED');
    assert.ok(
      search.lines.some((l) => /COUNT 0\b/.test(l)),
      search.lines.join('\n'),
    );

    assert.match(await run('STORE 1:* +FLAGS.SILENT (\\Deleted)'), /^OK/);
    const expunged = await slowestNoopDuring(() => run('EXPUNGE'));
    assert.match(expunged.result, /^OK/);
    assertNotBlocked(expunged, 'EXPUNGE');
    const after = await heavy.command(`h${++tagNo}`, 'STATUS big (MESSAGES)');
    assert.ok(
      after.lines.some((l) => l.includes('MESSAGES 0')),
      after.lines.join('\n'),
    );
    assert.match(await run('UNSELECT'), /^OK/);
  });

  // Not yet bounded: the 1,000 messages commit in one transaction (RFC 3502 §1: atomic, all or none), and
  // their staging and that commit still hold the event loop for about a second on a loaded machine.
  test('finding 10: one MULTIAPPEND of 1,000 messages', async () => {
    assert.match(await run('CREATE multi'), /^OK/);
    const batch = Array.from({ length: 1000 }, (_, k) => small(k));
    const appended = await slowestNoopDuring(() => run(multiAppend('multi', batch)));
    assert.match(appended.result, /^OK/);
    assertNotBlocked(appended, 'MULTIAPPEND');
  });

  test('finding 5: LIST with a 60,000-byte reference, and with costly patterns over long names', async () => {
    for (let k = 0; k < 200; k++) assert.match(await run(`CREATE ${String(k).padStart(3, '0')}${'x'.repeat(492)}`), /^OK/);
    const t = performance.now();
    const huge = await slowestNoopDuring(() => run(`LIST "${'*'.repeat(60000)}" "*"`));
    assert.ok(performance.now() - t < 2000, 'LIST with a 60,000-byte reference answered within 2 s');
    assert.match(huge.result, /^(BAD|NO)/);
    assertNotBlocked(huge, 'LIST');

    const patterns = Array.from({ length: 8 }, (_, k) => `"${'*%'.repeat(100)}${k}${'%*'.repeat(100)}y"`).join(' ');
    const t2 = performance.now();
    const costly = await slowestNoopDuring(() => run(`LIST "" (${patterns})`));
    assert.ok(performance.now() - t2 < 2000, 'LIST with costly patterns answered within 2 s');
    assert.match(costly.result, /^(OK|NO \[LIMIT\])/);
    assertNotBlocked(costly, 'LIST');

    // Collapsed wildcards still match as before: "%%*%" is "*".
    const reply = await heavy.command(`h${++tagNo}`, 'LIST "" "1%%*%x"');
    assert.match(reply.tagged, / OK/);
    assert.equal(reply.lines.filter((l) => l.startsWith('* LIST')).length, 100);
  });
});

describe('finding 10: slices keep each command’s meaning', () => {
  let small2: TestServer;
  before(async () => {
    small2 = await startTestServer({ limits: { messagesPerTransaction: 2 } });
    await small2.addUser('sam', 'pw');
  });
  after(async () => small2?.stop());

  test('a COPY refused in a later slice leaves the target as it was; MOVE and EXPUNGE cover the whole set', async () => {
    const c = await RawClient.login(small2.imapsPort, 'sam', 'pw');
    try {
      const five = Array.from({ length: 5 }, (_, k) => small(k));
      assert.match((await c.command('a', multiAppend('INBOX', five))).tagged, /^a OK/);
      const account = await small2.server.store.findAccount('sam');
      assert.ok(account);
      // 5 messages + the first slice's 2 copies fit; the second slice's would not.
      await small2.server.store.setQuota(account.id, { storage: null, messages: 8 });
      assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
      // RFC 9051 §6.4.7: a failed COPY restores the destination.
      assert.match((await c.command('c', 'COPY 1:5 Archive')).tagged, /^c NO \[OVERQUOTA\]/);
      const status = await c.command('t', 'STATUS Archive (MESSAGES)');
      assert.ok(
        status.lines.some((l) => l.includes('MESSAGES 0')),
        status.lines.join('\n'),
      );
      await small2.server.store.setQuota(account.id, { storage: null, messages: null });
      // RFC 6851: one COPYUID for the whole set, then an EXPUNGE for each message.
      const moved = await c.command('m', 'MOVE 1:5 Archive');
      assert.match(moved.tagged, /^m OK/);
      assert.ok(
        moved.lines.some((l) => /^\* OK \[COPYUID \d+ 1:5 \d+:\d+\]/.test(l)),
        moved.lines.join('\n'),
      );
      assert.equal(moved.lines.filter((l) => / EXPUNGE$/.test(l)).length, 5);
      assert.match((await c.command('s2', 'SELECT Archive')).tagged, /^s2 OK/);
      assert.match((await c.command('f', 'STORE 1:5 +FLAGS.SILENT (\\Deleted)')).tagged, /^f OK/);
      const expunged = await c.command('e', 'EXPUNGE');
      assert.match(expunged.tagged, /^e OK/);
      assert.equal(expunged.lines.filter((l) => / EXPUNGE$/.test(l)).length, 5);
    } finally {
      c.close();
    }
  });
});
