/**
 * Profile signing is a process per profile behind a URL without login: at
 * most 2 run at once and 16 wait; the rest are refused at once (the route
 * answers 503), and the slots come back afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profileBytes, SigningBusyError } from '../src/autoconfig/profile-signing.js';
import { makeTestCerts } from './helpers/test-certs.js';

test('signings beyond 2 running and 16 waiting are refused, and the slots come back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailkeep-signing-'));
  try {
    const certs = await makeTestCerts(dir);
    const cert = readFileSync(certs.valid.cert);
    const pair = { x509: new X509Certificate(cert), cert, key: readFileSync(certs.valid.key) };
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => profileBytes('<plist/>', pair)));
    const signed = results.filter((r) => r.status === 'fulfilled' && r.value.signed).length;
    const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof SigningBusyError).length;
    assert.deepEqual([signed, busy], [18, 22]);
    assert.equal((await profileBytes('<plist/>', pair)).signed, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
