/** TOTP (auth/totp.ts) against the RFC 6238 Appendix B vectors, base32 round trips, and the acceptance window. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fromBase32, hotp, otpauthUri, toBase32, totpCode, verifyTotp } from '../src/auth/totp.js';

const RFC_SECRET = Buffer.from('12345678901234567890');

test('RFC 6238 Appendix B (SHA-1), last six digits', () => {
  for (const [seconds, code] of [
    [59, '287082'],
    [1111111109, '081804'],
    [1111111111, '050471'],
    [1234567890, '005924'],
    [2000000000, '279037'],
    [20000000000, '353130'],
  ] as const) {
    assert.equal(hotp(RFC_SECRET, Math.floor(seconds / 30)), code, String(seconds));
    assert.equal(totpCode(toBase32(RFC_SECRET), seconds * 1000), code);
  }
});

test('base32 round-trips any bytes; RFC 4648 §10 vector', () => {
  assert.equal(toBase32(Buffer.from('foobar')), 'MZXW6YTBOI');
  for (let n = 0; n < 40; n++) {
    const bytes = randomBytes(n);
    assert.deepEqual(fromBase32(toBase32(bytes)), bytes);
  }
  assert.equal(fromBase32('not base32!'), null);
});

test('a code is accepted one step either side of now, not two; malformed codes are refused', () => {
  const secret = toBase32(RFC_SECRET);
  const now = 1_700_000_000_000;
  assert.equal(verifyTotp(secret, totpCode(secret, now), now), Math.floor(now / 30_000));
  assert.notEqual(verifyTotp(secret, totpCode(secret, now - 30_000), now), null);
  assert.notEqual(verifyTotp(secret, totpCode(secret, now + 30_000), now), null);
  assert.equal(verifyTotp(secret, totpCode(secret, now - 90_000), now), null);
  for (const bad of ['', '12345', '1234567', 'abcdef']) assert.equal(verifyTotp(secret, bad, now), null);
  assert.match(otpauthUri('mailkeep mail.example.org', 'root', secret), /^otpauth:\/\/totp\/mailkeep%20mail\.example\.org:root\?secret=[A-Z2-7]+&issuer=/);
});
