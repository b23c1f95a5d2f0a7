/**
 * POP3 transcripts against a real server over sockets (RFC 1939, RFC 2449,
 * RFC 2595, RFC 5034): STLS and implicit TLS, the maildrop commands, exact
 * RETR/TOP bytes, pipelining, the UPDATE state as IMAP sessions see it,
 * dropped connections, bad input, timeouts and shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Pop3Client, deliver } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { LOGIN_TIMEOUT_MS } from './helpers/socket-buffer.js';

let srv: TestServer;
let users = 0;
// Every test uses its own account (or server), so the tests of a group run concurrently.

before(async () => {
  srv = await startTestServer({ limits: { maxLineLength: 8192 } });
});
after(async () => srv.stop());

/** A fresh account with these messages in its INBOX. */
async function account(messages: string[], flags: string[] = []): Promise<string> {
  const name = `pop${++users}`;
  await srv.addUser(name, 'pw');
  if (messages.length > 0) await deliver(srv.server.store, name, messages, flags);
  return name;
}

const login = (user: string): Promise<Pop3Client> => Pop3Client.login(srv.pop3sPort, user, 'pw');

async function imapSelect(user: string): Promise<RawClient> {
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  assert.match((await client.command('l', `LOGIN ${user} pw`, LOGIN_TIMEOUT_MS)).tagged, /^l OK/);
  assert.match((await client.command('s', 'SELECT INBOX')).tagged, /^s OK/);
  return client;
}

const M1 = 'Subject: one\r\nFrom: a@example.org\r\n\r\nFirst body.\r\n';
const DOTTY = 'Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n';
const LF_ONLY = 'Subject: lf\nFrom: b@example.org\n\nline one\n.dot\nline three\n';
const NO_FINAL_EOL = 'Subject: short\r\n\r\nno line end';

describe('authorization: STLS, implicit TLS and the cleartext rule', { concurrency: true }, () => {
  test('on the plain port, CAPA offers STLS but no USER/SASL, and USER/PASS/AUTH are refused until STLS', async () => {
    const user = await account([M1]);
    const { client, greeting } = await Pop3Client.connect(srv.pop3Port);
    assert.match(greeting, /^\+OK /);
    const capa = await client.multi('CAPA');
    assert.match(capa.status, /^\+OK/);
    assert.ok(capa.lines.includes('STLS'));
    for (const cap of ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING']) assert.ok(capa.lines.includes(cap), cap);
    assert.ok(capa.lines.some((l) => l.startsWith('IMPLEMENTATION ')));
    // SCRAM never sends the password, so it is offered before TLS too (auth/sasl-login.ts); PLAIN and LOGIN are not.
    assert.ok(!capa.lines.includes('USER') && capa.lines.includes('SASL SCRAM-SHA-256 SCRAM-SHA-1'), capa.lines.join('|'));
    assert.ok(!capa.lines.some((l) => l.startsWith('EXPIRE') || l.startsWith('LOGIN-DELAY')));
    assert.match(await client.command(`USER ${user}`), /^-ERR \[AUTH\] .*STLS/);
    assert.match(await client.command('PASS pw'), /^-ERR \[AUTH\] /);
    assert.match(await client.command('AUTH PLAIN AHBvcDEAcHc='), /^-ERR \[AUTH\] /);

    // Plaintext pipelined behind STLS is discarded (RFC 2595 §4), so it cannot act after the upgrade.
    client.send(`STLS\r\nUSER ${user}\r\nPASS pw\r\n`);
    assert.match(await client.readLine(), /^\+OK/);
    await client.startTls();
    const after = await client.multi('CAPA');
    assert.ok(!after.lines.includes('STLS'));
    assert.ok(
      after.lines.includes('USER') && after.lines.includes('SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN'),
      after.lines.join('|'),
    );
    assert.match(await client.command('STAT'), /^-ERR /, 'the injected USER/PASS must not have logged in');
    assert.match(await client.command('STLS'), /^-ERR /);
    assert.match(await client.command(`USER ${user}`), /^\+OK/);
    assert.match(await client.command('PASS pw'), /^\+OK/);
    assert.equal(await client.command('STAT'), `+OK 1 ${M1.length}`);
    const inTx = await client.multi('CAPA');
    assert.ok(!inTx.lines.includes('USER') && !inTx.lines.includes('STLS') && inTx.lines.includes('TOP'), inTx.lines.join('|'));
    assert.match(await client.command('QUIT'), /^\+OK/);
    await client.waitClosed();
  });

  test('implicit TLS: no STLS, USER/PASS and AUTH PLAIN work; failures carry [AUTH]', async () => {
    const user = await account([M1]);
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    const capa = await client.multi('CAPA');
    assert.ok(!capa.lines.includes('STLS') && capa.lines.includes('USER'));
    assert.match(await client.command('STLS'), /^-ERR /);
    assert.match(await client.command('PASS pw'), /^-ERR /, 'PASS before USER');
    assert.match(await client.command(`USER ${user}`), /^\+OK/);
    assert.equal(await client.command('PASS wrong'), '-ERR [AUTH] Authentication failed');
    assert.match(await client.command('PASS pw'), /^-ERR /, 'a failed PASS needs a new USER');
    const mechs = await client.multi('AUTH');
    assert.deepEqual(mechs.lines, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'PLAIN', 'LOGIN']);
    assert.match(await client.command('AUTH CRAM-MD5'), /^-ERR /);
    // "*" cancels (RFC 5034 §4); bad base64 and a foreign authzid are refused.
    assert.equal(await client.command('AUTH PLAIN'), '+ ');
    assert.match(await client.command('*'), /^-ERR /);
    assert.match(await client.command('AUTH PLAIN not=base64'), /^-ERR /);
    const other = Buffer.from(`someone\0${user}\0pw`).toString('base64');
    assert.match(await client.command(`AUTH PLAIN ${other}`), /^-ERR \[AUTH\] /);
    // Continuation form.
    assert.equal(await client.command('AUTH PLAIN'), '+ ');
    assert.match(await client.command(Buffer.from(`\0${user}\0pw`).toString('base64')), /^\+OK/);
    assert.match(await client.command('AUTH PLAIN'), /^-ERR /, 'no AUTH after login (RFC 5034 §4)');
    assert.match(await client.command('USER x'), /^-ERR /);
    client.close();

    // Initial-response form.
    const second = (await Pop3Client.connect(srv.pop3sPort, { tls: true })).client;
    assert.match(await second.command(`AUTH PLAIN ${Buffer.from(`${user}\0${user}\0pw`).toString('base64')}`), /^\+OK/);
    assert.equal(await second.command('STAT'), `+OK 1 ${M1.length}`);
    second.close();
  });
});

describe('transaction: the maildrop snapshot', { concurrency: true }, () => {
  test('STAT, LIST, UIDL, RETR with stuffing and CRLF conversion, TOP', async () => {
    const user = await account([M1, DOTTY, LF_ONLY, NO_FINAL_EOL]);
    const c = await login(user);
    const lfSize = Buffer.byteLength(LF_ONLY.replace(/\n/g, '\r\n'));
    const sizes = [M1.length, DOTTY.length, lfSize, NO_FINAL_EOL.length + 2];
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.equal(await c.command('STAT'), `+OK 4 ${total}`);
    const list = await c.multi('LIST');
    assert.equal(list.status, `+OK 4 messages (${total} octets)`);
    assert.deepEqual(
      list.lines,
      sizes.map((s, i) => `${i + 1} ${s}`),
    );
    assert.equal(await c.command('LIST 3'), `+OK 3 ${lfSize}`);
    assert.match(await c.command('LIST 5'), /^-ERR /);
    assert.match(await c.command('LIST 0'), /^-ERR /);

    const uidl = await c.multi('UIDL');
    assert.equal(uidl.lines.length, 4);
    const ids = uidl.lines.map((l) => l.split(' ')[1]!);
    for (const id of ids) assert.match(id, /^[\x21-\x7e]{1,70}$/);
    assert.equal(new Set(ids).size, 4);
    assert.equal(await c.command('UIDL 2'), `+OK 2 ${ids[1]}`);
    // Derived from UIDVALIDITY and UID only (Dovecot's %08Xu%08Xv), so stable forever.
    const acct = (await srv.server.store.findAccount(user))!;
    const inbox = (await srv.server.store.getMailbox(acct.id, 'INBOX'))!;
    const uids = (await srv.server.store.listSummaries(acct.id, inbox.id)).map((m) => m.uid);
    const hex = (x: number): string => x.toString(16).toUpperCase().padStart(8, '0');
    assert.deepEqual(
      ids,
      uids.map((u) => `${hex(u)}${hex(inbox.uidValidity)}`),
    );

    // RETR: exact bytes as sent, stuffed; sizes match what LIST said.
    const r2 = await c.multi('RETR 2');
    assert.match(r2.status, /^\+OK/);
    assert.equal(r2.body.toString('latin1'), 'Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\r\nend\r\n');
    assert.equal(Buffer.byteLength(r2.lines.map((l) => `${l}\r\n`).join('')), sizes[1]);
    const r3 = await c.multi('RETR 3');
    assert.equal(r3.body.toString('latin1'), 'Subject: lf\r\nFrom: b@example.org\r\n\r\nline one\r\n..dot\r\nline three\r\n');
    assert.equal(r3.status, `+OK ${lfSize} octets`);
    const r4 = await c.multi('RETR 4');
    assert.equal(r4.body.toString('latin1'), `${NO_FINAL_EOL}\r\n`);

    // TOP 0: header and blank line; more lines than the body has: the whole message.
    assert.equal((await c.multi('TOP 1 0')).body.toString('latin1'), 'Subject: one\r\nFrom: a@example.org\r\n\r\n');
    assert.equal((await c.multi('TOP 2 1')).body.toString('latin1'), 'Subject: dots\r\n\r\n..leading dot\r\n');
    assert.equal((await c.multi('TOP 2 100')).body.toString('latin1'), r2.body.toString('latin1'));
    assert.equal((await c.multi('TOP 3 0')).body.toString('latin1'), 'Subject: lf\r\nFrom: b@example.org\r\n\r\n');
    assert.match(await c.command('TOP 9 0'), /^-ERR /);
    assert.equal(await c.command('NOOP'), '+OK');
    assert.match(await c.command('QUIT'), /^\+OK/);
    await c.waitClosed();
  });

  test('DELE hides a message and keeps the numbers; RSET brings it back; nothing is removed without QUIT', async () => {
    const user = await account([M1, DOTTY, LF_ONLY]);
    const imap = await imapSelect(user);
    const c = await login(user);
    const before = (await c.multi('UIDL')).lines;
    assert.equal(await c.command('DELE 2'), '+OK Message 2 deleted');
    assert.match(await c.command('DELE 2'), /^-ERR /);
    assert.match(await c.command('RETR 2'), /^-ERR /);
    assert.match(await c.command('TOP 2 0'), /^-ERR /);
    assert.match(await c.command('UIDL 2'), /^-ERR /);
    assert.match(await c.command('LIST 2'), /^-ERR /);
    assert.deepEqual(
      (await c.multi('LIST')).lines.map((l) => l.split(' ')[0]),
      ['1', '3'],
    );
    assert.deepEqual((await c.multi('UIDL')).lines, [before[0], before[2]]);
    assert.match(await c.command('STAT'), /^\+OK 2 /);
    assert.match(await c.command('RSET'), /^\+OK/);
    assert.deepEqual((await c.multi('UIDL')).lines, before);
    assert.match(await c.command('STAT'), /^\+OK 3 /);

    // Deletions, then the connection drops: no UPDATE state, nothing removed.
    assert.match(await c.command('DELE 1'), /^\+OK/);
    assert.match(await c.command('DELE 3'), /^\+OK/);
    c.close();
    await new Promise((r) => setTimeout(r, 100));
    const again = await login(user);
    assert.deepEqual((await again.multi('UIDL')).lines, before);
    again.close();
    const flags = await imap.command('f', 'FETCH 1:* (FLAGS)');
    assert.equal(flags.lines.length, 3);
    assert.ok(!flags.lines.some((l) => l.includes('\\Deleted')), flags.lines.join('\n'));
    assert.ok(!flags.lines.some((l) => /EXPUNGE/.test(l)));
    imap.close();
  });

  test('DELE then QUIT: an IMAP session in IDLE sees EXPUNGE; only the marked messages go', async () => {
    const user = await account([M1, DOTTY, LF_ONLY, NO_FINAL_EOL]);
    const imap = await imapSelect(user);
    // A message IMAP flagged \Deleted but POP3 did not mark stays (UID EXPUNGE semantics).
    assert.match((await imap.command('s1', 'STORE 4 +FLAGS.SILENT (\\Deleted)')).tagged, /OK/);
    const c = await login(user);
    const before = (await c.multi('UIDL')).lines.map((l) => l.split(' ')[1]);
    imap.send('i1 IDLE\r\n');
    assert.match(await imap.readLine(), /^\+ /);
    assert.match(await c.command('DELE 1'), /^\+OK/);
    assert.match(await c.command('DELE 3'), /^\+OK/);
    assert.equal(await c.command('QUIT'), '+OK Logging out, 2 messages deleted');
    await c.waitClosed();

    const seen: string[] = [];
    while (seen.filter((l) => /EXPUNGE/.test(l)).length < 2) seen.push(await imap.readLine(3000));
    for (const l of seen.filter((x) => /EXPUNGE/.test(x))) assert.match(l, /^\* [123] EXPUNGE$/);
    imap.send('DONE\r\n');
    await imap.readTagged('i1');
    const left = await imap.command('f', 'UID FETCH 1:* (FLAGS)');
    assert.deepEqual(
      left.lines.map((l) => /UID (\d+)/.exec(l)?.[1]),
      ['2', '4'],
      left.lines.join('\n'),
    );
    imap.close();

    // A new POP3 session sees the rest, with the same unique-ids.
    const next = await login(user);
    assert.deepEqual(
      (await next.multi('UIDL')).lines.map((l) => l.split(' ')[1]),
      [before[1], before[3]],
    );
    next.close();
  });

  test('RETR gives \\Seen (also when the connection drops afterwards); TOP does not', async () => {
    const user = await account([M1, DOTTY, LF_ONLY]);
    const c = await login(user);
    await c.multi('RETR 1');
    await c.multi('TOP 2 5');
    c.close();
    const imap = await imapSelect(user);
    // The server stores \Seen as the dropped session ends: wait for it (bounded).
    let flags: string[] = [];
    const seen = (n: number): boolean => flags.some((l) => l.startsWith(`* ${n} FETCH`) && l.includes('\\Seen'));
    for (let i = 0; i < 50 && !seen(1); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      flags = (await imap.command(`f${i}`, 'FETCH 1:3 (FLAGS)')).lines;
    }
    assert.ok(seen(1), flags.join('\n'));
    assert.ok(!seen(2) && !seen(3), flags.join('\n'));
    imap.close();
  });

  test('a message expunged over IMAP during the session can still be read, and DELE + QUIT of it is harmless', async () => {
    const user = await account([M1, DOTTY]);
    const c = await login(user);
    const imap = await imapSelect(user);
    await imap.command('s', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    assert.match((await imap.command('e', 'EXPUNGE')).lines.join(), /\* 1 EXPUNGE/);
    // RFC 2180 §4.1: the store keeps expunged messages readable for a while; the snapshot still lists it.
    assert.equal((await c.multi('RETR 1')).body.toString('latin1'), M1);
    assert.match(await c.command('DELE 1'), /^\+OK/);
    assert.match(await c.command('DELE 2'), /^\+OK/);
    assert.match(await c.command('QUIT'), /^\+OK/);
    await c.waitClosed();
    const n = await imap.command('n', 'NOOP');
    assert.ok(n.lines.includes('* 1 EXPUNGE'), n.lines.join('\n'));
    const status = await imap.command('st', 'STATUS INBOX (MESSAGES)');
    assert.match(status.lines.join(), /MESSAGES 0/);
    imap.close();
  });

  test('the view is a snapshot: messages delivered after login are not in it', async () => {
    const user = await account([M1]);
    const c = await login(user);
    await deliver(srv.server.store, user, [DOTTY]);
    assert.equal(await c.command('STAT'), `+OK 1 ${M1.length}`);
    assert.match(await c.command('RETR 2'), /^-ERR /);
    c.close();
    const d = await login(user);
    assert.match(await d.command('STAT'), /^\+OK 2 /);
    d.close();
  });
});

describe('pipelining', { concurrency: true }, () => {
  test('a burst of commands is answered in order', async () => {
    const user = await account([M1, DOTTY]);
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    client.send(`CAPA\r\nUSER ${user}\r\nPASS pw\r\nSTAT\r\nLIST\r\nRETR 2\r\nTOP 1 0\r\nDELE 1\r\nUIDL\r\nBOGUS\r\nRSET\r\nNOOP\r\nQUIT\r\n`);
    assert.ok((await client.readMulti()).lines.includes('PIPELINING'));
    assert.match(await client.readLine(), /^\+OK/);
    assert.match(await client.readLine(), /^\+OK Logged in/);
    assert.equal(await client.readLine(), `+OK 2 ${M1.length + DOTTY.length}`);
    assert.equal((await client.readMulti()).lines.length, 2);
    assert.equal((await client.readMulti()).body.toString('latin1'), DOTTY.replace(/^\./gm, '..'));
    assert.equal((await client.readMulti()).body.toString('latin1'), 'Subject: one\r\nFrom: a@example.org\r\n\r\n');
    assert.match(await client.readLine(), /^\+OK Message 1 deleted/);
    assert.equal((await client.readMulti()).lines.length, 1);
    assert.match(await client.readLine(), /^-ERR /);
    assert.match(await client.readLine(), /^\+OK Maildrop/);
    assert.equal(await client.readLine(), '+OK');
    assert.equal(await client.readLine(), '+OK Logging out');
    await client.waitClosed();
  });

  test('commands sent while a big RETR streams wait their turn', async () => {
    const line = `${'x'.repeat(998)}\r\n`;
    const big = `Subject: big\r\n\r\n.${line.repeat(16384)}`; // 16 MB: more than the socket buffers hold
    const user = await account([big, M1]);
    const c = await login(user);
    c.pause(); // the server meets backpressure and must wait in the middle of the message
    c.send('RETR 1\r\n');
    await new Promise((r) => setTimeout(r, 200));
    c.send('NOOP\r\nLIST 2\r\n');
    await new Promise((r) => setTimeout(r, 100));
    c.resume();
    const r = await c.readMulti(20000);
    assert.match(r.status, /^\+OK/);
    assert.equal(r.body.length, big.length + 1, 'one stuffing dot');
    assert.equal(await c.readLine(), '+OK');
    assert.equal(await c.readLine(), `+OK 2 ${M1.length}`);
    c.close();
  });
});

describe('bad input', { concurrency: true }, () => {
  test('malformed and oversized lines get -ERR and the session goes on', async () => {
    const user = await account([M1]);
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    for (const bad of ['', 'BOGUS', 'STAT', 'RETR 1', 'USER', 'USER a b', 'LIST', 'QUIT now', 'CAPA x', `USER ${'\x00\xff'}`]) {
      if (bad === `USER ${'\x00\xff'}`) assert.match(await client.command(bad), /^\+OK/, 'an odd name is not a syntax error');
      else assert.match(await client.command(bad), /^-ERR /, JSON.stringify(bad));
    }
    client.send(`${'A'.repeat(20000)}\r\n`);
    assert.equal(await client.readLine(), '-ERR Line too long');
    assert.match(await client.command(`USER ${user}`), /^\+OK/);
    assert.match(await client.command('PASS pw'), /^\+OK/);
    for (const bad of [
      'RETR',
      'RETR abc',
      'RETR 0',
      'RETR -1',
      'RETR 1 2',
      'RETR 99999999999',
      'TOP 1',
      'TOP 1 x',
      'TOP x 1',
      'DELE',
      'LIST 1 2',
      'UIDL x',
      'USER x',
      'PASS x',
      'STLS',
      'AUTH PLAIN',
      'XYZZY',
      '\x01\x02\x03',
    ]) {
      assert.match(await client.command(bad), /^-ERR /, JSON.stringify(bad));
    }
    client.send(`LIST ${'9'.repeat(9000)}\r\n`);
    assert.equal(await client.readLine(), '-ERR Line too long');
    assert.equal(await client.command('STAT'), `+OK 1 ${M1.length}`);
    assert.equal(await client.command('list 1'), `+OK 1 ${M1.length}`, 'keywords are case-insensitive');
    client.close();
  });

  test('twenty bad commands in a row end the session', async () => {
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    client.send('BAD\r\n'.repeat(25));
    await client.waitClosed();
    const lines = client.pending
      .toString('latin1')
      .split('\r\n')
      .filter((x) => x !== '');
    assert.equal(lines.length, 21);
    assert.equal(lines.at(-1), '-ERR Too many bad commands');
  });
});

describe('configuration: cleartext allowed, throttling, timeouts, shutdown', { concurrency: true }, () => {
  test('allow-insecure permits USER/PASS on the plain port; throttled logins get [SYS/TEMP]', async () => {
    const other = await startTestServer({ plaintextAuth: { allowInsecure: true }, authThrottle: { freeFailures: 5, maxFailuresPerIp: 2 } });
    try {
      await other.addUser('plain', 'pw');
      const { client } = await Pop3Client.connect(other.pop3Port);
      const capa = await client.multi('CAPA');
      assert.ok(capa.lines.includes('USER') && capa.lines.includes('STLS'));
      assert.match(await client.command('USER plain'), /^\+OK/);
      assert.match(await client.command('PASS pw'), /^\+OK/);
      assert.equal(await client.command('STAT'), '+OK 0 0');
      client.close();
      const { client: guesser } = await Pop3Client.connect(other.pop3Port);
      for (let i = 0; i < 2; i++) {
        await guesser.command('USER plain');
        assert.match(await guesser.command('PASS nope'), /^-ERR \[AUTH\] /);
      }
      await guesser.command('USER plain');
      assert.match(await guesser.command('PASS pw'), /^-ERR \[SYS\/TEMP\] /);
      guesser.close();
    } finally {
      await other.stop();
    }
  });

  test('connections over the limit are refused with -ERR', async () => {
    const other = await startTestServer({ limits: { maxConnectionsPerIp: 1 } });
    try {
      const { client: first } = await Pop3Client.connect(other.pop3sPort, { tls: true });
      const { client: second, greeting } = await Pop3Client.connect(other.pop3Port);
      assert.equal(greeting, '-ERR Too many connections from your address');
      await second.waitClosed();
      first.close();
    } finally {
      await other.stop();
    }
  });

  test('idle timeouts close without removing anything; shutdown sends -ERR', async () => {
    const other = await startTestServer({ limits: { preAuthTimeoutSeconds: 1, idleTimeoutSeconds: 1 } });
    try {
      await other.addUser('idle', 'pw');
      await deliver(other.server.store, 'idle', [M1, DOTTY]);
      const { client: anon } = await Pop3Client.connect(other.pop3sPort, { tls: true });
      const c = await Pop3Client.login(other.pop3sPort, 'idle', 'pw');
      assert.match(await c.command('DELE 1'), /^\+OK/);
      assert.equal(await anon.readLine(3000), '-ERR Disconnected for inactivity');
      await anon.waitClosed();
      assert.equal(await c.readLine(3000), '-ERR Disconnected for inactivity');
      await c.waitClosed();
      const d = await Pop3Client.login(other.pop3sPort, 'idle', 'pw');
      assert.equal(await d.command('STAT'), `+OK 2 ${M1.length + DOTTY.length}`);
      await other.server.stop('Server shutting down');
      assert.equal(await d.readLine(), '-ERR Server shutting down');
      await d.waitClosed();
    } finally {
      await other.stop();
    }
  });
});
