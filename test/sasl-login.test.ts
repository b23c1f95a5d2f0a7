/**
 * SASL LOGIN (draft-murchison-sasl-login-00) beside PLAIN, on IMAP
 * (RFC 9051 §6.2.2, SASL-IR RFC 4959) and POP3 (RFC 5034): transcripts from
 * the draft's exchange, and curl, which Outlook-like clients resemble, with
 * `--login-options AUTH=LOGIN`.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const USERNAME_CHALLENGE = `+ ${b64('Username:')}`;
const PASSWORD_CHALLENGE = `+ ${b64('Password:')}`;

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('lou', 'pässword');
});
after(async () => srv.stop());

describe('IMAP AUTHENTICATE LOGIN', () => {
  test('is advertised after TLS only, beside PLAIN', async () => {
    const plain = await RawClient.connect(srv.imapPort);
    const secure = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      assert.doesNotMatch(plain.greeting, /AUTH=(PLAIN|LOGIN)/);
      assert.match((await plain.client.command('a', 'AUTHENTICATE LOGIN')).tagged, /^a NO \[PRIVACYREQUIRED\]/);
      assert.match((await secure.client.command('c', 'CAPABILITY')).lines[0]!, / AUTH=PLAIN AUTH=LOGIN( |$)/);
    } finally {
      plain.client.close();
      secure.client.close();
    }
  });

  test('the draft exchange: Username:, Password:, then OK with capabilities', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      client.send('a AUTHENTICATE LOGIN\r\n');
      assert.equal(await client.readLine(), USERNAME_CHALLENGE);
      client.send(`${b64('lou')}\r\n`);
      assert.equal(await client.readLine(), PASSWORD_CHALLENGE);
      client.send(`${b64('pässword')}\r\n`);
      assert.match((await client.readTagged('a', 10_000)).tagged, /^a OK \[CAPABILITY /);
    } finally {
      client.close();
    }
  });

  test('SASL-IR carries the user name; a wrong password is AUTHENTICATIONFAILED; "*" cancels', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      client.send(`a AUTHENTICATE LOGIN ${b64('lou')}\r\n`);
      assert.equal(await client.readLine(), PASSWORD_CHALLENGE);
      client.send(`${b64('wrong')}\r\n`);
      assert.match((await client.readTagged('a', 10_000)).tagged, /^a NO \[AUTHENTICATIONFAILED\]/);

      client.send('b AUTHENTICATE LOGIN\r\n');
      assert.equal(await client.readLine(), USERNAME_CHALLENGE);
      client.send('*\r\n');
      assert.match((await client.readTagged('b')).tagged, /^b BAD .*cancelled/);

      client.send('c AUTHENTICATE LOGIN\r\n');
      assert.equal(await client.readLine(), USERNAME_CHALLENGE);
      client.send('not base64!\r\n');
      assert.match((await client.readTagged('c')).tagged, /^c BAD .*base64/);
    } finally {
      client.close();
    }
  });
});

describe('POP3 AUTH LOGIN', () => {
  test('listed by AUTH and CAPA, and the draft exchange logs in', async () => {
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      assert.deepEqual((await client.multi('AUTH')).lines, [...'SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1'.split(' '), 'PLAIN', 'LOGIN']);
      assert.ok((await client.multi('CAPA')).lines.includes('SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN'));
      assert.equal(await client.command('AUTH LOGIN'), USERNAME_CHALLENGE);
      assert.equal(await client.command(b64('lou')), PASSWORD_CHALLENGE);
      assert.match(await client.command(b64('pässword'), 10_000), /^\+OK/);
      assert.match(await client.command('STAT'), /^\+OK 0 0/);
    } finally {
      client.close();
    }
  });

  test('with an initial response, and a wrong password is -ERR [AUTH]', async () => {
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      assert.equal(await client.command(`AUTH LOGIN ${b64('lou')}`), PASSWORD_CHALLENGE);
      assert.match(await client.command(b64('nope'), 10_000), /^-ERR \[AUTH\]/);
    } finally {
      client.close();
    }
  });
});

describe('curl --login-options AUTH=LOGIN', () => {
  // Asynchronously: the server runs in this process and must answer meanwhile.
  const curl = (url: string): Promise<{ status: number | null; out: string; err: string }> =>
    new Promise((resolve) => {
      execFile('curl', ['-sS', '-v', '--insecure', '--max-time', '20', '--login-options', 'AUTH=LOGIN', '-u', 'lou:pässword', url], (err, out, errText) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errText }),
      );
    });
  const noCurl = spawnSync('curl', ['--version']).status !== 0 && 'curl is not installed';

  test('IMAPS: lists the mailboxes after AUTHENTICATE LOGIN', { skip: noCurl }, async () => {
    const r = await curl(`imaps://127.0.0.1:${srv.imapsPort}/`);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /AUTHENTICATE LOGIN/);
    assert.match(r.out, /\* LIST \(.*\) "\/" INBOX/);
  });

  test('POP3S: lists the messages after AUTH LOGIN', { skip: noCurl }, async () => {
    const r = await curl(`pop3s://127.0.0.1:${srv.pop3sPort}/`);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /AUTH LOGIN/);
  });
});
