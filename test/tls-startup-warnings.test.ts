// test:pg skip — certificate checks at start
/**
 * One-line startup warnings (issue 19): the default certificate does not
 * cover hostname; it is self-signed while the host has a public address; a
 * pair expires within 14 days. An expired [[tls.certificates]] pair is
 * refused at start, naming its file, and the server still starts.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { type NetworkInterfaceInfo, tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { publicAddress, warnAboutCertificates } from '../src/net/certificate-warnings.js';
import { makePair, presented, writePair } from './helpers/certificates.js';
import { startTestServer } from './helpers/server.js';

const DAY = 86400_000;

/** A logger whose warning messages land in the returned array. */
function capture(): { log: pino.Logger; warnings: string[] } {
  const warnings: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line) warnings.push((JSON.parse(line) as { msg: string }).msg);
  });
  return { log: pino({ level: 'warn' }, stream), warnings };
}

describe('certificate warnings at start', () => {
  test('a server whose default misses hostname and expires in 5 days says so; an expired SNI pair is refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-tls-warn-'));
    const file = (n: string): string => path.join(dir, n);
    writePair(await makePair(['other.test'], { notAfter: new Date(Date.now() + 5 * DAY + 3600_000) }), file('d.crt'), file('d.key'));
    writePair(await makePair(['old.test'], { notBefore: new Date(Date.now() - 9 * DAY), notAfter: new Date(Date.now() - DAY) }), file('o.crt'), file('o.key'));
    let log = '';
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => (log += d.toString()));
    const server = await startTestServer(
      {
        hostname: 'mail.test',
        tlsCert: file('d.crt'),
        tlsKey: file('d.key'),
        tls: { certificates: [{ cert: file('o.crt'), key: file('o.key') }] },
        log: { level: 'warn' },
      },
      stream,
    );
    try {
      assert.match(log, /"msg":"the default TLS certificate does not cover hostname mail\.test; clients will warn"/);
      assert.ok(log.includes(`"msg":"the TLS certificate ${file('d.crt')} expires in 5 days`), log);
      const refusal = log.split('\n').find((l) => l.includes('"msg":"TLS certificate refused"'));
      assert.ok(refusal?.includes(file('o.crt')) && /expired/.test(refusal), log);
      assert.equal(await presented(server.imapsPort, 'old.test'), await presented(server.imapsPort, undefined), 'the refused pair is not served');
    } finally {
      await server.stop();
    }
  });

  test('self-signed while the host has a public address; private, loopback and link-local addresses are not public', async () => {
    const info = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo =>
      family === 'IPv4'
        ? { address, family, internal, netmask: '', mac: '', cidr: null }
        : { address, family, internal, netmask: '', mac: '', cidr: null, scopeid: 0 };
    const privateOnly = {
      lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
      eth0: [info('192.168.1.5', 'IPv4'), info('fe80::1', 'IPv6'), info('fd00::5', 'IPv6'), info('100.64.0.9', 'IPv4')],
    };
    assert.equal(publicAddress(privateOnly), null);
    assert.equal(publicAddress({ ...privateOnly, eth1: [info('2001:db8::25', 'IPv6')] }), '2001:db8::25');

    const server = await startTestServer({ hostname: 'localhost' });
    try {
      const pairs = server.server.certificates.list();
      assert.equal(pairs[0]!.origin, 'self-signed');
      const onPublic = capture();
      warnAboutCertificates(pairs, 'localhost', onPublic.log, Date.now(), '203.0.113.7');
      assert.deepEqual(onPublic.warnings, [
        'the TLS certificate is self-signed while this host has the public address 203.0.113.7; configure tls-cert/tls-key or ACME',
      ]);
      const onPrivate = capture();
      warnAboutCertificates(pairs, 'localhost', onPrivate.log, Date.now(), null);
      assert.deepEqual(onPrivate.warnings, []);
    } finally {
      await server.stop();
    }
  });
});
