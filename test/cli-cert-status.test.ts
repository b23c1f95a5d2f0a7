/**
 * `mailkeep cert status` (issue 19) on a data dir with a default pair
 * (tls-cert/tls-key), a [[tls.certificates]] pair and an ACME pair with
 * tls/acme/state.json: text and --json list each with names, issuer, expiry,
 * source, SHA-256 fingerprint, and ACME's next renewal and last error.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { mailkeep } from './cli-helpers.js';
import { fingerprintOf, makePair, writePair } from './helpers/certificates.js';

interface Reported {
  default: boolean;
  source: string;
  names: string[];
  issuer: string;
  notAfter: string;
  fingerprint256: string;
  acme: { renewAt: string | null; lastSuccess: string | null; lastError: { type: string; detail: string; status: number | null } | null } | null;
}

describe('mailkeep cert status', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-cert-status-'));
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'mailkeep.toml');
  const fingerprints: Record<string, string> = {};
  const rateLimited = {
    time: '2026-12-01T10:00:00.000Z',
    type: 'urn:ietf:params:acme:error:rateLimited',
    detail: 'too many certificates already issued',
    status: 429,
  };

  before(async () => {
    const pairs = { main: await makePair(['mail.test']), other: await makePair(['other.test', '*.other.test']), acme: await makePair(['acme.test']) };
    writePair(pairs.main, path.join(dir, 'main.crt'), path.join(dir, 'main.key'));
    writePair(pairs.other, path.join(dir, 'other.crt'), path.join(dir, 'other.key'));
    const acmeDir = path.join(dataDir, 'tls', 'acme', 'certs', 'acme.test');
    mkdirSync(acmeDir, { recursive: true });
    writePair(pairs.acme, path.join(acmeDir, 'cert.pem'), path.join(acmeDir, 'key.pem'));
    writeFileSync(
      path.join(dataDir, 'tls', 'acme', 'state.json'),
      JSON.stringify({
        certificates: {
          'acme.test': {
            names: ['acme.test'],
            notAfter: '2027-03-01T00:00:00.000Z',
            renewAt: '2027-01-30T00:00:00.000Z',
            lastSuccess: null,
            lastError: rateLimited,
          },
        },
      }),
    );
    // Paths relative to the config file, as an operator writes them.
    writeFileSync(
      configFile,
      [
        'hostname = "mail.test"',
        'data-dir = "data"',
        'tls-cert = "main.crt"',
        'tls-key = "main.key"',
        '[[tls.certificates]]',
        'cert = "other.crt"',
        'key = "other.key"',
        '',
      ].join('\n'),
    );
    for (const [name, pair] of Object.entries(pairs)) fingerprints[name] = await fingerprintOf(pair);
  });

  test('--json lists the default, the SNI pair and the ACME pair with its renewal and last error', () => {
    const r = mailkeep(['cert', 'status', '--config', configFile, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const { certificates } = JSON.parse(r.stdout) as { certificates: Reported[] };
    assert.deepEqual(
      certificates.map((c) => [c.source, c.default, c.names, c.fingerprint256]),
      [
        ['file', true, ['mail.test'], fingerprints.main],
        ['file', false, ['other.test', '*.other.test'], fingerprints.other],
        ['acme', false, ['acme.test'], fingerprints.acme],
      ],
    );
    const acme = certificates[2]!;
    assert.match(acme.issuer, /CN=acme\.test/);
    assert.ok(Date.parse(acme.notAfter) > Date.now());
    assert.deepEqual(acme.acme, { renewAt: '2027-01-30T00:00:00.000Z', lastSuccess: null, lastError: rateLimited });
    assert.equal(certificates[0]!.acme, null);
  });

  test('the text form says the same, and "none yet" where ACME knows nothing', () => {
    const r = mailkeep(['cert', 'status', '--config', configFile]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^mail\.test \(default\)\n {2}source: +file\n/);
    assert.ok(r.stdout.includes(fingerprints.other!));
    assert.match(r.stdout, /next renewal: 2027-01-30T00:00:00.000Z/);
    assert.match(r.stdout, /last success: none yet/);
    assert.match(r.stdout, /last ACME error: .*rateLimited \(HTTP 429\): too many certificates already issued/);
  });

  test('no state.json: "none yet"; no self-signed pair yet: said so; an unreadable pair: named, exit status 1', async () => {
    const acmeDir = path.join(dir, 'empty', 'tls', 'acme', 'certs', 'new.test');
    mkdirSync(acmeDir, { recursive: true });
    writePair(await makePair(['new.test']), path.join(acmeDir, 'cert.pem'), path.join(acmeDir, 'key.pem'));
    const broken = path.join(dir, 'broken.toml');
    writeFileSync(
      broken,
      ['hostname = "mail.test"', `data-dir = "${path.join(dir, 'empty')}"`, '[[tls.certificates]]', 'cert = "missing.crt"', 'key = "other.key"', ''].join('\n'),
    );
    const r = mailkeep(['cert', 'status', '--config', broken]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /self-signed, not generated yet/);
    assert.match(r.stdout, /^new\.test\n {2}source: +acme\n(.*\n)* {2}next renewal: none yet\n {2}last success: none yet\n {2}last ACME error: none yet\n/m);
    assert.match(r.stdout, /refused: cannot read tls\.certificates\[0\] certificate file .*missing\.crt: ENOENT/);
  });
});
