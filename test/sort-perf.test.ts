/**
 * Scale check for SORT and THREAD: a mailing-list mailbox (3,000 messages by default)
 * (distinct messages with References chains, replies, forwards and 2 KB
 * bodies) in a real server, sorted and threaded over a socket. Prints timings
 * as test diagnostics; the bounds are loose (shared CI machines) and catch
 * only gross regressions such as per-message round trips or quadratic work.
 * The event loop must stay responsive while a cold SORT loads its data.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { analyzeMessage } from '../src/mime/analyze.js';
import type { NewMessage } from '../src/store/types.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** 3,000 keeps the suite quick; the benchmark in bench/ measures 10,000 (`MAILKEEP_SORT_PERF_COUNT=10000` here too). */
const COUNT = Number(process.env.MAILKEEP_SORT_PERF_COUNT ?? 3000);
const BATCH = 500;
/** Generous ceiling per command (the target is well under a second on a developer machine). */
const LIMIT_MS = 4000;

/** Message i of a list where every third message starts a thread and the next two reply to its start or to each other. */
function listMessage(i: number): Buffer {
  const root = i - (i % 3);
  const parent = i % 2 === 0 ? root : i - 1;
  const refs = i === root ? [] : parent === root ? [`<m${root}@list.example>`] : [`<m${root}@list.example>`, `<m${parent}@list.example>`];
  const subject =
    i === root
      ? `Topic ${i} about ${['builds', 'releases', 'docs', 'CI'][i % 4]}`
      : `${i % 11 === 0 ? 'Fwd' : 'Re'}: Topic ${root} about ${['builds', 'releases', 'docs', 'CI'][root % 4]}`;
  const minute = (i * 37) % (60 * 24 * 28);
  const day = 1 + Math.floor(minute / 1440);
  const lines = [
    `Received: from mx${i % 5}.example.net by mail.example.org; Mon, 1 Jan 2024 00:00:00 +0000`,
    `From: "Member ${i % 251}" <member${i % 251}@example.${['com', 'org', 'net'][i % 3]}>`,
    'To: dev@list.example',
    `Subject: ${subject}`,
    `Date: ${day} Feb 2024 ${String(Math.floor((minute % 1440) / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <m${i}@list.example>`,
    ...(refs.length > 0 ? [`References: ${refs.join(' ')}`, `In-Reply-To: ${refs[refs.length - 1]}`] : []),
    'List-Id: <dev.list.example>',
    '',
    ...Array.from({ length: 30 }, (_, k) => `Line ${k} of message ${i}: some discussion text that fills the body a bit.`),
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n`);
}

let srv: TestServer;
let c: RawClient;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'wonderland');
  const store = srv.server.store;
  const account = (await store.findAccount('alice'))!;
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  for (let start = 0; start < COUNT; start += BATCH) {
    const batch: NewMessage[] = await Promise.all(
      Array.from({ length: BATCH }, async (_, k) => {
        const bytes = listMessage(start + k);
        return {
          blob: await store.blobs.put(bytes),
          analysis: analyzeMessage(bytes),
          flags: [],
          internalDate: new Date(1_700_000_000_000 + (start + k) * 60_000),
        };
      }),
    );
    await store.appendMessages(account.id, inbox.id, batch);
  }
  ({ client: c } = await RawClient.connect(srv.imapsPort, { tls: true }));
  assert.match((await c.command('l', 'LOGIN alice wonderland')).tagged, /^l OK/);
  assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
});
after(async () => {
  c.close();
  await srv.stop();
});

/** Runs a command, checks OK and one untagged response of `kind`; returns the elapsed ms and that response. */
async function timed(command: string, kind: string): Promise<[number, string]> {
  const t0 = performance.now();
  const r = await c.command('p', command, 30_000);
  const ms = performance.now() - t0;
  assert.match(r.tagged, /^p OK/, r.tagged);
  const lines = r.lines.filter((l) => l.startsWith(`* ${kind}`));
  assert.equal(lines.length, 1);
  return [ms, lines[0]!];
}

describe(`SORT and THREAD on ${COUNT} messages`, () => {
  test('SORT (cold, then cached) and THREAD stay fast; the event loop stays free', async (t) => {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const [cold, dateLine] = await timed('SORT (DATE) UTF-8 ALL', 'SORT');
    delay.disable();
    const maxLagMs = delay.max / 1e6;
    t.diagnostic(`SORT (DATE), facts not cached: ${cold.toFixed(0)} ms; max event-loop delay ${maxLagMs.toFixed(0)} ms`);
    const byDate = dateLine.split(' ').slice(2).map(Number);
    assert.equal(byDate.length, COUNT);
    assert.equal(new Set(byDate).size, COUNT);
    assert.ok(maxLagMs < 2000, `event loop blocked for ${maxLagMs} ms`);

    const runs: Array<[string, string]> = [
      ['SORT (DATE) UTF-8 ALL', 'SORT'],
      ['SORT (SUBJECT REVERSE DATE) UTF-8 ALL', 'SORT'],
      ['SORT (DISPLAYFROM SIZE) UTF-8 ALL', 'SORT'],
      ['SORT (REVERSE ARRIVAL) UTF-8 ALL', 'SORT'],
      ['UID SORT RETURN (PARTIAL -1:-50) (DATE) UTF-8 ALL', 'ESEARCH'],
      ['THREAD REFERENCES UTF-8 ALL', 'THREAD'],
      ['THREAD ORDEREDSUBJECT UTF-8 ALL', 'THREAD'],
    ];
    for (const [command, kind] of runs) {
      const [ms] = await timed(command, kind);
      t.diagnostic(`${command}: ${ms.toFixed(0)} ms`);
      assert.ok(ms < LIMIT_MS, `${command} took ${ms} ms`);
    }
    assert.ok(cold < LIMIT_MS, `cold SORT took ${cold} ms`);
  });

  test('the thread structure of the generated list', async () => {
    const [, line] = await timed('THREAD REFERENCES UTF-8 ALL', 'THREAD');
    // Every third message starts a thread; all others reply within one.
    let depth = 0;
    let threads = 0;
    for (const ch of line.slice('* THREAD '.length)) {
      if (ch === '(' && depth++ === 0) threads++;
      else if (ch === ')') depth--;
    }
    assert.equal(depth, 0);
    assert.equal(threads, Math.ceil(COUNT / 3));
  });
});
