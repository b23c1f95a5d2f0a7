/**
 * OAuth 2.0 bearer tokens over real IMAP and POP3 sockets: OAUTHBEARER
 * (RFC 7628) and XOAUTH2, JWTs from a test OpenID Connect issuer
 * (helpers/oidc-issuer.ts: discovery, JWKS, introspection on loopback),
 * opaque tokens through RFC 7662 introspection, the RFC 7628 §3.2.2 error
 * round trip, and the login throttle applied to tokens exactly as to passwords.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { ConfigError, formatConfigError, loadConfig } from '../src/config/load.js';
import { eventually } from './helpers/eventually.js';
import { INTROSPECTION_CLIENT, TestIssuer } from './helpers/oidc-issuer.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { LOGIN_TIMEOUT_MS } from './helpers/socket-buffer.js';

const ALICE = 'alice@example.org';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
/** RFC 7628 §3.1 client response, as imapflow and Thunderbird send it. */
const bearer = (token: string, authzid: string | null = ALICE): string =>
  b64(`n,${authzid === null ? '' : `a=${authzid}`},\x01host=localhost\x01port=993\x01auth=Bearer ${token}\x01\x01`);
const xoauth2 = (user: string, token: string): string => b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);

let issuer: TestIssuer;
let srv: TestServer;
let secretDir: string;

/** The [oauth] settings for `issuer`, introspection client included. */
function oauthSettings(iss: string): Record<string, unknown> {
  return {
    issuer: iss,
    audience: ['mailkeep'],
    scope: 'email',
    jwksCooldownSeconds: 0,
    clientId: INTROSPECTION_CLIENT.id,
    clientSecretFile: join(secretDir, 'client-secret'),
  };
}

before(async () => {
  issuer = await TestIssuer.start();
  secretDir = await mkdtemp(join(tmpdir(), 'mailkeep-oauth-'));
  await writeFile(join(secretDir, 'client-secret'), `${INTROSPECTION_CLIENT.secret}\n`);
  srv = await startTestServer({
    oauth: oauthSettings(issuer.issuer),
    // Most cases fail on purpose: no tarpit here (the throttle has its own case below).
    authThrottle: { baseDelayMs: 0, maxFailuresPerIp: 10_000, maxFailuresPerAccount: 10_000, passwordHashCost: 10 },
  });
  await srv.addUser(ALICE, 'alice password');
  await srv.addUser('bob', 'bob password');
  await srv.addUser('carol@example.org', 'carol password');
  const alice = await srv.server.store.findAccount(ALICE);
  await srv.server.store.addAlias('al@example.org', alice!.id);
  const carol = await srv.server.store.findAccount('carol@example.org');
  await srv.server.store.setDisabled(carol!.id, true);
});
after(async () => {
  await srv.stop();
  await issuer.stop();
  await rm(secretDir, { recursive: true, force: true });
});

/** What one IMAP AUTHENTICATE ended with: the error challenge (decoded), if one came, and the tagged line. */
interface Outcome {
  error: Record<string, unknown> | null;
  tagged: string;
}

/**
 * AUTHENTICATE `mechanism` with `message` as SASL-IR on a fresh TLS
 * connection; after an error challenge sends `dummy` (RFC 7628 §3.2.3).
 */
async function imapAuth(message: string, mechanism = 'OAUTHBEARER', dummy = 'AQ==', from?: string): Promise<Outcome & { client: RawClient }> {
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true, ...(from ? { localAddress: from } : {}) });
  client.send(`a AUTHENTICATE ${mechanism} ${message}\r\n`);
  const first = await client.readLine(LOGIN_TIMEOUT_MS);
  if (!first.startsWith('+ ')) return { error: null, tagged: first, client };
  const error = JSON.parse(unb64(first.slice(2))) as Record<string, unknown>;
  client.send(`${dummy}\r\n`);
  return { error, tagged: (await client.readTagged('a', LOGIN_TIMEOUT_MS)).tagged, client };
}

/** imapAuth, closing the connection. */
async function imapOutcome(message: string, mechanism?: string, dummy?: string): Promise<Outcome> {
  const { client, ...outcome } = await imapAuth(message, mechanism, dummy);
  client.close();
  return outcome;
}

/** The SCRAM mechanisms offered on a TLS connection (auth/sasl-login.ts), before the others. */
const SCRAM_ON_TLS = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1'];

describe('advertising', () => {
  test('IMAP: AUTH=OAUTHBEARER AUTH=XOAUTH2 after TLS, beside the password mechanisms; before STARTTLS only SCRAM (no secret sent)', async () => {
    const plain = await RawClient.connect(srv.imapPort);
    const secure = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      assert.doesNotMatch(plain.greeting, /AUTH=(PLAIN|LOGIN|OAUTHBEARER|XOAUTH2)/);
      assert.match(plain.greeting, /AUTH=SCRAM-SHA-256 /);
      assert.match((await plain.client.command('a', `AUTHENTICATE OAUTHBEARER ${bearer('x')}`)).tagged, /^a NO \[PRIVACYREQUIRED\]/);
      assert.match((await secure.client.command('c', 'CAPABILITY')).lines[0]!, / AUTH=PLAIN AUTH=LOGIN AUTH=OAUTHBEARER AUTH=XOAUTH2( |$)/);
    } finally {
      plain.client.close();
      secure.client.close();
    }
  });

  test('without [oauth]: not advertised, and refused as unsupported', async () => {
    const off = await startTestServer();
    try {
      const { client } = await RawClient.connect(off.imapsPort, { tls: true });
      try {
        assert.doesNotMatch((await client.command('c', 'CAPABILITY')).lines[0]!, /OAUTHBEARER|XOAUTH2/);
        assert.match((await client.command('a', `AUTHENTICATE OAUTHBEARER ${bearer('x')}`)).tagged, /^a NO \[CANNOT\]/);
      } finally {
        client.close();
      }
      const pop = await Pop3Client.connect(off.pop3sPort, { tls: true });
      try {
        assert.deepEqual((await pop.client.multi('AUTH')).lines, [...SCRAM_ON_TLS, 'PLAIN', 'LOGIN']);
        assert.match(await pop.client.command(`AUTH XOAUTH2 ${xoauth2(ALICE, 'x')}`), /^-ERR Unsupported/);
      } finally {
        pop.client.close();
      }
    } finally {
      await off.stop();
    }
  });

  test('POP3: CAPA SASL and bare AUTH list them after TLS', async () => {
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      assert.ok((await client.multi('CAPA')).lines.includes(`SASL ${SCRAM_ON_TLS.join(' ')} PLAIN LOGIN OAUTHBEARER XOAUTH2`));
      assert.deepEqual((await client.multi('AUTH')).lines, [...SCRAM_ON_TLS, 'PLAIN', 'LOGIN', 'OAUTHBEARER', 'XOAUTH2']);
    } finally {
      client.close();
    }
  });
});

describe('IMAP OAUTHBEARER', () => {
  test('imapflow logs in with an access token and lists the mailboxes', async () => {
    const token = await issuer.token({ email: ALICE, sub: 'u-1' });
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: srv.imapsPort,
      secure: true,
      auth: { user: ALICE, accessToken: token },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    await c.connect();
    try {
      assert.ok((await c.list()).some((m) => m.path === 'INBOX'));
    } finally {
      await c.logout();
    }
  });

  test('SASL-IR: OK with capabilities; the last login says how', async () => {
    const r = await imapOutcome(bearer(await issuer.token({ email: ALICE })));
    assert.equal(r.error, null);
    assert.match(r.tagged, /^a OK \[CAPABILITY IMAP4rev1 /);
    const protocol = await eventually(
      async () => (await srv.server.store.findAccount(ALICE))?.lastLogin?.protocol,
      (p) => p === 'imap/oauthbearer',
    );
    assert.equal(protocol, 'imap/oauthbearer');
  });

  test('without SASL-IR: an empty challenge, then the message; no authzid is fine', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      client.send('a AUTHENTICATE OAUTHBEARER\r\n');
      assert.equal(await client.readLine(), '+ ');
      client.send(`${bearer(await issuer.token({ email: ALICE }), null)}\r\n`);
      assert.match((await client.readTagged('a', LOGIN_TIMEOUT_MS)).tagged, /^a OK /);
      assert.match((await client.command('b', 'SELECT INBOX')).tagged, /^b OK /);
      // The live-session list names the credential, so revoking it could end the session.
      const live = srv.server.sessions.list((s) => s.protocol === 'imap' && s.mailbox === 'INBOX' && s.user?.name === ALICE);
      assert.deepEqual(
        live.map((s) => s.user?.credential),
        ['oauth'],
      );
    } finally {
      client.close();
    }
  });

  test('RFC 7628 §4.3: an empty auth gets the error JSON; the ^A dummy ends in NO', async () => {
    // The RFC's own client response, byte for byte.
    const r = await imapOutcome('bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9AQE=');
    assert.deepEqual(r.error, { status: 'invalid_token', scope: 'email', 'openid-configuration': `${issuer.issuer}/.well-known/openid-configuration` });
    assert.match(r.tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
  });

  test('RFC 7628 §4.3: "*" after the error challenge ends in NO too', async () => {
    const r = await imapOutcome(bearer(await issuer.token({ email: ALICE }, { expiresIn: -3600 })), 'OAUTHBEARER', '*');
    assert.equal(r.error?.status, 'invalid_token');
    assert.match(r.tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
  });

  const refused: Array<[string, () => Promise<string>]> = [
    ['expired', () => issuer.token({ email: ALICE }, { expiresIn: -3600 })],
    ['for another audience', () => issuer.token({ email: ALICE }, { audience: 'someone-else' })],
    ['from another issuer', () => issuer.token({ email: ALICE }, { issuer: 'http://127.0.0.1:1/realms/evil' })],
    ['with a bad signature', () => issuer.token({ email: ALICE }, { forged: true })],
    ['without exp', () => issuer.token({ email: ALICE }, { noExpiry: true })],
    ['signed with HS256 (a shared secret)', () => issuer.token({ email: ALICE }, { hmacSecret: 'a secret anyone could guess' })],
    ['with an unverified email', () => issuer.token({ email: ALICE, email_verified: false })],
    ['for a user without an account', () => issuer.token({ email: 'nobody@example.org' })],
    ['without the username claim', () => issuer.token({ sub: 'u-1' })],
    ['that is garbage', async () => 'not.a.jwt'],
    ['that is an opaque token the issuer does not know', async () => 'opaque-unknown-token'],
  ];
  for (const [what, make] of refused) {
    test(`a token ${what}: the error challenge, then NO [AUTHENTICATIONFAILED]`, async () => {
      const r = await imapOutcome(bearer(await make()));
      assert.equal(r.error?.status, 'invalid_token');
      assert.match(r.tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    });
  }

  test("authzid: another user's name fails; an alias of the token's account works", async () => {
    const token = await issuer.token({ email: ALICE });
    const mismatch = await imapOutcome(bearer(token, 'bob'));
    assert.equal(mismatch.error?.status, 'invalid_token');
    assert.match(mismatch.tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    assert.match((await imapOutcome(bearer(token, 'al@example.org'))).tagged, /^a OK /);
    // The token's claim may name an alias, too.
    assert.match((await imapOutcome(bearer(await issuer.token({ email: 'al@example.org' }), null))).tagged, /^a OK /);
  });

  test('a disabled account: NO [CONTACTADMIN] at once', async () => {
    const r = await imapOutcome(bearer(await issuer.token({ email: 'carol@example.org' }), null));
    assert.equal(r.error, null);
    assert.match(r.tagged, /^a NO \[CONTACTADMIN\]/);
  });

  test('malformed messages are BAD; "*" at the first challenge cancels', async () => {
    const token = await issuer.token({ email: ALICE });
    const malformed = [
      b64(`a=${ALICE},\x01auth=Bearer ${token}\x01\x01`), // no GS2 channel-binding flag
      b64(`p=tls-unique,,\x01auth=Bearer ${token}\x01\x01`), // channel binding: this mechanism has none
      b64(`n,a=${ALICE},\x01host=localhost\x01\x01`), // no auth
      b64(`n,,\x01auth=Bearer ${token}\x01`), // no closing ^A
      b64(`n,,\x01auth=Bearer ${token}\x01auth=Bearer ${token}\x01\x01`), // auth twice
      b64(`n,a=al=ice,\x01auth=Bearer ${token}\x01\x01`), // a bare "=" in the saslname
      b64('\x01'), // RFC 7628 §3.1: only valid after an error
      'not base64!',
    ];
    for (const message of malformed) {
      const r = await imapOutcome(message);
      assert.equal(r.error, null, unb64(message));
      assert.match(r.tagged, /^a BAD /, unb64(message));
    }
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      client.send('b AUTHENTICATE OAUTHBEARER\r\n');
      assert.equal(await client.readLine(), '+ ');
      client.send('*\r\n');
      assert.match((await client.readTagged('b')).tagged, /^b BAD .*cancelled/);
    } finally {
      client.close();
    }
  });

  test('key rotation: a token with the new kid works without a restart; the old key no longer does', async () => {
    const old = issuer.currentKey;
    assert.match((await imapOutcome(bearer(await issuer.token({ email: ALICE })))).tagged, /^a OK /);
    const fetched = issuer.hits.jwks;
    await issuer.rotate('ES256');
    assert.match((await imapOutcome(bearer(await issuer.token({ email: ALICE })))).tagged, /^a OK /);
    assert.equal(issuer.hits.jwks, fetched + 1, 'the unknown kid fetched the key set once');
    assert.match((await imapOutcome(bearer(await issuer.token({ email: ALICE }, { key: old })))).tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    // Later logins use the cached keys.
    const cached = issuer.hits.jwks;
    assert.match((await imapOutcome(bearer(await issuer.token({ email: ALICE })))).tagged, /^a OK /);
    assert.equal(issuer.hits.jwks, cached);
  });

  test('EdDSA-signed tokens are accepted', async () => {
    await issuer.rotate('EdDSA');
    assert.match((await imapOutcome(bearer(await issuer.token({ email: ALICE })))).tagged, /^a OK /);
    await issuer.rotate('RS256');
  });

  test('introspection (RFC 7662): an active opaque token logs in; an inactive or expired one fails', async () => {
    const before = issuer.hits.introspect;
    const active = issuer.opaqueToken({
      active: true,
      username: 'bob',
      email: ALICE,
      aud: 'mailkeep',
      iss: issuer.issuer,
      exp: Math.floor(Date.now() / 1000) + 300,
    });
    assert.match((await imapOutcome(bearer(active, null))).tagged, /^a OK /);
    const inactive = issuer.opaqueToken({ active: false, email: ALICE });
    assert.match((await imapOutcome(bearer(inactive, null))).tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    const expired = issuer.opaqueToken({ active: true, email: ALICE, exp: Math.floor(Date.now() / 1000) - 3600 });
    assert.match((await imapOutcome(bearer(expired, null))).tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    const elsewhere = issuer.opaqueToken({ active: true, email: ALICE, aud: 'another-client' });
    assert.match((await imapOutcome(bearer(elsewhere, null))).tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    assert.equal(issuer.hits.introspect, before + 4);
  });
});

describe('IMAP XOAUTH2', () => {
  test('a good token logs in, with SASL-IR and without', async () => {
    const token = await issuer.token({ email: ALICE });
    assert.match((await imapOutcome(xoauth2(ALICE, token), 'XOAUTH2')).tagged, /^a OK /);
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      client.send('a AUTHENTICATE XOAUTH2\r\n');
      assert.equal(await client.readLine(), '+ ');
      client.send(`${xoauth2(ALICE, token)}\r\n`);
      assert.match((await client.readTagged('a', LOGIN_TIMEOUT_MS)).tagged, /^a OK /);
    } finally {
      client.close();
    }
  });

  test("a bad token: Google's JSON error, the empty dummy, NO; another user's name fails; no user= is BAD", async () => {
    const bad = await imapOutcome(xoauth2(ALICE, await issuer.token({ email: ALICE }, { forged: true })), 'XOAUTH2', '');
    assert.deepEqual(bad.error, { status: '401', schemes: 'bearer', scope: 'email' });
    assert.match(bad.tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    const other = await imapOutcome(xoauth2('bob', await issuer.token({ email: ALICE })), 'XOAUTH2', '');
    assert.match(other.tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    assert.match((await imapOutcome(b64(`auth=Bearer x\x01\x01`), 'XOAUTH2')).tagged, /^a BAD /);
  });
});

describe('POP3', () => {
  test('AUTH OAUTHBEARER with an initial response, then STAT; the last login says how', async () => {
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      assert.match(await client.command(`AUTH OAUTHBEARER ${bearer(await issuer.token({ email: ALICE }))}`, LOGIN_TIMEOUT_MS), /^\+OK/);
      assert.match(await client.command('STAT'), /^\+OK 0 0/);
      const live = srv.server.sessions.list((s) => s.protocol === 'pop3' && s.user?.name === ALICE);
      assert.deepEqual(
        live.map((s) => s.user?.credential),
        ['oauth'],
      );
    } finally {
      client.close();
    }
    // The last login is written in the background (auth/last-login.ts), after the +OK.
    const protocol = await eventually(
      async () => (await srv.server.store.findAccount(ALICE))?.lastLogin?.protocol,
      (p) => p === 'pop3/oauthbearer',
    );
    assert.equal(protocol, 'pop3/oauthbearer');
  });

  test('AUTH XOAUTH2 without an initial response', async () => {
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      assert.equal(await client.command('AUTH XOAUTH2'), '+ ');
      assert.match(await client.command(xoauth2(ALICE, await issuer.token({ email: ALICE })), LOGIN_TIMEOUT_MS), /^\+OK/);
    } finally {
      client.close();
    }
  });

  test('a bad token: the error challenge, the ^A dummy, -ERR [AUTH]; a disabled account -ERR [AUTH] at once', async () => {
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      const challenge = await client.command(`AUTH OAUTHBEARER ${bearer(await issuer.token({ email: ALICE }, { audience: 'x' }))}`, LOGIN_TIMEOUT_MS);
      assert.match(challenge, /^\+ /);
      assert.equal((JSON.parse(unb64(challenge.slice(2))) as { status: string }).status, 'invalid_token');
      assert.match(await client.command('AQ==', LOGIN_TIMEOUT_MS), /^-ERR \[AUTH\]/);
      const disabled = await client.command(`AUTH OAUTHBEARER ${bearer(await issuer.token({ email: 'carol@example.org' }), null)}`, LOGIN_TIMEOUT_MS);
      assert.match(disabled, /^-ERR \[AUTH\] .*disabled/);
      assert.match(await client.command(`AUTH OAUTHBEARER ${b64('n,,\x01\x01')}`), /^-ERR .*without auth/);
    } finally {
      client.close();
    }
  });
});

describe('the throttle', () => {
  let strict: TestServer;
  before(async () => {
    // Failures beyond the first wait 300 ms, 600 ms, 1.2 s; the fifth attempt from an address is refused.
    strict = await startTestServer({
      oauth: oauthSettings(issuer.issuer),
      authThrottle: { freeFailures: 1, baseDelayMs: 300, maxDelayMs: 10_000, maxFailuresPerIp: 4, maxFailuresPerAccount: 10_000, passwordHashCost: 10 },
    });
    await strict.addUser(ALICE, 'alice password');
  });
  after(async () => strict.stop());

  /** One failing attempt from `from`: how it ended ('failed' or a refusal's code) and how long the answer took. */
  type Attempt = { outcome: string; ms: number };
  async function attempt(from: string, send: (c: RawClient) => Promise<string>): Promise<Attempt> {
    const { client } = await RawClient.connect(strict.imapsPort, { tls: true, localAddress: from });
    try {
      const t0 = performance.now();
      const tagged = await send(client);
      const ms = performance.now() - t0;
      const code = /^a NO \[([A-Z]+)\]/.exec(tagged)?.[1] ?? tagged;
      return { outcome: code === 'AUTHENTICATIONFAILED' ? 'failed' : code, ms };
    } finally {
      client.close();
    }
  }
  const wrongPassword = async (c: RawClient): Promise<string> =>
    (await c.command('a', `AUTHENTICATE PLAIN ${b64(`\0${ALICE}\0wrong`)}`, LOGIN_TIMEOUT_MS)).tagged;
  const badToken = async (c: RawClient): Promise<string> => {
    c.send(`a AUTHENTICATE OAUTHBEARER ${bearer(await issuer.token({ email: ALICE }, { forged: true }))}\r\n`);
    const line = await c.readLine(LOGIN_TIMEOUT_MS);
    if (!line.startsWith('+ ')) return line;
    // The tarpit comes before the error challenge: the time to here is the delay.
    c.send('AQ==\r\n');
    return (await c.readTagged('a', LOGIN_TIMEOUT_MS)).tagged;
  };

  test('bad tokens are slowed and then refused exactly like wrong passwords', async () => {
    const plain: Attempt[] = [];
    const tokens: Attempt[] = [];
    for (let i = 0; i < 5; i++) plain.push(await attempt('127.0.0.2', wrongPassword));
    for (let i = 0; i < 5; i++) tokens.push(await attempt('127.0.0.3', badToken));
    const expected = ['failed', 'failed', 'failed', 'failed', 'UNAVAILABLE'];
    assert.deepEqual(
      plain.map((a) => a.outcome),
      expected,
    );
    assert.deepEqual(
      tokens.map((a) => a.outcome),
      expected,
    );
    // The tarpit: 0, 300, 600, 1200 ms (lower bounds; the machine may add, never subtract).
    for (const [i, min] of [0, 300, 600, 1200].entries()) {
      assert.ok(plain[i]!.ms >= min * 0.95, `password attempt ${i + 1}: ${plain[i]!.ms} ms`);
      assert.ok(tokens[i]!.ms >= min * 0.95, `token attempt ${i + 1}: ${tokens[i]!.ms} ms`);
    }
    // Refused without a check: even a good token from that address, while another address gets in.
    const good = bearer(await issuer.token({ email: ALICE }));
    const send = async (c: RawClient): Promise<string> => (await c.command('a', `AUTHENTICATE OAUTHBEARER ${good}`, LOGIN_TIMEOUT_MS)).tagged;
    assert.equal((await attempt('127.0.0.3', send)).outcome, 'UNAVAILABLE');
    assert.match((await attempt('127.0.0.4', send)).outcome, /^a OK /);
  });
});

test('an issuer that does not answer: NO [UNAVAILABLE], not counted as a failure', async () => {
  const gone = await TestIssuer.start();
  const iss = gone.issuer;
  const token = await gone.token({ email: ALICE });
  await gone.stop();
  const lone = await startTestServer({ oauth: { ...oauthSettings(iss), requestTimeoutSeconds: 2 }, authThrottle: { maxFailuresPerIp: 1 } });
  try {
    for (let i = 0; i < 3; i++) {
      const { client } = await RawClient.connect(lone.imapsPort, { tls: true });
      try {
        assert.match(
          (await client.command('a', `AUTHENTICATE OAUTHBEARER ${bearer(token)}`, LOGIN_TIMEOUT_MS)).tagged,
          /^a NO \[UNAVAILABLE\] The token cannot be checked/,
        );
      } finally {
        client.close();
      }
    }
  } finally {
    await lone.stop();
  }
});

describe('curl --oauth2-bearer', () => {
  // Asynchronously: the server runs in this process and must answer meanwhile.
  const curl = (mechanism: string, token: string, url: string): Promise<{ status: number; out: string; err: string }> =>
    new Promise((resolve) => {
      const args = ['-sS', '-v', '--insecure', '--max-time', '20', '--login-options', `AUTH=${mechanism}`, '-u', `${ALICE}:`, '--oauth2-bearer', token, url];
      execFile('curl', args, (err, out, errText) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errText }));
    });
  const noCurl = spawnSync('curl', ['--version']).status !== 0 && 'curl is not installed';

  // curl 7.88 picks OAUTHBEARER whenever the server offers it, whatever --login-options says: XOAUTH2 is covered by the transcripts.
  test('IMAPS with OAUTHBEARER: lists the mailboxes', { skip: noCurl }, async () => {
    const r = await curl('OAUTHBEARER', await issuer.token({ email: ALICE }), `imaps://127.0.0.1:${srv.imapsPort}/`);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /AUTHENTICATE OAUTHBEARER/);
    assert.match(r.out, /\* LIST \(.*\) "\/" INBOX/);
  });

  test('POP3S with OAUTHBEARER: lists the messages; an expired token fails', { skip: noCurl }, async () => {
    const ok = await curl('OAUTHBEARER', await issuer.token({ email: ALICE }), `pop3s://127.0.0.1:${srv.pop3sPort}/`);
    assert.equal(ok.status, 0, ok.err);
    assert.match(ok.err, /AUTH OAUTHBEARER/);
    const expired = await curl('OAUTHBEARER', await issuer.token({ email: ALICE }, { expiresIn: -3600 }), `pop3s://127.0.0.1:${srv.pop3sPort}/`);
    assert.notEqual(expired.status, 0);
    assert.match(expired.err, /-ERR \[AUTH\]/);
  });
});

test('with --trace and info logs: no token, no SASL message, anywhere; the failure is logged', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const traced = await startTestServer({ oauth: oauthSettings(issuer.issuer), log: { level: 'info', trace: true } }, sink);
  const good = await issuer.token({ email: ALICE });
  const bad = await issuer.token({ email: ALICE }, { forged: true });
  try {
    await traced.addUser(ALICE, 'alice password');
    const imap = await RawClient.connect(traced.imapsPort, { tls: true });
    try {
      imap.client.send(`a AUTHENTICATE OAUTHBEARER ${bearer(bad)}\r\n`);
      assert.match(await imap.client.readLine(LOGIN_TIMEOUT_MS), /^\+ /);
      imap.client.send('AQ==\r\n');
      assert.match((await imap.client.readTagged('a', LOGIN_TIMEOUT_MS)).tagged, /^a NO /);
      assert.match((await imap.client.command('b', `AUTHENTICATE OAUTHBEARER ${bearer(good)}`, LOGIN_TIMEOUT_MS)).tagged, /^b OK /);
    } finally {
      imap.client.close();
    }
    const pop = await Pop3Client.connect(traced.pop3sPort, { tls: true });
    try {
      assert.equal(await pop.client.command('AUTH XOAUTH2'), '+ ');
      assert.match(await pop.client.command(xoauth2(ALICE, good), LOGIN_TIMEOUT_MS), /^\+OK/);
    } finally {
      pop.client.close();
    }
  } finally {
    await traced.stop();
  }
  const log = lines.join('');
  assert.match(log, /"msg":"authentication failed"/);
  for (const secret of [good, bad, good.split('.')[2]!, bad.split('.')[2]!, bearer(good), bearer(bad), xoauth2(ALICE, good)]) {
    assert.ok(!log.includes(secret), 'a token or SASL message reached the log');
  }
});

describe('[oauth] settings', () => {
  const errorsOf = (toml: string): string => {
    const file = join(secretDir, `c${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(file, toml);
    try {
      loadConfig({ configPath: file, env: {} });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return formatConfigError(err);
    }
    return '';
  };

  test('TOML: one claim or a list, algorithms, the secret file relative to the config file', () => {
    const file = join(secretDir, 'good.toml');
    writeFileSync(
      file,
      '[oauth]\nissuer = "https://sso.example.org/realms/mail"\naudience = ["mailkeep"]\nusername-claim = "preferred_username"\nalgorithms = ["ES256"]\nclient-id = "mk"\nclient-secret-file = "secret"\n',
    );
    const c = loadConfig({ configPath: file, env: {} }).oauth;
    assert.deepEqual([c.usernameClaim, c.algorithms, c.clientSecretFile], [['preferred_username'], ['ES256'], join(secretDir, 'secret')]);
    assert.deepEqual(loadConfig({ env: {} }).oauth.usernameClaim, ['email']);
  });

  test('refuses an issuer without an audience, plain http off loopback, HS256, and a client id without its secret', () => {
    assert.match(errorsOf('[oauth]\nissuer = "https://sso.example.org"\n'), /oauth\.audience must be set/);
    assert.match(errorsOf('[oauth]\nissuer = "http://sso.example.org"\naudience = ["m"]\n'), /expected an https URL/);
    assert.match(errorsOf('[oauth]\nissuer = "https://sso.example.org"\naudience = ["m"]\nalgorithms = ["HS256"]\n'), /expected a list from RS256/);
    assert.match(errorsOf('[oauth]\nissuer = "https://sso.example.org"\naudience = ["m"]\nclient-id = "mk"\n'), /client-secret-file must be set/);
    assert.equal(errorsOf('[oauth]\nissuer = "http://127.0.0.1:8080/realms/test"\naudience = ["m"]\n'), '');
  });
});
