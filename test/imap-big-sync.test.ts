/**
 * A change bigger than the sync step reports in one go (over 1,024 messages:
 * the report runs in steps that let other sessions run, issue 18 finding 10)
 * still reports exactly what RFC 9051 asks: a non-silent STORE's FETCH for
 * every message once, ascending (§6.4.6); an idler's FETCH for each change
 * (RFC 2177); EXPUNGE responses whose numbers are valid one after the other
 * (§7.5.1) for the session that expunged and for one that learns of it
 * later. With MAILKEEP_CHECK_VIEWS=1 (the suite) every view is also checked
 * against the store after each command.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Above the sync's one-go bound (REPORT_AT_ONCE, 1,024). */
const MESSAGES = 3000;
/** Generous: a loaded 2-core CI box. */
const SLOW_MS = 120_000;

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('big', 'pw');
});
after(async () => srv.stop());

/** One MULTIAPPEND (RFC 3502) of `count` small messages, LITERAL+. */
function multiAppend(box: string, from: number, count: number): string {
  let cmd = `APPEND ${box}`;
  for (let i = from; i < from + count; i++) {
    const msg = `Subject: m ${i}\r\nMessage-ID: <${i}@big.test>\r\n\r\nbody ${i}\r\n`;
    cmd += ` {${msg.length}+}\r\n${msg}`;
  }
  return cmd;
}

/** Checks that EXPUNGE lines apply one after the other to a mailbox of `exists` messages; returns what is left. */
function applyExpunges(lines: readonly string[], exists: number): number {
  let left = exists;
  for (const line of lines) {
    const m = /^\* (\d+) EXPUNGE$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]);
    assert.ok(n >= 1 && n <= left, `${line} with ${left} messages left`);
    left--;
  }
  return left;
}

describe('a change over 1,024 messages, reported in steps', () => {
  test('STORE answers each message once, an idler hears every change, EXPUNGE numbers stay valid', async () => {
    const a = await RawClient.login(srv.imapsPort, 'big', 'pw');
    const b = await RawClient.login(srv.imapsPort, 'big', 'pw');
    const probe = await RawClient.login(srv.imapsPort, 'big', 'pw');
    try {
      assert.match((await a.command('c', 'CREATE big')).tagged, /^c OK/);
      for (let from = 1; from <= MESSAGES; from += 500) assert.match((await a.command('a', multiAppend('big', from, 500), SLOW_MS)).tagged, /^a OK/);
      assert.match((await a.command('s', 'SELECT big', SLOW_MS)).tagged, /^s OK/);
      assert.match((await b.command('s', 'SELECT big', SLOW_MS)).tagged, /^s OK/);

      b.send('i IDLE\r\n');
      assert.match(await b.readLine(SLOW_MS), /^\+ /);
      const stored = await a.command('f', 'STORE 1:* +FLAGS (\\Flagged)', SLOW_MS);
      assert.match(stored.tagged, /^f OK/);
      // RFC 9051 §6.4.6: the flags of every message in the set, each once; they come ascending.
      const answered = stored.lines.map((l) => /^\* (\d+) FETCH \((?:UID \d+ )?FLAGS \(([^)]*)\)\)$/.exec(l)).filter((m) => m !== null);
      assert.deepEqual(
        answered.map((m) => Number(m[1])),
        Array.from({ length: MESSAGES }, (_, k) => k + 1),
      );
      assert.ok(answered.every((m) => m[2]!.split(' ').includes('\\Flagged')));
      assert.match((await probe.command('n', 'NOOP', SLOW_MS)).tagged, /^n OK/);

      // The idler hears each message's new flags once.
      const heard = new Set<number>();
      while (heard.size < MESSAGES) {
        const line = await b.readLine(SLOW_MS);
        const m = /^\* (\d+) FETCH \((?:UID \d+ )?FLAGS \(([^)]*)\)\)$/.exec(line);
        if (!m) continue;
        assert.ok(m[2]!.split(' ').includes('\\Flagged'), line);
        assert.ok(!heard.has(Number(m[1])), `twice: ${line}`);
        heard.add(Number(m[1]));
      }
      b.send('DONE\r\n');
      assert.match((await b.readTagged('i', SLOW_MS)).tagged, /^i OK/);

      // Every other message goes, so the EXPUNGE numbers are not all 1s or a plain countdown.
      assert.match((await a.command('d', 'STORE 1:* +FLAGS.SILENT (\\Deleted)', SLOW_MS)).tagged, /^d OK/);
      assert.match(
        (await a.command('k', `STORE ${Array.from({ length: MESSAGES / 2 }, (_, k) => 2 * k + 1).join(',')} -FLAGS.SILENT (\\Deleted)`, SLOW_MS)).tagged,
        /^k OK/,
      );
      const expunged = await a.command('e', 'EXPUNGE', SLOW_MS);
      assert.match(expunged.tagged, /^e OK/);
      assert.equal(expunged.lines.filter((l) => l.endsWith(' EXPUNGE')).length, MESSAGES / 2);
      assert.equal(applyExpunges(expunged.lines, MESSAGES), MESSAGES / 2);

      // The other session learns all of it at its next command that may expunge.
      const later = await b.command('n', 'NOOP', SLOW_MS);
      assert.match(later.tagged, /^n OK/);
      assert.equal(applyExpunges(later.lines, MESSAGES), MESSAGES / 2);
      const left = await b.command('f', 'FETCH 1:* (UID FLAGS)', SLOW_MS);
      const uids = left.lines.map((l) => /UID (\d+)/.exec(l)?.[1]).filter((u) => u !== undefined);
      assert.deepEqual(
        uids.map(Number),
        Array.from({ length: MESSAGES / 2 }, (_, k) => 2 * k + 1),
      );
      assert.ok(left.lines.every((l) => !l.includes('\\Deleted')));
    } finally {
      for (const c of [a, b, probe]) c.close();
    }
  });
});
