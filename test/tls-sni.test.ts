// test:pg skip — certificate selection by server name
/**
 * SNI (RFC 6066 §3, issue 19): a default pair (tls-cert/tls-key) and
 * [[tls.certificates]] pairs, on IMAP 993, IMAP 143 after STARTTLS, POP3 995
 * and POP3 110 after STLS: each client's server name gets its certificate
 * (exact name, then one-label wildcard, RFC 6125 §6.4.3); an unknown name or
 * no name gets the default.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fingerprintOf, IMAP_STARTTLS, makePair, POP3_STLS, presented, type Upgrade, writePair } from './helpers/certificates.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('SNI: several certificates on every TLS endpoint', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-sni-'));
  const file = (name: string): string => path.join(dir, name);
  let server: TestServer;
  const expected: Record<string, string> = {};

  before(async () => {
    const pairs = {
      default: await makePair(['mail.test']),
      alpha: await makePair(['alpha.test']),
      beta: await makePair(['beta.test', 'imap.beta.test']),
      wild: await makePair(['*.wild.test']),
      exact: await makePair(['exact.wild.test']),
    };
    for (const [name, pair] of Object.entries(pairs)) {
      writePair(pair, file(`${name}.crt`), file(`${name}.key`));
      expected[name] = await fingerprintOf(pair);
    }
    server = await startTestServer({
      hostname: 'mail.test',
      tlsCert: file('default.crt'),
      tlsKey: file('default.key'),
      // The wildcard comes before the exact name: the exact name still wins.
      tls: { certificates: ['alpha', 'beta', 'wild', 'exact'].map((n) => ({ cert: file(`${n}.crt`), key: file(`${n}.key`) })) },
    });
  });

  after(async () => {
    await server.stop();
  });

  const endpoints: Array<[string, () => number, Upgrade]> = [
    ['IMAP 993', () => server.imapsPort, null],
    ['IMAP 143 after STARTTLS', () => server.imapPort, IMAP_STARTTLS],
    ['POP3 995', () => server.pop3sPort, null],
    ['POP3 110 after STLS', () => server.pop3Port, POP3_STLS],
  ];
  for (const [label, port, upgrade] of endpoints) {
    test(`${label}: each name gets its certificate, others the default`, async () => {
      assert.equal(await presented(port(), 'alpha.test', upgrade), expected.alpha, 'alpha.test');
      assert.equal(await presented(port(), 'beta.test', upgrade), expected.beta, 'beta.test');
      assert.equal(await presented(port(), 'IMAP.Beta.Test', upgrade), expected.beta, 'a second name, in another case');
      assert.equal(await presented(port(), 'mail.test', upgrade), expected.default, 'the default by its name');
      assert.equal(await presented(port(), 'unknown.test', upgrade), expected.default, 'an unknown name');
      assert.equal(await presented(port(), undefined, upgrade), expected.default, 'no name');
    });
  }

  test('wildcards cover one label only, and an exact name beats a wildcard', async () => {
    const port = server.imapsPort;
    assert.equal(await presented(port, 'x.wild.test'), expected.wild);
    assert.equal(await presented(port, 'exact.wild.test'), expected.exact);
    assert.equal(await presented(port, 'a.b.wild.test'), expected.default, 'two labels');
    assert.equal(await presented(port, 'wild.test'), expected.default, 'no label');
  });
});
