/** TLS material (src/net/tls-material.ts): generate on first start, reuse later, load configured files. */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { TLSSocket, connect, createServer as createTlsServer } from 'node:tls';
import { describe, it } from 'node:test';
import { createLogger } from '../src/log.js';
import { createTlsContext, generatedTlsPaths, loadTlsMaterial, tlsServerOptions, type TlsMaterial } from '../src/net/tls-material.js';

function capturingLogger(): { log: ReturnType<typeof createLogger>; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') records.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ log: { level: 'info', trace: false } }, sink), records };
}

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'mailkeep-tls-'));
const selfSigned = (dataDir: string) => ({ dataDir, hostname: 'mail.test', tlsCert: null, tlsKey: null });

/**
 * Completes a real TLS handshake on loopback, trusting only the material's certificate (no SNI
 * when servername is undefined, so the IP is checked), through
 * an implicit-TLS server or a STARTTLS-style upgrade; returns the fingerprint the client saw.
 */
async function handshake(material: TlsMaterial, servername: string | undefined, via: 'tls-server' | 'starttls'): Promise<string> {
  const server =
    via === 'tls-server'
      ? createTlsServer(tlsServerOptions(material, '1.2'), (s) => s.end())
      : createNetServer((raw) => {
          const s = new TLSSocket(raw, { isServer: true, secureContext: createTlsContext(material, '1.2') });
          s.on('secure', () => s.end());
          s.on('error', () => raw.destroy());
        });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca: material.cert, ...(servername ? { servername } : {}) }, () => {
        resolve(socket.getPeerX509Certificate()!.fingerprint256);
        socket.end();
      });
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('TLS material', () => {
  it('generates a self-signed pair on first start and reuses it afterwards', async () => {
    const dataDir = tmp();
    const { log, records } = capturingLogger();
    const first = await loadTlsMaterial(selfSigned(dataDir), log);
    const paths = generatedTlsPaths(dataDir);
    assert.equal(first.generated, true);
    assert.deepEqual(readFileSync(paths.cert), first.cert);
    assert.deepEqual(readFileSync(paths.key), first.key);
    assert.equal(statSync(paths.key).mode & 0o777, 0o600);
    assert.equal(statSync(paths.dir).mode & 0o777, 0o700);

    const x509 = new X509Certificate(first.cert);
    assert.equal(first.fingerprint256, x509.fingerprint256);
    assert.match(x509.subjectAltName ?? '', /DNS:localhost/);
    assert.match(x509.subjectAltName ?? '', /DNS:mail\.test/, 'the hostname setting is a name of the generated certificate');
    assert.match(x509.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    const years = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / (365.25 * 864e5);
    assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
    assert.ok(records.some((r) => r.msg === 'generated a self-signed TLS certificate'));
    assert.ok(records.some((r) => r.msg === 'TLS certificate' && r.fingerprint256 === first.fingerprint256 && r.level === 30));

    const second = await loadTlsMaterial(selfSigned(dataDir), capturingLogger().log);
    assert.equal(second.fingerprint256, first.fingerprint256);
    assert.deepEqual(second.key, first.key);
  });

  it('serves a certificate that clients can pin and that matches localhost, on TLS ports and after STARTTLS', async () => {
    const material = await loadTlsMaterial(selfSigned(tmp()), capturingLogger().log);
    assert.equal(await handshake(material, 'localhost', 'tls-server'), material.fingerprint256);
    assert.equal(await handshake(material, 'localhost', 'starttls'), material.fingerprint256);
    assert.equal(await handshake(material, undefined, 'tls-server'), material.fingerprint256, 'IP SAN 127.0.0.1');
    await assert.rejects(handshake(material, 'wrong.example', 'tls-server'), /altnames/);
  });

  it('loads configured files instead of generating', async () => {
    const source = tmp();
    const generated = await loadTlsMaterial(selfSigned(source), capturingLogger().log);
    const dir = tmp();
    const tlsCert = path.join(dir, 'c.pem');
    const tlsKey = path.join(dir, 'k.pem');
    copyFileSync(generatedTlsPaths(source).cert, tlsCert);
    copyFileSync(generatedTlsPaths(source).key, tlsKey);
    const dataDir = tmp();
    const loaded = await loadTlsMaterial({ dataDir, hostname: 'mail.test', tlsCert, tlsKey }, capturingLogger().log);
    assert.equal(loaded.generated, false);
    assert.equal(loaded.fingerprint256, generated.fingerprint256);
    assert.throws(() => statSync(generatedTlsPaths(dataDir).dir), /ENOENT/, 'nothing generated');
  });

  it('explains unreadable, malformed and mismatched files', async () => {
    const a = tmp();
    const b = tmp();
    const log = capturingLogger().log;
    await loadTlsMaterial(selfSigned(a), log);
    await loadTlsMaterial(selfSigned(b), log);
    const pa = generatedTlsPaths(a);
    const pb = generatedTlsPaths(b);
    const missing = path.join(a, 'nope.pem');
    await assert.rejects(loadTlsMaterial({ dataDir: a, hostname: 'mail.test', tlsCert: missing, tlsKey: pa.key }, log), {
      message: `cannot read tls-cert file ${missing}: ENOENT`,
    });
    await assert.rejects(
      loadTlsMaterial({ dataDir: a, hostname: 'mail.test', tlsCert: pa.cert, tlsKey: pb.key }, log),
      /the private key does not match the certificate/,
    );
    const junk = path.join(a, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    await assert.rejects(loadTlsMaterial({ dataDir: a, hostname: 'mail.test', tlsCert: junk, tlsKey: pa.key }, log), /not a PEM certificate/);
  });

  it('refuses to replace a generated certificate whose key went missing, and restarts an interrupted generation', async () => {
    const dataDir = tmp();
    const log = capturingLogger().log;
    const first = await loadTlsMaterial(selfSigned(dataDir), log);
    const paths = generatedTlsPaths(dataDir);
    unlinkSync(paths.key);
    await assert.rejects(loadTlsMaterial(selfSigned(dataDir), log), /cert\.pem exists but .*key\.pem does not/);
    unlinkSync(paths.cert);
    writeFileSync(paths.key, 'half-written');
    const again = await loadTlsMaterial(selfSigned(dataDir), log);
    assert.notEqual(again.fingerprint256, first.fingerprint256);
    assert.equal(await handshake(again, 'localhost', 'tls-server'), again.fingerprint256);
  });
});
