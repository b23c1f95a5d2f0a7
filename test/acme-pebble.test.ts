// test:pg skip — ACME against Pebble: the certificates and the ACME lock are files in the data directory
/**
 * ACME against a real CA (Pebble, real validation through its DNS): a
 * certificate by http-01 and by tls-alpn-01, verified by clients that trust
 * only Pebble's root on 993 and the HTTPS port; a renewal while an IDLE
 * session stays; a CA error that leaves the old certificate serving.
 */
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { acmeCertificatePaths, type AcmeCertificateState, readAcmeState } from '../src/net/acme-files.js';
import { startPebble, type Pebble } from './helpers/pebble.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

const SLOW = 60_000;
let pebble: Pebble;
let httpPort: number;
let httpsPort: number;

before(async () => {
  // Pebble validates on fixed ports: every server of this file uses these two, one at a time.
  httpPort = await freePort();
  httpsPort = await freePort();
  pebble = await startPebble({ httpPort, tlsPort: httpsPort });
});
after(() => pebble.stop());

/** A server whose ACME orders `name` from Pebble by `challenge`; the name resolves for Pebble. */
async function acmeServer(name: string, challenge: 'http-01' | 'tls-alpn-01'): Promise<TestServer> {
  await pebble.addName(name);
  return startTestServer({
    hostname: name,
    // tls-alpn-01 needs no plain HTTP: without it, a pass proves the ALPN path.
    httpPort: challenge === 'http-01' ? httpPort : 0,
    httpsPort,
    acme: { enabled: true, directory: pebble.directory, caFile: pebble.caFile, email: 'postmaster@example.test', names: [name], challenge },
  });
}

/**
 * Polls state.json until `name`'s entry satisfies `done`. acme-client polls an
 * authorization with backoff (5 s, doubling to 30 s): on a loaded machine an
 * order's outcome can take over a minute to arrive, so this waits longer.
 */
async function stateOf(srv: TestServer, name: string, done: (s: AcmeCertificateState) => boolean): Promise<AcmeCertificateState> {
  const deadline = Date.now() + 3 * SLOW;
  for (;;) {
    const state = (await readAcmeState(srv.dataDir)).get(name);
    if (state && done(state)) return state;
    if (Date.now() > deadline) throw new Error(`state.json for ${name}: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The certificate `port` presents for `name` to a client trusting only Pebble's root; rejects unless it verifies for that name. */
async function verified(port: number, name: string): Promise<X509Certificate> {
  const socket = connect({ host: '127.0.0.1', port, servername: name, ca: pebble.root });
  try {
    await once(socket, 'secureConnect');
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    return socket.getPeerX509Certificate()!;
  } finally {
    socket.destroy();
  }
}

describe('ACME with Pebble', { timeout: 15 * SLOW }, () => {
  test('http-01: a certificate for the name, served and verified on 993 and on HTTPS; files private', async () => {
    const name = 'http01.mail.test';
    const srv = await acmeServer(name, 'http-01');
    try {
      const state = await stateOf(srv, name, (s) => s.lastSuccess !== null);
      assert.equal(state.lastError, null);
      assert.ok(Date.parse(state.renewAt!) < Date.parse(state.notAfter!));
      const cert = await verified(srv.imapsPort, name);
      assert.match(cert.subjectAltName ?? '', new RegExp(`DNS:${name.replace(/\./g, '\\.')}`));
      assert.equal((await verified(httpsPort, name)).fingerprint256, cert.fingerprint256);
      const paths = acmeCertificatePaths(srv.dataDir, name);
      for (const file of [paths.key, paths.cert, join(srv.dataDir, 'tls', 'acme', 'account.key'), join(srv.dataDir, 'tls', 'acme', 'state.json')]) {
        assert.equal((await stat(file)).mode & 0o777, 0o600, file);
      }
      assert.equal((await stat(join(srv.dataDir, 'tls', 'acme'))).mode & 0o777, 0o700);
    } finally {
      await srv.stop();
    }
  });

  test('tls-alpn-01 (RFC 8737) on the HTTPS port, with plain HTTP off', async () => {
    const name = 'alpn.mail.test';
    const srv = await acmeServer(name, 'tls-alpn-01');
    try {
      await stateOf(srv, name, (s) => s.lastSuccess !== null);
      const cert = await verified(srv.imapsPort, name);
      assert.match(cert.issuer, /Pebble/);
    } finally {
      await srv.stop();
    }
  });

  test('a renewal reaches new connections while an IDLE session stays and then sees a new message', async () => {
    const name = 'renew.mail.test';
    const srv = await acmeServer(name, 'http-01');
    try {
      const first = await stateOf(srv, name, (s) => s.lastSuccess !== null);
      const before = await verified(srv.imapsPort, name);
      await srv.addUser('idler', 'pw');
      const idler = await RawClient.login(srv.imapsPort, 'idler', 'pw');
      assert.match((await idler.command('s', 'SELECT INBOX')).tagged, /OK/);
      idler.send('i IDLE\r\n');
      assert.match(await idler.readLine(), /^\+ /);

      await srv.server.acme!.renewNow();
      await stateOf(srv, name, (s) => s.lastSuccess !== first.lastSuccess);
      const renewed = await verified(srv.imapsPort, name);
      assert.notEqual(renewed.serialNumber, before.serialNumber);

      const writer = await RawClient.login(srv.imapsPort, 'idler', 'pw');
      const msg = 'Subject: after renewal\r\n\r\nhello\r\n';
      assert.match((await writer.command('a', `APPEND INBOX {${msg.length}+}\r\n${msg}`)).tagged, /OK/);
      writer.close();
      assert.match(await idler.readLine(SLOW), /^\* 1 EXISTS/);
      idler.send('DONE\r\n');
      assert.match((await idler.readTagged('i')).tagged, /^i OK/);
      idler.close();
    } finally {
      await srv.stop();
    }
  });

  test('a second server on the same data dir leaves ACME to the lock holder and serves what it renews', async () => {
    const name = 'shared.mail.test';
    const holder = await acmeServer(name, 'http-01');
    let other: TestServer | undefined;
    try {
      const first = await stateOf(holder, name, (s) => s.lastSuccess !== null);
      other = await startTestServer({
        dataDir: holder.dataDir,
        hostname: name,
        acme: { enabled: true, directory: pebble.directory, caFile: pebble.caFile, names: [name] },
      });
      assert.equal(other.server.acme, null);
      const before = await verified(other.imapsPort, name);
      await holder.server.acme!.renewNow();
      await stateOf(holder, name, (s) => s.lastSuccess !== first.lastSuccess);
      const renewed = (await verified(holder.imapsPort, name)).serialNumber;
      assert.notEqual(renewed, before.serialNumber);
      // The other server notices the files (polled every 2 s, then a second to settle).
      const deadline = Date.now() + 20_000;
      while ((await verified(other.imapsPort, name)).serialNumber !== renewed) {
        assert.ok(Date.now() < deadline, 'the other server did not pick up the renewed certificate');
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await holder.stop();
      await other?.stop();
    }
  });

  test('a CA error leaves the old certificate serving and is recorded with its problem document', async () => {
    const name = 'refused.mail.test';
    const srv = await acmeServer(name, 'http-01');
    try {
      const first = await stateOf(srv, name, (s) => s.lastSuccess !== null);
      const before = await verified(srv.imapsPort, name);
      const certFile = acmeCertificatePaths(srv.dataDir, name).cert;
      const pem = await readFile(certFile);

      // The name no longer resolves for Pebble: its validation fails and the CA says why.
      await pebble.removeName(name);
      await srv.server.acme!.renewNow();
      const failed = await stateOf(srv, name, (s) => s.lastError !== null);
      assert.match(failed.lastError!.type, /^urn:ietf:params:acme:error:/);
      assert.notEqual(failed.lastError!.detail, '');
      assert.equal(failed.lastSuccess, first.lastSuccess);
      assert.deepEqual(await readFile(certFile), pem);
      assert.equal((await verified(srv.imapsPort, name)).fingerprint256, before.fingerprint256);
    } finally {
      await srv.stop();
    }
  });
});
