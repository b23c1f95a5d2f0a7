/**
 * `mailkeep doctor` against the Dovecot reference (bench/dovecot.ts) on
 * loopback, with TLS from the test CA: it works against any IMAP/POP3
 * server, reads Dovecot's capabilities, plaintext refusal and RFC 5530 /
 * RFC 3206 login answers. Skipped when Dovecot is not installed or not root.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DovecotServer, startDovecot } from '../bench/dovecot.js';
import { mailkeep } from './cli-helpers.js';
import { makeTestCerts, type TestCerts } from './helpers/test-certs.js';

const hasDovecot = spawnSync('dovecot', ['--version']).status === 0;
const skip = !hasDovecot
  ? 'dovecot is not installed (apt-get install -y dovecot-imapd dovecot-pop3d)'
  : process.getuid?.() !== 0
    ? 'Dovecot needs root here'
    : false;

describe('mailkeep doctor against Dovecot', { skip }, () => {
  let dir: string;
  let certs: TestCerts;
  let dovecot: DovecotServer;
  let ports: string[];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-doctor-dovecot-'));
    certs = await makeTestCerts(dir);
    dovecot = await startDovecot({
      maxConnections: 10,
      keep: false,
      pop3: true,
      tls: { cert: certs.valid.cert, key: certs.valid.key },
      tempPrefix: 'doctor-dovecot',
    });
    ports = [
      '--port',
      `imaps:${dovecot.imapsPort}`,
      '--port',
      `imap:${dovecot.port}`,
      '--port',
      `pop3s:${dovecot.pop3sPort}`,
      '--port',
      `pop3:${dovecot.pop3Port}`,
    ];
  });

  after(async () => {
    await dovecot?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every check passes except plaintext exposure, which Dovecot allows from loopback; login and the settings to type', () => {
    const r = mailkeep(['doctor', '127.0.0.1', ...ports, '--ca-file', certs.ca.cert, '--user', dovecot.user, '--password-stdin'], `${dovecot.password}\n`);
    // Dovecot counts a connection whose remote and local addresses are equal as secure, despite
    // disable_plaintext_auth = yes: from here, 143 and 110 really do take a password in clear.
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const problems = r.stdout.split('\n').filter((l) => /^ {2}[!✗] /.test(l));
    assert.deepEqual(problems, [
      `  ✗ port ${dovecot.port} accepts a password before STARTTLS (no LOGINDISABLED)`,
      `  ✗ port ${dovecot.pop3Port} accepts USER/PASS before STLS`,
    ]);
    assert.match(r.stdout, /→ .*Some servers \(Dovecot\) allow this only from the same machine/);
    assert.match(r.stdout, /✓ greeting: \* OK \[CAPABILITY [^\]]*\] Dovecot/);
    assert.equal((r.stdout.match(/✓ login as \S+: accepted/g) ?? []).length, 4, r.stdout);
    assert.match(r.stdout, /✓ capabilities: IDLE, CONDSTORE, QRESYNC/);
    assert.match(
      r.stdout,
      new RegExp(`Verdict: 2 problems found[^\\n]*\\n {2}Incoming mail \\(IMAP\\): server 127.0.0.1, port ${dovecot.imapsPort}, connection security SSL/TLS`),
    );
  });

  it('a wrong password is named as such, from IMAP and POP3', () => {
    const r = mailkeep(
      [
        'doctor',
        '127.0.0.1',
        '--port',
        `imaps:${dovecot.imapsPort}`,
        '--port',
        `pop3:${dovecot.pop3Port}`,
        '--ca-file',
        certs.ca.cert,
        '--user',
        dovecot.user,
        '--password-stdin',
      ],
      'wrong\n',
    );
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal((r.stdout.match(/✗ login as \S+: wrong user name or password/g) ?? []).length, 2, r.stdout);
  });
});
