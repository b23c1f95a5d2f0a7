/**
 * `mailkeep dns <domain>`: the zone-file lines for the configured listeners
 * and submission server, and `--check` against a DNS server run by the test
 * (ok / different / missing per record, exit 1 until all are ok).
 * `mailkeep autoconfig apple`: the profile on stdout, signed with tls-cert and
 * verified with openssl against the test CA; the alias logs in as its account.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cleanEnv, mailkeep } from './cli-helpers.js';
import { type DnsRecords, startDnsServer } from './helpers/dns-server.js';
import { makeTestCerts, type TestCerts } from './helpers/test-certs.js';

/** Runs mailkeep without blocking this process (the DNS server answers from it). */
function run(args: string[]): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out), stderr });
    });
  });
}

const SETTINGS = ['--hostname', 'mail.example.org', '--domains', 'example.org', '--pop3-port', '0', '--submission-host', 'smtp.example.org'];

const EXPECTED = [
  '; Records for example.org: mail clients find mail.example.org by themselves (RFC 6186, RFC 8314).',
  '; Paste into the zone of example.org; "0 0 0 ." tells clients a service is not offered.',
  '_imaps._tcp.example.org.       3600 IN SRV   0 1 993 mail.example.org.',
  '_imap._tcp.example.org.        3600 IN SRV   5 1 143 mail.example.org.',
  '_pop3s._tcp.example.org.       3600 IN SRV   10 1 995 mail.example.org.',
  '_pop3._tcp.example.org.        3600 IN SRV   0 0 0 .',
  '_submissions._tcp.example.org. 3600 IN SRV   0 1 465 smtp.example.org.',
  'autoconfig.example.org.        3600 IN CNAME mail.example.org.',
  'autodiscover.example.org.      3600 IN CNAME mail.example.org.',
];

test('mailkeep dns prints the records for the configured listeners', () => {
  const r = mailkeep(['dns', 'example.org', ...SETTINGS]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n'), EXPECTED);
  // A port change shows at once; STARTTLS submission is _submission on 587.
  const moved = mailkeep(['dns', 'example.org', ...SETTINGS, '--imaps-port', '1993', '--config', writeConfig('[submission]\nsecurity = "starttls"\n')]);
  assert.equal(moved.status, 0, moved.stderr);
  assert.match(moved.stdout, /^_imaps\._tcp\.example\.org\. +3600 IN SRV +0 1 1993 mail\.example\.org\.$/m);
  assert.match(moved.stdout, /^_submission\._tcp\.example\.org\. +3600 IN SRV +0 1 587 smtp\.example\.org\.$/m);
  assert.doesNotMatch(moved.stdout, /_submissions/);
  // ACME on: a CAA record for the hostname names the CA; an unknown CA is a note instead.
  const acme = mailkeep(['dns', 'example.org', ...SETTINGS, '--acme']);
  assert.deepEqual(acme.stdout.trimEnd().split('\n'), [...EXPECTED, 'mail.example.org.              3600 IN CAA   0 issue "letsencrypt.org"']);
  const otherCa = mailkeep(['dns', 'example.org', ...SETTINGS, '--acme', '--acme-directory', 'https://ca.internal.example/directory']);
  assert.match(otherCa.stdout, /^; ACME is on with https:\/\/ca\.internal\.example\/directory: add a CAA record for mail\.example\.org/m);
  assert.doesNotMatch(otherCa.stdout, /IN CAA/);
  const foreign = mailkeep(['dns', 'example.com', ...SETTINGS]);
  assert.equal(foreign.status, 2);
  assert.match(foreign.stderr, /example\.com is not one of domains \(example\.org\)/);
});

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailkeep-cli-dns-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let configs = 0;
function writeConfig(toml: string): string {
  const file = join(dir, `config-${++configs}.toml`);
  writeFileSync(file, toml);
  return file;
}

test('mailkeep dns --check shows what is published: ok, different, missing', async () => {
  const zone: Record<string, DnsRecords> = {
    '_imaps._tcp.example.org': { srv: [{ priority: 0, weight: 1, port: 993, target: 'mail.example.org' }] },
    '_imap._tcp.example.org': { srv: [{ priority: 0, weight: 1, port: 143, target: 'old-mail.example.org' }] },
    '_pop3._tcp.example.org': { srv: [{ priority: 0, weight: 0, port: 0, target: '.' }] },
    'autoconfig.example.org': { cname: ['mail.example.org'] },
  };
  const dns = await startDnsServer(zone);
  try {
    const r = await run(['dns', 'example.org', ...SETTINGS, '--check', '--dns-server', dns.address]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.toString().trimEnd().split('\n');
    const status = (name: string) => lines.find((l) => l.split(/\s+/)[1] === `${name}.`)?.split(/\s+/)[0];
    assert.equal(status('_imaps._tcp.example.org'), 'ok');
    assert.equal(status('_imap._tcp.example.org'), 'different');
    assert.ok(lines.includes('          published: 0 1 143 old-mail.example.org.'), r.stdout.toString());
    assert.equal(status('_pop3._tcp.example.org'), 'ok');
    assert.equal(status('_pop3s._tcp.example.org'), 'missing');
    assert.equal(status('_submissions._tcp.example.org'), 'missing');
    assert.equal(status('autoconfig.example.org'), 'ok');
    assert.equal(status('autodiscover.example.org'), 'missing');
    assert.match(lines.at(-1)!, /^; 4 of 7 records are missing or different/);

    // Publish the rest as printed: everything ok, exit 0.
    zone['_imap._tcp.example.org'] = { srv: [{ priority: 5, weight: 1, port: 143, target: 'mail.example.org' }] };
    zone['_pop3s._tcp.example.org'] = { srv: [{ priority: 10, weight: 1, port: 995, target: 'mail.example.org' }] };
    zone['_submissions._tcp.example.org'] = { srv: [{ priority: 0, weight: 1, port: 465, target: 'smtp.example.org' }] };
    zone['autodiscover.example.org'] = { cname: ['mail.example.org'] };
    zone['mail.example.org'] = { caa: [{ flags: 0, tag: 'issue', value: 'letsencrypt.org' }] };
    await dns.stop();
    const full = await startDnsServer(zone);
    try {
      const ok = await run(['dns', 'example.org', ...SETTINGS, '--acme', '--check', '--dns-server', full.address]);
      assert.match(ok.stdout.toString(), /^ok +mail\.example\.org\. +3600 IN CAA +0 issue "letsencrypt\.org"$/m);
      assert.equal(ok.status, 0, ok.stdout.toString() + ok.stderr);
      assert.match(ok.stdout.toString(), /; Every record is published\.\n$/);
    } finally {
      await full.stop();
    }
  } finally {
    await dns.stop().catch(() => {});
  }
});

let certs: TestCerts;
before(async () => {
  certs = await makeTestCerts(dir);
});

test('mailkeep autoconfig apple writes a profile signed with tls-cert; the alias logs in as its account', async () => {
  const data = join(dir, 'data');
  const store = ['--data-dir', data];
  assert.equal(mailkeep(['user', 'add', 'alice', '--password-stdin', ...store], 'secret-password\n').status, 0);
  assert.equal(mailkeep(['alias', 'add', 'a.liddell@example.org', 'alice', ...store]).status, 0);
  const args = ['autoconfig', 'apple', 'a.liddell@example.org', ...store, '--hostname', 'mail.example.org', '--domains', 'example.org', '--imaps-port', '1993'];
  const signed = await run([...args, '--tls-cert', certs.valid.cert, '--tls-key', certs.valid.key]);
  assert.equal(signed.status, 0, signed.stderr);
  const der = join(dir, 'alice.mobileconfig');
  writeFileSync(der, signed.stdout);
  const plist = execFileSync('openssl', ['smime', '-verify', '-inform', 'DER', '-in', der, '-CAfile', certs.ca.cert, '-purpose', 'any'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  assert.match(plist, /<key>IncomingMailServerUsername<\/key>\s*<string>alice<\/string>/);
  assert.match(plist, /<key>IncomingMailServerPortNumber<\/key>\s*<integer>1993<\/integer>/);
  assert.match(plist, /<key>IncomingMailServerHostName<\/key>\s*<string>mail\.example\.org<\/string>/);
  // Another CA's certificate does not verify: the signature is real.
  const other = await makeTestCerts(mkdtempSync(join(dir, 'other-')));
  assert.throws(() =>
    execFileSync('openssl', ['smime', '-verify', '-inform', 'DER', '-in', der, '-CAfile', other.ca.cert, '-purpose', 'any'], { stdio: 'pipe' }),
  );

  const unsigned = await run(args);
  assert.equal(unsigned.status, 0, unsigned.stderr);
  assert.match(unsigned.stdout.toString(), /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<!DOCTYPE plist/);
  assert.match(unsigned.stderr, /unsigned/);
  const foreign = await run(['autoconfig', 'apple', 'bob@example.com', ...store, '--domains', 'example.org']);
  assert.equal(foreign.status, 2);
});
