/**
 * ManageSieve under hostile or unusual input, and with bearer tokens:
 * over-long lines and literals before login, the pre-login command budget,
 * garbage bytes, and OAUTHBEARER / XOAUTH2 logins ([oauth], RFC 7628) through
 * the same code as IMAP — a bad token gets the JSON error challenge and NO.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SieveClient } from './helpers/managesieve-client.js';
import { RawClient } from './helpers/raw-client.js';
import { TestIssuer } from './helpers/oidc-issuer.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ALICE = 'alice@example.org';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

let issuer: TestIssuer;
let srv: TestServer;
before(async () => {
  issuer = await TestIssuer.start();
  srv = await startTestServer({
    oauth: { issuer: issuer.issuer, audience: ['mailkeep'], jwksCooldownSeconds: 0 },
    authThrottle: { baseDelayMs: 0, maxFailuresPerIp: 10_000, maxFailuresPerAccount: 10_000 },
  });
  await srv.addUser(ALICE, 'pw');
});
after(async () => {
  await srv.stop();
  await issuer.stop();
});

describe('bounds before login', () => {
  test('a line over pre-auth-command-size is refused unread; the session goes on', async () => {
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      const r = await client.command(`NOOP "${'x'.repeat(srv.config.limits.preAuthCommandSize + 10)}"`);
      assert.match(r.status, /^NO "Line too long"/);
      assert.match((await client.command('NOOP')).status, /^OK/);
      // A literal before login is bounded by pre-auth-sasl-size, and dropped.
      const size = srv.config.limits.preAuthSaslSize + 1;
      assert.match((await client.command(`NOOP {${size}+}\r\n${'y'.repeat(size)}`, 20_000)).status, /^NO "Literal too big"/);
      assert.match((await client.command('NOOP')).status, /^OK/);
    } finally {
      client.close();
    }
  });

  test('more than 50 commands without logging in end the session with BYE', async () => {
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      client.raw.send('NOOP\r\n'.repeat(60));
      let status = '';
      for (let i = 0; i < 60 && !status.startsWith('BYE'); i++) status = (await client.read()).status;
      assert.match(status, /^BYE "Too many commands without logging in"/);
    } finally {
      client.close();
    }
  });

  test('random bytes: every line gets an answer or the session ends; the server keeps serving', async () => {
    for (let round = 0; round < 5; round++) {
      const { client } = await SieveClient.connect(srv.managesievePort);
      client.raw.send(Buffer.concat([randomBytes(2000), Buffer.from('\r\nLOGOUT\r\n')]));
      await new Promise((r) => setTimeout(r, 100));
      client.close();
    }
    const { client, greeting } = await SieveClient.connect(srv.managesievePort);
    client.close();
    assert.match(greeting.status, /^OK/);
  });
});

test('a connection over the per-address limit gets BYE with its text as a string (RFC 5804 §1.2)', async () => {
  const limited = await startTestServer({ limits: { maxConnectionsPerIp: 1 } });
  try {
    const { client: first } = await SieveClient.connect(limited.managesievePort);
    const { client: second, greeting } = await RawClient.connect(limited.managesievePort);
    assert.match(greeting, /^BYE "[^"]+"$/);
    first.close();
    second.close();
  } finally {
    await limited.stop();
  }
});

describe('bearer tokens ([oauth])', () => {
  test('OAUTHBEARER and XOAUTH2 are offered after STARTTLS and log in; a bad token gets the error challenge, then NO', async () => {
    const { client } = await SieveClient.connect(srv.managesievePort);
    try {
      const caps = await client.startTls();
      assert.ok(
        caps.lines.includes('"SASL" "SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN OAUTHBEARER XOAUTH2"'),
        caps.lines.join('\n'),
      );
      const bad = `n,a=${ALICE},\x01auth=Bearer not-a-token\x01\x01`;
      client.raw.send(`AUTHENTICATE "OAUTHBEARER" "${b64(bad)}"\r\n`);
      const challenge = await client.raw.readLine(20_000);
      const error = JSON.parse(Buffer.from(challenge.replace(/^"|"$/g, ''), 'base64').toString('utf8')) as { status: string };
      assert.equal(error.status, 'invalid_token');
      assert.match((await client.command(`"${b64('\x01')}"`, 20_000)).status, /^NO /);
      const token = await issuer.token({ email: ALICE });
      const ok = await client.command(`AUTHENTICATE "OAUTHBEARER" "${b64(`n,a=${ALICE},\x01auth=Bearer ${token}\x01\x01`)}"`, 20_000);
      assert.match(ok.status, /^OK/);
      const live = srv.server.sessions.list((s) => s.protocol === 'managesieve' && s.user !== null);
      assert.equal(live[0]?.user?.credential, 'oauth');
    } finally {
      client.close();
    }
    const second = await SieveClient.connect(srv.managesievePort);
    try {
      await second.client.startTls();
      const token = await issuer.token({ email: ALICE });
      const r = await second.client.command(`AUTHENTICATE "XOAUTH2" "${b64(`user=${ALICE}\x01auth=Bearer ${token}\x01\x01`)}"`, 20_000);
      assert.match(r.status, /^OK/);
      assert.match((await second.client.command('LISTSCRIPTS')).status, /^OK/);
    } finally {
      second.client.close();
    }
  });
});
