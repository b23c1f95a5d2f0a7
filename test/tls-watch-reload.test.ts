// test:pg skip — certificate files reloaded from disk
/**
 * Reloads without SIGHUP (issue 19): replaced [[tls.certificates]] files are
 * noticed by the file watch; a mismatched or expired replacement is refused
 * with a log line naming the file and the pair in use stays; a pair ACME
 * writes under data-dir/tls/acme/certs/ is served by name after
 * reload('acme'), and as the default when it covers hostname. A session
 * opened before all of it still answers.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { fingerprintOf, makePair, openTls, presented, writePair } from './helpers/certificates.js';
import { waitUntil } from './helpers/eventually.js';
import { startTestServer, type TestServer } from './helpers/server.js';

async function noop(socket: TLSSocket, tag: string): Promise<string> {
  socket.write(`${tag} NOOP\r\n`);
  let text = '';
  while (!text.includes(`${tag} `)) text += ((await new Promise((r) => socket.once('data', r))) as Buffer).toString();
  return text;
}

describe('TLS reload by file watch and by ACME', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-tls-watch-'));
  const certFile = path.join(dir, 'alpha.crt');
  const keyFile = path.join(dir, 'alpha.key');
  let server: TestServer;
  let log = '';
  let session: TLSSocket;

  before(async () => {
    writePair(await makePair(['alpha.test']), certFile, keyFile);
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => (log += d.toString()));
    server = await startTestServer({ hostname: 'acme.test', tls: { certificates: [{ cert: certFile, key: keyFile }] }, log: { level: 'info' } }, stream);
    session = await openTls(server.imapsPort, 'alpha.test', null);
  });

  after(async () => {
    session.destroy();
    await server.stop();
  });

  test('replaced files are served without SIGHUP', async () => {
    const next = await makePair(['alpha.test']);
    const want = await fingerprintOf(next);
    writePair(next, certFile, keyFile);
    await waitUntil('the new certificate', async () => (await presented(server.imapsPort, 'alpha.test')) === want);
    assert.match(log, /"reason":"files changed"/);
  });

  for (const [label, bad, reason] of [
    ['a key that does not match', async () => ({ cert: (await makePair(['alpha.test'])).cert, key: (await makePair(['alpha.test'])).key }), /does not match/],
    [
      'an expired certificate',
      () => makePair(['alpha.test'], { notBefore: new Date(Date.now() - 3 * 86400_000), notAfter: new Date(Date.now() - 86400_000) }),
      /expired/,
    ],
  ] as const) {
    test(`${label} is refused, logged with its file, and the pair in use stays`, async () => {
      const inUse = await presented(server.imapsPort, 'alpha.test');
      const mark = log.length;
      writePair(await bad(), certFile, keyFile);
      await waitUntil('the refusal in the log', () => log.slice(mark).includes('TLS reload refused'));
      const line = log
        .slice(mark)
        .split('\n')
        .find((l) => l.includes('TLS reload refused'))!;
      assert.ok(line.includes(certFile), line);
      assert.match(line, reason);
      assert.equal(await presented(server.imapsPort, 'alpha.test'), inUse);
    });
  }

  test("a pair ACME writes is served after reload('acme'), by name and as the default for hostname", async () => {
    const acme = await makePair(['acme.test', 'imap.acme.test']);
    const acmeDir = path.join(server.dataDir, 'tls', 'acme', 'certs', 'acme.test');
    mkdirSync(acmeDir, { recursive: true, mode: 0o700 });
    const selfSigned = await presented(server.imapsPort, undefined);
    writePair(acme, path.join(acmeDir, 'cert.pem'), path.join(acmeDir, 'key.pem'));
    assert.equal(await presented(server.imapsPort, 'imap.acme.test'), selfSigned, 'nothing changes before the reload');
    // False here: alpha.test's files are still the refused expired pair, which the reload reports again.
    assert.equal(await server.server.certificates.reload('acme'), false);
    const want = await fingerprintOf(acme);
    assert.equal(await presented(server.imapsPort, 'imap.acme.test'), want);
    assert.equal(await presented(server.imapsPort, undefined), want, 'it covers hostname: clients without SNI get it too');
    assert.notEqual(await presented(server.imapsPort, 'alpha.test'), want);
  });

  test('a pair the ACME process writes is picked up without a reload call, as by the other worker processes', async () => {
    const next = await makePair(['other.acme.test']);
    const acmeDir = path.join(server.dataDir, 'tls', 'acme', 'certs', 'other.acme.test');
    mkdirSync(acmeDir, { recursive: true, mode: 0o700 });
    writePair(next, path.join(acmeDir, 'cert.pem'), path.join(acmeDir, 'key.pem'));
    const want = await fingerprintOf(next);
    await waitUntil('the new ACME certificate', async () => (await presented(server.imapsPort, 'other.acme.test')) === want);
    // A renewal: new files renamed into the directory, as the ACME client writes them.
    const renewed = await makePair(['other.acme.test']);
    writePair(renewed, path.join(dir, 'renewed.crt'), path.join(dir, 'renewed.key'));
    renameSync(path.join(dir, 'renewed.key'), path.join(acmeDir, 'key.pem'));
    renameSync(path.join(dir, 'renewed.crt'), path.join(acmeDir, 'cert.pem'));
    const renewedFingerprint = await fingerprintOf(renewed);
    await waitUntil('the renewed ACME certificate', async () => (await presented(server.imapsPort, 'other.acme.test')) === renewedFingerprint);
  });

  test('the session opened first still answers', async () => {
    assert.match(await noop(session, 'n1'), /^n1 OK/m);
  });
});
