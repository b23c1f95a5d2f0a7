/**
 * The verified-credential cache (auth/credential-cache.ts) on a real server:
 * repeated logins skip the hash, and a password change or account deletion
 * made by the CLI in another process, a wrong password, the throttle and the
 * ttl are all honoured. Observed through the cache's hit and miss counts,
 * never through timing.
 */
import { strict as assert } from 'node:assert';
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CredentialCache } from '../src/auth/credential-cache.js';
import type { AccountId } from '../src/ids.js';
import { mailkeepOn } from './cli-helpers.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { LOGIN_TIMEOUT_MS } from './helpers/socket-buffer.js';

/** The tagged reply to one LOGIN on a fresh implicit-TLS connection. */
async function login(ts: TestServer, user: string, password: string): Promise<string> {
  const { client } = await RawClient.connect(ts.imapsPort, { tls: true });
  try {
    return (await client.command('l', `LOGIN ${user} "${password}"`, LOGIN_TIMEOUT_MS)).tagged;
  } finally {
    client.close();
  }
}

/**
 * `mailkeep user …` in a child process on the test server's store, with `input` on stdin. Asynchronous: the
 * server runs in this process, and on PostgreSQL a write it has begun after a login (the last login, SCRAM keys)
 * holds the account's row until its next turn; with the loop blocked, the child's UPDATE waited for it until the
 * 60 s timeout (seen once in CI).
 */
async function cli(ts: TestServer, args: string[], input = ''): Promise<void> {
  const r = await mailkeepOn(ts, ['user', ...args], input);
  assert.equal(r.status, 0, r.stderr);
}

/** Hits and misses since the previous call. */
function counter(ts: TestServer): () => { hits: number; misses: number } {
  let seen = { ...ts.server.credentials.stats };
  return () => {
    const now = { ...ts.server.credentials.stats };
    const delta = { hits: now.hits - seen.hits, misses: now.misses - seen.misses };
    seen = now;
    return delta;
  };
}

const OK = /^l OK/;
const NO = /^l NO \[AUTHENTICATIONFAILED\]/;

describe('credential cache', () => {
  let ts: TestServer;
  before(async () => {
    // Failures answered at once (no tarpit), so the throttle case stays quick.
    ts = await startTestServer({ authThrottle: { freeFailures: 100, maxFailuresPerIp: 3 } });
  });
  after(() => ts.stop());

  it('serves the second login with the same password from the cache, on IMAP and POP3', async () => {
    await ts.addUser('alice', 'first secret');
    const delta = counter(ts);
    assert.match(await login(ts, 'alice', 'first secret'), OK);
    assert.deepEqual(delta(), { hits: 0, misses: 1 });
    assert.match(await login(ts, 'alice', 'first secret'), OK);
    assert.deepEqual(delta(), { hits: 1, misses: 0 });
    const pop = await Pop3Client.login(ts.pop3sPort, 'alice', 'first secret');
    await pop.command('QUIT');
    assert.deepEqual(delta(), { hits: 1, misses: 0 });
  });

  it('never caches a wrong password', async () => {
    await ts.addUser('bob', 'right');
    assert.match(await login(ts, 'bob', 'right'), OK);
    const entries = ts.server.credentials.size;
    const delta = counter(ts);
    for (let i = 0; i < 2; i++) assert.match(await login(ts, 'bob', 'wrong'), NO);
    assert.deepEqual(delta(), { hits: 0, misses: 2 });
    assert.equal(ts.server.credentials.size, entries);
    assert.match(await login(ts, 'bob', 'right'), OK);
    assert.deepEqual(delta(), { hits: 1, misses: 0 });
  });

  it('refuses the old password at once after `mailkeep user passwd` in another process, and accepts the new one', async () => {
    await ts.addUser('carol', 'old password');
    assert.match(await login(ts, 'carol', 'old password'), OK);
    assert.match(await login(ts, 'carol', 'old password'), OK);
    await cli(ts, ['passwd', 'carol', '--password-stdin'], 'new password\n');
    const delta = counter(ts);
    assert.match(await login(ts, 'carol', 'old password'), NO);
    assert.deepEqual(delta(), { hits: 0, misses: 1 });
    assert.match(await login(ts, 'carol', 'new password'), OK);
    assert.match(await login(ts, 'carol', 'new password'), OK);
    assert.deepEqual(delta(), { hits: 1, misses: 1 });
  });

  it('refuses a cached password after `mailkeep user del`', async () => {
    await ts.addUser('dave', 'pw');
    assert.match(await login(ts, 'dave', 'pw'), OK);
    await cli(ts, ['del', 'dave']);
    const delta = counter(ts);
    assert.match(await login(ts, 'dave', 'pw'), NO);
    assert.deepEqual(delta(), { hits: 0, misses: 0 });
  });

  it('caches the upgraded hash after a login re-hashes a weaker one', async () => {
    // N = 2^12 where new hashes use 2^15: the first login re-hashes in the background.
    const salt = randomBytes(16);
    const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
    const weak = `$scrypt$ln=12,r=8,p=1$${b64(salt)}$${b64(scryptSync('pw', salt, 32, { N: 2 ** 12, r: 8, p: 1 }))}`;
    await ts.server.store.createAccount('heidi', weak);
    assert.match(await login(ts, 'heidi', 'pw'), OK);
    for (let i = 0; i < 500 && (await ts.server.store.findAccount('heidi'))?.passwordHash === weak; i++) await new Promise((r) => setTimeout(r, 20));
    assert.notEqual((await ts.server.store.findAccount('heidi'))?.passwordHash, weak, 'the hash was not upgraded within 10 s');
    const delta = counter(ts);
    assert.match(await login(ts, 'heidi', 'pw'), OK);
    assert.deepEqual(delta(), { hits: 1, misses: 0 });
  });

  it('consults the throttle before the cache: a cached password is refused once the address failed too often', async () => {
    await ts.addUser('erin', 'pw');
    assert.match(await login(ts, 'erin', 'pw'), OK);
    for (let i = 0; i < 3; i++) assert.match(await login(ts, 'erin', 'guess'), NO);
    const delta = counter(ts);
    assert.match(await login(ts, 'erin', 'pw'), /^l NO \[UNAVAILABLE\]/);
    assert.deepEqual(delta(), { hits: 0, misses: 0 });
  });
});

describe('credential cache settings', () => {
  it('forgets a verification after credential-cache-seconds', async () => {
    const ts = await startTestServer({ auth: { credentialCacheSeconds: 1 } });
    try {
      await ts.addUser('frank', 'pw');
      const delta = counter(ts);
      assert.match(await login(ts, 'frank', 'pw'), OK);
      assert.match(await login(ts, 'frank', 'pw'), OK);
      assert.deepEqual(delta(), { hits: 1, misses: 1 });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.match(await login(ts, 'frank', 'pw'), OK);
      assert.match(await login(ts, 'frank', 'pw'), OK);
      assert.deepEqual(delta(), { hits: 1, misses: 1 });
    } finally {
      await ts.stop();
    }
  });

  it('is off with credential-cache-seconds = 0', async () => {
    const ts = await startTestServer({ auth: { credentialCacheSeconds: 0 } });
    try {
      await ts.addUser('grace', 'pw');
      for (let i = 0; i < 2; i++) assert.match(await login(ts, 'grace', 'pw'), OK);
      assert.deepEqual(ts.server.credentials.stats, { hits: 0, misses: 0 });
      assert.equal(ts.server.credentials.size, 0);
    } finally {
      await ts.stop();
    }
  });

  it('keeps at most credential-cache-entries, dropping the least recently used', () => {
    const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 2 });
    const [a1, a2, a3] = [1, 2, 3] as [AccountId, AccountId, AccountId];
    cache.remember(a1, 'a', 'hash-a');
    cache.remember(a2, 'b', 'hash-b');
    assert.equal(cache.holds(a1, 'a', 'hash-a'), true);
    cache.remember(a3, 'c', 'hash-c');
    assert.equal(cache.size, 2);
    assert.equal(cache.holds(a2, 'b', 'hash-b'), false);
    assert.equal(cache.holds(a1, 'a', 'hash-a'), true);
    assert.equal(cache.holds(a3, 'c', 'hash-c'), true);
    // An entry matches only its own account, stored hash and password.
    assert.equal(cache.holds(a1, 'a', 'hash-b'), false);
    assert.equal(cache.holds(a3, 'a', 'hash-a'), false);
    assert.equal(cache.holds(a1, 'c', 'hash-a'), false);
  });
});
