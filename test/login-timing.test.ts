/**
 * Login timing (issue 22): an unknown user, a wrong password, and a wrong
 * password for an account with the most app passwords take the same time over
 * real IMAP, because each costs exactly one hash with the configured algorithm
 * and parameters (auth/password.ts dummy hash, auth/app-passwords.ts lookup).
 * Bounds are generous (medians within 0.5×–2×): the machine is shared. The
 * numbers for bench/README.md come from bench/login-timing.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { timeLogins } from '../bench/login-timing-probe.js';
import { APP_PASSWORD_LIMITS, asAppPassword, generateAppPassword } from '../src/auth/app-passwords.js';
import { hashPassword } from '../src/auth/password.js';
import { PRODUCTION_HASHING_CONFIG } from './helpers/cheap-hashing.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ROUNDS = 30;

let srv: TestServer;
let appLookup = '';
before(async () => {
  srv = await startTestServer({
    // The default argon2id; no credential cache, so a right password pays its hash too; no throttle on the failures.
    auth: { ...PRODUCTION_HASHING_CONFIG.auth, credentialCacheSeconds: 0 },
    authThrottle: {
      ...PRODUCTION_HASHING_CONFIG.authThrottle,
      freeFailures: 1000,
      baseDelayMs: 0,
      maxFailuresPerIp: 1_000_000_000,
      maxFailuresPerAccount: 1_000_000_000,
    },
    plaintextAuth: { trustedNetworks: ['127.0.0.1/32'] },
  });
  await srv.addUser('tim', 'pw-tim');
  await srv.addUser('appy', 'pw-appy');
  const appy = (await srv.server.store.findAccount('appy'))!;
  const taken = new Set<string>();
  for (let i = 0; i < APP_PASSWORD_LIMITS.maxLive; i++) {
    const { password, lookup } = generateAppPassword(taken);
    taken.add(lookup);
    const hash = await hashPassword(asAppPassword(password)!.canonical);
    await srv.server.store.addAppPassword(
      appy.id,
      { name: `device ${i}`, lookup, hash, protocols: ['imap'], expiresAt: null },
      new Date(),
      APP_PASSWORD_LIMITS,
    );
  }
  appLookup = [...taken][0]!;
});
after(async () => srv.stop());

describe('login timing', () => {
  test('unknown user, wrong password and wrong password with 20 app passwords: medians within 0.5×–2×', async () => {
    const [unknown, wrong, wrongWithApps, wrongApp, right] = await timeLogins(
      srv.imapPort,
      [
        { label: 'unknown user', user: 'nobody-here', password: 'guess' },
        { label: 'wrong password', user: 'tim', password: 'guess' },
        { label: 'wrong password, 20 app passwords', user: 'appy', password: 'guess' },
        { label: 'wrong app password (lookup hit)', user: 'appy', password: `${appLookup}-aaaa-aaaa-aaaa` },
        { label: 'right password', user: 'tim', password: 'pw-tim' },
      ],
      ROUNDS,
    );
    const line = (t: { label: string; median: number; p90: number }): string => `${t.label}: median ${t.median.toFixed(1)} ms, p90 ${t.p90.toFixed(1)} ms`;
    const report = [unknown!, wrong!, wrongWithApps!, wrongApp!, right!].map(line).join('\n');
    for (const t of [unknown!, wrongWithApps!, wrongApp!]) {
      const ratio = t.median / wrong!.median;
      assert.ok(ratio >= 0.5 && ratio <= 2, `${t.label} / wrong password = ${ratio.toFixed(2)}\n${report}`);
    }
    // Every attempt paid a hash: none is answered in a fraction of one.
    assert.ok(right!.median >= 0.5 * wrong!.median, report);
  });
});
