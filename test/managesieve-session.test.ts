/**
 * ManageSieve transcripts (RFC 5804) against a real server over sockets:
 * the examples of §2.x, STARTTLS then AUTHENTICATE, and the error cases
 * (script errors with line and column, quotas, bad names, commands before
 * login, oversized literals). Runs on SQLite, and on PostgreSQL with
 * MAILKEEP_TEST_STORE=postgres (scripts/test-pg.sh).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { literal, SieveClient } from './helpers/managesieve-client.js';
import { b64, ScramClient, tlsExporter, unb64 } from './helpers/scram-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SIEVE = { maxScripts: 4, maxScriptSize: 100_000, maxTotalSize: 150_000 };
const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ sieve: SIEVE });
  for (const user of ['alice', 'bob', 'carol', 'dave']) await srv.addUser(user, 'pw');
});
after(async () => srv.stop());

/** A logged-in session of `user`; closed after `fn`. */
async function session(user: string, fn: (c: SieveClient) => Promise<void>): Promise<void> {
  const c = await SieveClient.login(srv.managesievePort, user, 'pw');
  try {
    await fn(c);
  } finally {
    c.close();
  }
}

describe('connecting and authenticating', () => {
  test('greeting: capabilities then OK; no password mechanism before TLS; PLAIN refused with ENCRYPT-NEEDED (§1.7, §2.1.1)', async () => {
    const { client, greeting } = await SieveClient.connect(srv.managesievePort);
    try {
      assert.match(greeting.status, /^OK /);
      assert.ok(greeting.lines.includes('"IMPLEMENTATION" "mailkeep"'));
      assert.ok(greeting.lines.includes('"STARTTLS"'));
      assert.ok(greeting.lines.includes('"VERSION" "1.0"'));
      assert.ok(greeting.lines.includes('"UNAUTHENTICATE"'));
      // SCRAM never sends the password: offered before TLS too, its -PLUS variants only with TLS (auth/sasl-login.ts).
      assert.ok(greeting.lines.includes('"SASL" "SCRAM-SHA-256 SCRAM-SHA-1"'));
      assert.ok(greeting.lines.some((l) => /^"SIEVE" ".*\bfileinto\b.*\bvacation\b/.test(l)));
      assert.ok(greeting.lines.includes('"MAXREDIRECTS" "4"'));
      assert.ok(!greeting.lines.some((l) => l.startsWith('"OWNER"')));
      const r = await client.command(`AUTHENTICATE "PLAIN" "${plain('alice', 'pw')}"`);
      assert.match(r.status, /^NO \(ENCRYPT-NEEDED\)/);
    } finally {
      client.close();
    }
  });

  test('STARTTLS re-sends the capabilities (§2.2); AUTHENTICATE PLAIN with SASL-IR; OWNER after login', async () => {
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      const caps = await client.startTls();
      assert.match(caps.status, /^OK/);
      assert.ok(caps.lines.includes('"SASL" "SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN"'));
      assert.ok(!caps.lines.includes('"STARTTLS"'));
      assert.match((await client.command('STARTTLS')).status, /^NO/);
      const auth = await client.command(`AUTHENTICATE "PLAIN" "${plain('alice', 'pw')}"`, 30_000);
      assert.match(auth.status, /^OK/);
      const after = await client.command('CAPABILITY');
      assert.ok(after.lines.includes('"OWNER" "alice"'));
      assert.ok(!after.lines.some((l) => l.startsWith('"SASL"')));
      const live = srv.server.sessions.list((s) => s.protocol === 'managesieve' && s.user?.name === 'alice');
      assert.equal(live.length, 1);
      assert.equal(live[0]!.tls, true);
    } finally {
      client.close();
    }
  });

  test('AUTHENTICATE SCRAM-SHA-256-PLUS with tls-exporter, as on IMAP and POP3 (RFC 5804 §2.1, RFC 5802, RFC 9266)', async () => {
    // alice's SCRAM keys are derived after her first password login, in the background: wait for them.
    const alice = (await srv.server.store.findAccount('alice'))!;
    const deadline = Date.now() + 30_000;
    while ((await srv.server.store.scramCredential(alice.id, 'SHA-256')) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      await client.startTls();
      const binding = { flag: 'p' as const, type: 'tls-exporter', data: tlsExporter(client.raw.rawSocket() as TLSSocket) };
      const scram = new ScramClient('sha256', 'alice', 'pw', binding);
      // RFC 5804 §2.1: each server challenge is a string, each client response a string.
      client.raw.send(`AUTHENTICATE "SCRAM-SHA-256-PLUS" "${b64(scram.clientFirst)}"\r\n`);
      const first = unb64(JSON.parse(await client.raw.readLine(30_000)) as string);
      client.raw.send(`"${b64(scram.final(first))}"\r\n`);
      const final = unb64(JSON.parse(await client.raw.readLine(30_000)) as string);
      assert.ok(scram.verifies(final), final);
      const done = await client.command('""', 30_000);
      assert.match(done.status, /^OK/);
      const live = srv.server.sessions.list((s) => s.protocol === 'managesieve' && s.user?.name === 'alice');
      assert.ok(live.length >= 1);
    } finally {
      client.close();
    }
  });

  test('AUTHENTICATE without an initial response: empty challenge, response as a literal; "*" cancels; a wrong password is NO', async () => {
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      await client.startTls();
      client.raw.send('AUTHENTICATE "PLAIN"\r\n');
      assert.equal(await client.raw.readLine(), '""');
      assert.match((await client.command('"*"')).status, /^NO "Authentication cancelled"/);
      assert.match((await client.command(`AUTHENTICATE "PLAIN" "${plain('alice', 'wrong')}"`, 30_000)).status, /^NO /);
      client.raw.send('AUTHENTICATE "PLAIN"\r\n');
      assert.equal(await client.raw.readLine(), '""');
      assert.match((await client.command(literal(plain('alice', 'pw')), 30_000)).status, /^OK/);
    } finally {
      client.close();
    }
  });

  test('AUTHENTICATE LOGIN: base64 challenges as strings', async () => {
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      await client.startTls();
      client.raw.send('AUTHENTICATE "LOGIN"\r\n');
      assert.equal(await client.raw.readLine(), `"${Buffer.from('Username:').toString('base64')}"`);
      client.raw.send(`"${Buffer.from('alice').toString('base64')}"\r\n`);
      assert.equal(await client.raw.readLine(), `"${Buffer.from('Password:').toString('base64')}"`);
      assert.match((await client.command(`"${Buffer.from('pw').toString('base64')}"`, 30_000)).status, /^OK/);
    } finally {
      client.close();
    }
  });

  test('script commands before login are refused; unknown commands and bad syntax are NO; UNAUTHENTICATE goes back (§2.14.1)', async () => {
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      assert.match((await client.command('LISTSCRIPTS')).status, /^NO "LISTSCRIPTS is not allowed before login"/);
      assert.match((await client.command(`GETSCRIPT "x"`)).status, /^NO /);
      assert.match((await client.command('FROBNICATE')).status, /^NO "Unknown command"/);
      assert.match((await client.command('NOOP "unterminated')).status, /^NO "Unterminated quoted string"/);
      await client.startTls();
      assert.match((await client.command(`AUTHENTICATE "PLAIN" "${plain('alice', 'pw')}"`, 30_000)).status, /^OK/);
      assert.match((await client.command('LISTSCRIPTS')).status, /^OK/);
      assert.match((await client.command('UNAUTHENTICATE')).status, /^OK/);
      assert.match((await client.command('LISTSCRIPTS')).status, /^NO /);
      assert.match((await client.command('LOGOUT')).status, /^OK/);
    } finally {
      client.close();
    }
  });
});

describe('RFC 5804 §2 examples', () => {
  test('§2.6 PUTSCRIPT: a syntax error names line 2 with its column; a valid script is stored', async () => {
    await session('bob', async (c) => {
      const bad = await c.command(`Putscript "foo" ${literal('#comment\r\nInvalidSieveCommand\r\n')}`);
      assert.match(bad.status, /^NO "2:\d+: /);
      // The RFC's example script uses `envelope` without requiring it, which RFC 5228 §3.2 makes an error.
      const script = 'require ["fileinto", "envelope"];\r\n\r\nif envelope :contains "to" "tmartin+sent" {\r\n  fileinto "INBOX.sent";\r\n}';
      assert.match((await c.command(`PUTSCRIPT "mysievescript" ${literal(script)}`)).status, /^OK/);
      const got = await c.command('GETSCRIPT "mysievescript"');
      assert.deepEqual(got.lines, [`{${script.length}}\r\n${script}`]);
      assert.match(got.status, /^OK/);
      assert.match((await c.command('PUTSCRIPT "missing-require" {19+}\r\nfileinto "Junk";\r\n\r\n')).status, /^NO "1:1: /);
      // A synchronizing literal ({n}, literal-s2c syntax) from a client is taken the same way, without a continuation.
      assert.match((await c.command('PUTSCRIPT "sync" {7}\r\nkeep;\r\n')).status, /^OK/);
    });
  });

  test('§2.12 CHECKSCRIPT: errors with line and column, nothing stored', async () => {
    await session('bob', async (c) => {
      const r = await c.command(`CHECKSCRIPT ${literal('require "fileinto";\r\nif true {\r\n  fileinto ;\r\n}\r\n')}`);
      assert.match(r.status, /^NO "3:\d+: /);
      assert.match((await c.command(`CHECKSCRIPT ${literal('keep;\r\n')}`)).status, /^OK/);
    });
  });

  test('§2.5 HAVESPACE: QUOTA/MAXSIZE for a script over the size limit, OK otherwise', async () => {
    await session('carol', async (c) => {
      assert.match((await c.command('HAVESPACE "myscript" 999999')).status, /^NO \(QUOTA\/MAXSIZE\)/);
      assert.match((await c.command('HAVESPACE "foobar" 435')).status, /^OK/);
      assert.match((await c.command('HAVESPACE "foobar" 0435')).status, /^NO /);
    });
  });

  test('§2.7–§2.11: LISTSCRIPTS, SETACTIVE, DELETESCRIPT (ACTIVE), RENAMESCRIPT, NOOP with TAG', async () => {
    await session('dave', async (c) => {
      for (const name of ['summer_script', 'vacation_script', 'main_script']) {
        assert.match((await c.command(`PUTSCRIPT "${name}" ${literal('keep;\r\n')}`)).status, /^OK/);
      }
      assert.match((await c.command(`PUTSCRIPT {13+}\r\nclever"script ${literal('keep;\r\n')}`)).status, /^OK/);
      assert.match((await c.command('SETACTIVE "main_script"')).status, /^OK/);
      const list = await c.command('LISTSCRIPTS');
      assert.deepEqual(new Set(list.lines), new Set(['"clever\\"script"', '"main_script" ACTIVE', '"summer_script"', '"vacation_script"']));
      // §2.8
      assert.match((await c.command('SETACTIVE "baz"')).status, /^NO \(NONEXISTENT\)/);
      assert.match((await c.command('SETACTIVE "vacation_script"')).status, /^OK/);
      // §2.10: the active script cannot be deleted.
      assert.match((await c.command('DELETESCRIPT "vacation_script"')).status, /^NO \(ACTIVE\)/);
      assert.match((await c.command('DELETESCRIPT "baz"')).status, /^NO \(NONEXISTENT\)/);
      assert.match((await c.command('DELETESCRIPT "summer_script"')).status, /^OK/);
      // §2.11: an active script stays active under its new name.
      assert.match((await c.command('RENAMESCRIPT "vacation_script" "away"')).status, /^OK/);
      assert.match((await c.command('RENAMESCRIPT "away" "main_script"')).status, /^NO \(ALREADYEXISTS\)/);
      assert.match((await c.command('RENAMESCRIPT "nothere" "x"')).status, /^NO \(NONEXISTENT\)/);
      assert.deepEqual(new Set((await c.command('LISTSCRIPTS')).lines), new Set(['"clever\\"script"', '"main_script"', '"away" ACTIVE']));
      const account = await srv.server.store.findAccount('dave');
      assert.equal((await srv.server.store.getActiveSieveScript(account!.id))?.name, 'away');
      // §2.8: the empty name deactivates.
      assert.match((await c.command('SETACTIVE ""')).status, /^OK/);
      assert.equal(await srv.server.store.getActiveSieveScript(account!.id), null);
      assert.match((await c.command('DELETESCRIPT "away"')).status, /^OK/);
      // §2.13
      assert.equal((await c.command('NOOP "STARTTLS-SYNC-42"')).status, 'OK (TAG "STARTTLS-SYNC-42") "Done"');
      assert.match((await c.command('NOOP')).status, /^OK/);
    });
  });
});

describe('limits and names', () => {
  test('quotas: QUOTA/MAXSCRIPTS past max-scripts, QUOTA past max-total-size; replacing a script fits', async () => {
    const srvUser = 'quota';
    await srv.addUser(srvUser, 'pw');
    await session(srvUser, async (c) => {
      const big = `# ${'x'.repeat(60_000)}\r\nkeep;\r\n`;
      assert.match((await c.command(`PUTSCRIPT "a" ${literal(big)}`)).status, /^OK/);
      assert.match((await c.command(`PUTSCRIPT "a" ${literal(big)}`)).status, /^OK/);
      assert.match((await c.command(`PUTSCRIPT "b" ${literal(big)}`)).status, /^OK/);
      assert.match((await c.command(`PUTSCRIPT "c" ${literal(big)}`)).status, /^NO \(QUOTA\)/);
      assert.match((await c.command('HAVESPACE "c" 60000')).status, /^NO \(QUOTA\)/);
      for (const name of ['c', 'd']) assert.match((await c.command(`PUTSCRIPT "${name}" ${literal('keep;\r\n')}`)).status, /^OK/);
      assert.match((await c.command(`PUTSCRIPT "e" ${literal('keep;\r\n')}`)).status, /^NO \(QUOTA\/MAXSCRIPTS\)/);
      assert.match((await c.command('HAVESPACE "e" 10')).status, /^NO \(QUOTA\/MAXSCRIPTS\)/);
      assert.match((await c.command('HAVESPACE "d" 10')).status, /^OK/);
    });
  });

  test('a literal over max-script-size is read and dropped: NO (QUOTA/MAXSIZE), and the session goes on', async () => {
    await session('carol', async (c) => {
      const size = SIEVE.maxScriptSize + 1;
      const r = await c.command(`PUTSCRIPT "huge" {${size}+}\r\n${'#'.repeat(size)}`, 20_000);
      assert.match(r.status, /^NO \(QUOTA\/MAXSIZE\)/);
      assert.match((await c.command('LISTSCRIPTS')).status, /^OK/);
      // A literal in a command that takes no script is bounded by limits.max-literal-size.
      assert.match((await c.command(`NOOP {70000+}\r\n${'a'.repeat(70_000)}`, 20_000)).status, /^NO "Literal too big"/);
      assert.match((await c.command('NOOP')).status, /^OK/);
    });
  });

  test('a large script is checked off the event loop (a worker thread) with the same line and column', async () => {
    await session('carol', async (c) => {
      let big = 'require "fileinto";\r\n';
      let lines = 1;
      while (big.length < 90_000) {
        big += `if header :is "x-n" "${lines}" { fileinto "F${lines}"; }\r\n`;
        lines++;
      }
      const r = await c.command(`CHECKSCRIPT ${literal(`${big}fileinto "x"\r\n`)}`, 20_000);
      assert.match(r.status, new RegExp(`^NO "${lines + 1}:\\d+: `));
      assert.match((await c.command(`PUTSCRIPT "big" ${literal(big)}`, 20_000)).status, /^OK/);
      assert.match((await c.command('DELETESCRIPT "big"')).status, /^OK/);
    });
  });

  test('script names follow RFC 5804 §1.6: not empty, no control characters; UTF-8 names round-trip', async () => {
    await session('carol', async (c) => {
      assert.match((await c.command(`PUTSCRIPT "" ${literal('keep;\r\n')}`)).status, /^NO "A script name cannot be empty"/);
      assert.match((await c.command(`PUTSCRIPT "a\u007fb" ${literal('keep;\r\n')}`)).status, /^NO "A script name cannot contain control/);
      assert.match((await c.command(`PUTSCRIPT {3+}\r\na\r\n ${literal('keep;\r\n')}`)).status, /^NO "A script name cannot contain control/);
      assert.match((await c.command(`PUTSCRIPT "${'n'.repeat(256)}" ${literal('keep;\r\n')}`)).status, /^NO "A script name is at most 255/);
      const utf8 = Buffer.from('PUTSCRIPT "Früh-Regeln" {7+}\r\nkeep;\r\n\r\n', 'utf8');
      c.raw.send(utf8);
      assert.match((await c.read()).status, /^OK/);
      const list = await c.command('LISTSCRIPTS');
      assert.ok(list.lines.includes(Buffer.from('"Früh-Regeln"', 'utf8').toString('latin1')));
      // Not UTF-8: refused.
      c.raw.send(Buffer.concat([Buffer.from('PUTSCRIPT "bad'), Buffer.from([0xff]), Buffer.from(`" ${literal('keep;\r\n')}\r\n`)]));
      assert.match((await c.read()).status, /^NO /);
      // A script that is not UTF-8 is refused too (RFC 5228 §2.2).
      c.raw.send(Buffer.concat([Buffer.from('PUTSCRIPT "latin1" {12+}\r\n# '), Buffer.from([0xe9]), Buffer.from('\r\nkeep;\r\n\r\n')]));
      assert.match((await c.read()).status, /^NO "The script is not UTF-8/);
    });
  });
});
