/**
 * Bad input never crashes a session: each malformed or hostile line gets a
 * BAD or NO, and the same connection then runs a valid command.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ limits: { maxLineLength: 8192, maxLiteralSize: 4096, appendLimit: 100000 } });
  await srv.addUser('eve', 'pw');
});
after(async () => srv.stop());

/** Lines sent after login with INBOX selected; each must be answered BAD or NO. */
const HOSTILE: string[] = [
  'h1 SELECT "INBOX',
  'h2 LOGIN "unterminated',
  'h3 FETCH 1 (FLAGS',
  'h4 FETCH 1 FLAGS)',
  'h5 FETCH 0 FLAGS',
  'h6 FETCH 1:0x FLAGS',
  'h7 FETCH 99999999999 FLAGS',
  'h8 FETCH * BODY[',
  'h9 FETCH 1 BODY[1.HEADER.FIELDS]',
  'h10 FETCH 1 BODY[HEADER.FIELDS ()]',
  'h11 FETCH 1 BODY[]<10>',
  'h12 FETCH 1 BINARY[0]',
  'h13 FETCH 1 NOSUCHITEM',
  'h14 STORE 1 FLAGS (\\Recent)',
  'h15 STORE 1 +FLAGS (\\Bogus)',
  'h16 STORE 1 =FLAGS (\\Seen)',
  'h17 STORE 1 +FLAGS (unterminated',
  'h18 COPY 1',
  'h19 MOVE',
  'h20 UID',
  'h21 UID NOOP',
  'h22 UID FETCH',
  'h23 SEARCH',
  'h24 SEARCH NOSUCHKEY',
  'h25 SEARCH OR SEEN',
  'h26 SEARCH (SEEN',
  'h27 SEARCH BEFORE 32-Foo-2020',
  'h28 SEARCH CHARSET NOPE-9 BODY x',
  'h29 LIST',
  'h30 LIST ""',
  'h31 CREATE',
  'h32 CREATE ""',
  'h33 CREATE "a\x01b"',
  'h34 RENAME INBOX',
  'h35 STATUS INBOX',
  'h36 STATUS INBOX (NOSUCH)',
  'h37 STATUS INBOX ()',
  'h38 APPEND INBOX',
  'h39 APPEND INBOX (\\Seen',
  'h40 APPEND INBOX "32-Jan-2020 00:00:00 +0000" "abc"',
  'h41 SELECT',
  'h42 ENABLE',
  'h43 ID ("a")',
  'h44 AUTHENTICATE PLAIN',
  'h45 FROBNICATE',
  `h46 fetch 1 (${'('.repeat(40)}${')'.repeat(40)})`,
  `h47 SEARCH ${'('.repeat(100)}ALL${')'.repeat(100)}`,
  `h48 SEARCH ${'NOT '.repeat(200)}ALL`,
  'h49 EXAMINE "\xff\xfe"',
  'h50 LIST "" "\x00"',
  'h51 NOOP extra',
  'h52 CAPABILITY now',
  'h53 LOGOUT please',
  'h54 COPY 1:* nothere',
  'h55 UID EXPUNGE',
  'h56 IDLE now',
];

describe('hostile input', () => {
  test('every malformed command gets BAD or NO and the session survives', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    await client.command('l', 'LOGIN eve pw');
    await client.command('a', 'APPEND INBOX {9+}\r\nSubject:\r\n');
    await client.command('s', 'SELECT INBOX');
    for (const line of HOSTILE) {
      const tag = line.split(' ')[0]!;
      const r = await client.command(tag, Buffer.from(line.slice(tag.length + 1), 'latin1'));
      assert.match(r.tagged, new RegExp(`^${tag} (BAD|NO)`), `${line} -> ${r.tagged}`);
      const ok = await client.command('ok', 'NOOP');
      assert.match(ok.tagged, /^ok OK/, `after ${line}`);
    }
    client.close();
  });

  test('8-bit in a tag or atom, empty lines and garbage', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    client.send(Buffer.from('\xe9t\xe9 NOOP\r\n', 'latin1'));
    assert.match(await client.readLine(), /^\* BAD/);
    client.send('\r\n');
    assert.match(await client.readLine(), /^\* BAD/);
    client.send(Buffer.from([0, 1, 2, 0xff, 13, 10]));
    assert.match(await client.readLine(), /^\* BAD/);
    assert.match((await client.command('n', 'NOOP')).tagged, /^n OK/);
    client.close();
  });

  test('a literal above the limit is refused before it is sent', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    await client.command('l', 'LOGIN eve pw');
    // Synchronizing: refused instead of "+", so the client never sends the bytes.
    client.send('b1 SELECT {999999999}\r\n');
    assert.match((await client.readTagged('b1')).tagged, /^b1 BAD \[TOOBIG\]/);
    assert.match((await client.command('n1', 'NOOP')).tagged, /^n1 OK/);
    // APPEND above APPENDLIMIT: NO [TOOBIG] before any byte is read.
    client.send('b2 APPEND INBOX {4294967295}\r\n');
    assert.match((await client.readTagged('b2')).tagged, /^b2 NO \[TOOBIG\]/);
    assert.match((await client.command('n2', 'NOOP')).tagged, /^n2 OK/);
    // Non-synchronizing over the limit: answered at once, the bytes are skipped, the session goes on.
    const big = 'x'.repeat(5000);
    client.send(`b3 SELECT {${big.length}+}\r\n${big}\r\n`);
    assert.match((await client.readTagged('b3')).tagged, /^b3 BAD \[TOOBIG\]/);
    assert.match((await client.command('n3', 'NOOP')).tagged, /^n3 OK/);
    // A line above the line limit.
    client.send(`b4 NOOP ${'y'.repeat(10000)}\r\n`);
    assert.match((await client.readTagged('b4')).tagged, /^b4 BAD \[TOOBIG\]/);
    assert.match((await client.command('n4', 'NOOP')).tagged, /^n4 OK/);
    client.close();
  });

  test('random bytes in every state never crash the server', async () => {
    for (const state of ['not-authenticated', 'authenticated', 'selected']) {
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
      if (state !== 'not-authenticated') await client.command('l', 'LOGIN eve pw');
      if (state === 'selected') await client.command('s', 'SELECT INBOX');
      let seed = 12345 + state.length;
      const rnd = (): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed;
      };
      for (let i = 0; i < 50; i++) {
        const len = rnd() % 200;
        const bytes = Buffer.alloc(len);
        for (let j = 0; j < len; j++) bytes[j] = rnd() % 256;
        // Keep the garbage on one line without literal headers so the follow-up NOOP is framed on its own.
        const line = Buffer.from(bytes.toString('latin1').replace(/[\r\n{}]/g, 'x'), 'latin1');
        client.send(Buffer.concat([line, Buffer.from('\r\n')]));
        // A good command now and then: limits.max-bad-commands (20) BADs in a row end the session.
        if (i % 10 === 9) client.send(`k${i} NOOP\r\n`);
      }
      const r = await client.command('alive', 'NOOP', 20000);
      assert.match(r.tagged, /^alive OK/);
      client.close();
    }
  });
});
