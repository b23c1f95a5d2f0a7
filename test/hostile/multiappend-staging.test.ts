/**
 * Finding 6 (issue 18): MULTIAPPEND counts message literals, and their size,
 * as each is announced, before staging any of it; other sessions stay
 * responsive meanwhile.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Files under the blob directory: staged temp files, and placed blobs (null on a store without one). */
function blobFiles(srv: TestServer): { temp: number; placed: number } | null {
  const root = join(srv.dataDir, 'blobs');
  if (!existsSync(root)) return null;
  let placed = 0;
  for (const dir of readdirSync(root)) if (dir !== 'tmp') placed += readdirSync(join(root, dir)).length;
  return { temp: readdirSync(join(root, 'tmp')).length, placed };
}

/** `tag APPEND INBOX` with `count` copies of `message` as literals, non-synchronizing. */
function multiAppend(tag: string, message: string, count: number): string {
  const one = ` {${message.length}+}\r\n${message}`;
  return `${tag} APPEND INBOX${one.repeat(count)}\r\n`;
}

async function messagesIn(c: RawClient, tag: string): Promise<number> {
  const r = await c.command(tag, 'STATUS INBOX (MESSAGES)');
  const m = /MESSAGES (\d+)/.exec(r.lines.join('\n'));
  assert.ok(m, r.tagged);
  return Number(m[1]);
}

/** Round trips of NOOP on `c` until `done` resolves (at most 2,000); the longest in ms. */
async function longestNoop(c: RawClient, done: Promise<unknown>): Promise<number> {
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  let longest = 0;
  for (let i = 0; i < 2000 && !finished; i++) {
    const t0 = performance.now();
    const r = await c.command(`n${i}`, 'NOOP', 10_000);
    assert.match(r.tagged, /^n\d+ OK/);
    longest = Math.max(longest, performance.now() - t0);
  }
  return longest;
}

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

describe('finding 6: MULTIAPPEND is bounded when announced', () => {
  test('40,000 tiny non-synchronizing literals are refused at the message limit, nothing staged, others unaffected', async () => {
    const srv = await startTestServer();
    servers.push(srv);
    await srv.addUser('eve', 'pw');
    await srv.addUser('bob', 'pw');
    const attacker = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    const other = await RawClient.login(srv.imapsPort, 'bob', 'pw');
    const limit = srv.config.limits.maxAppendMessages;
    assert.equal(limit, 1000);

    const msg = 'Subject: x\r\n\r\nhello\r\n';
    let peakTemp = 0;
    const sampler = setInterval(() => {
      peakTemp = Math.max(peakTemp, blobFiles(srv)?.temp ?? 0);
    }, 5);
    const t0 = Date.now();
    attacker.send(multiAppend('a', msg, 40_000));
    const refused = attacker.readTagged('a', 30_000);
    const longest = await longestNoop(other, refused);
    const r = await refused;
    clearInterval(sampler);
    assert.match(r.tagged, /^a BAD \[LIMIT\] .*limit 1000/);
    assert.ok(Date.now() - t0 < 10_000, `refused after ${Date.now() - t0} ms`);
    assert.ok(longest < 1000, `another session's NOOP took ${longest.toFixed(0)} ms`);

    // The rest of the command was skipped unstored: the connection is in step and nothing was committed.
    assert.match((await attacker.command('b', 'NOOP', 10_000)).tagged, /^b OK/);
    assert.equal(await messagesIn(attacker, 'c'), 0);
    const files = blobFiles(srv);
    if (files) {
      // Small literals are buffered within the command budget and staged only when the command runs.
      assert.ok(peakTemp <= limit, `${peakTemp} temp files at once`);
      assert.deepEqual(files, { temp: 0, placed: 0 });
    }

    // Up to the limit the same MULTIAPPEND works.
    attacker.send(multiAppend('d', msg, limit));
    assert.match((await attacker.readTagged('d', 60_000)).tagged, /^d OK \[APPENDUID \d+ 1:1000\]/);
    assert.equal(await messagesIn(attacker, 'e'), limit);
    attacker.close();
    other.close();
  });

  test('streamed message literals past the count are refused before staging; a synchronizing one gets no continuation', async () => {
    const srv = await startTestServer({ limits: { maxLiteralSize: 1024, maxAppendMessages: 20 } });
    servers.push(srv);
    await srv.addUser('eve', 'pw');
    const c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    // Over max-literal-size, so each streams to the blob store as it arrives; distinct, so each is its own blob.
    const msgs = Array.from({ length: 200 }, (_, i) => `Subject: ${i}\r\n\r\n${'x'.repeat(2000)}\r\n`);
    c.send(`a APPEND INBOX${msgs.map((m) => ` {${m.length}+}\r\n${m}`).join('')}\r\n`);
    assert.match((await c.readTagged('a', 30_000)).tagged, /^a BAD \[LIMIT\]/);
    assert.match((await c.command('b', 'NOOP', 10_000)).tagged, /^b OK/);
    // Staged blobs finish (fsync, rename) in the background; wait for that, then count.
    let files = blobFiles(srv);
    for (let i = 0; i < 100 && files && files.temp > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      files = blobFiles(srv);
    }
    if (files) assert.ok(files.placed <= 20 && files.temp === 0, JSON.stringify(files));

    // Synchronizing literals: the 21st is refused instead of invited.
    c.send(`s APPEND INBOX {${msgs[0]!.length}}\r\n`);
    for (let i = 0; i < 20; i++) {
      assert.match(await c.readLine(10_000), /^\+ /);
      c.send(`${msgs[i]!} {${msgs[i + 1]!.length}}\r\n`);
    }
    assert.match(await c.readLine(10_000), /^s BAD \[LIMIT\]/);
    assert.match((await c.command('t', 'NOOP', 10_000)).tagged, /^t OK/);
    assert.equal(await messagesIn(c, 'u'), 0);
    c.close();
  });

  test('a MULTIAPPEND of 300 streamed messages holds a few temp files at a time, not one per message', async () => {
    const srv = await startTestServer({ limits: { maxLiteralSize: 1024 } });
    servers.push(srv);
    await srv.addUser('eve', 'pw');
    const c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    const msgs = Array.from({ length: 300 }, (_, i) => `Subject: ${i}\r\n\r\n${'z'.repeat(20_000)}\r\n`);
    let peakTemp = 0;
    const sampler = setInterval(() => {
      peakTemp = Math.max(peakTemp, blobFiles(srv)?.temp ?? 0);
    }, 2);
    c.send(`a APPEND INBOX${msgs.map((m) => ` {${m.length}+}\r\n${m}`).join('')}\r\n`);
    const r = await c.readTagged('a', 60_000);
    clearInterval(sampler);
    assert.match(r.tagged, /^a OK \[APPENDUID \d+ 1:300\]/);
    // Four finishing (fsync) and one being written; sampling may miss a peak, never invent one.
    if (blobFiles(srv)) assert.ok(peakTemp <= 5, `${peakTemp} temp files at once`);
    c.close();
  });

  test('message literals past the total size of one command are refused when announced', async () => {
    const srv = await startTestServer({ limits: { maxAppendTotalSize: 5000 } });
    servers.push(srv);
    await srv.addUser('eve', 'pw');
    const c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    const msg = `Subject: big\r\n\r\n${'y'.repeat(1980)}\r\n`;
    c.send(multiAppend('a', msg, 3));
    assert.match((await c.readTagged('a', 10_000)).tagged, /^a BAD \[TOOBIG\] .*5000/);
    assert.match((await c.command('b', 'NOOP', 10_000)).tagged, /^b OK/);
    c.send(multiAppend('c', msg, 2));
    assert.match((await c.readTagged('c', 10_000)).tagged, /^c OK \[APPENDUID/);
    c.close();
  });
});
