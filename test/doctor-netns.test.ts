/**
 * `mailkeep doctor` against real failures, built in a network namespace of
 * its own (helpers/netns.ts): mailkeep servers with a valid, a wrong-name,
 * an expired and a self-signed certificate, one that allows plaintext
 * logins, a port where nothing listens, a port whose packets nftables drops,
 * a port whose connections nftables resets, and an address with no route.
 * Servers and doctor run inside the namespace. Each case must get its own
 * verdict and advice; the healthy server gets all ✓ and exit 0.
 * Skipped (with the reason) where namespaces are unavailable: not root.
 */
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, cleanEnv, mailkeep } from './cli-helpers.js';
import { createNamespace, type Namespace, netnsUnavailable } from './helpers/netns.js';
import { makeTestCerts, type CertFiles, type TestCerts } from './helpers/test-certs.js';

const unavailable = netnsUnavailable();
const PASSWORD = 'correct horse battery staple';
/** Ports inside the namespace (it is empty, so any number is free). */
const PORT = {
  healthy: { imap: 10143, imaps: 10993, pop3: 10110, pop3s: 10995 },
  plaintext: { imap: 11143, pop3: 11110 },
  otherName: 12993,
  expired: 13993,
  selfSigned: 14993,
  nothing: 15993,
  dropped: 16993,
  reset: 17993,
} as const;

// Packets to `dropped` vanish (a firewall's DROP); on `reset` the handshake's final ACK is answered with a TCP reset.
const RULES = `table inet mailkeep_doctor_test {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport ${PORT.dropped} drop
    tcp dport ${PORT.reset} tcp flags & (syn | ack) == ack reject with tcp reset
  }
}
`;

describe('mailkeep doctor: failures built in a network namespace', { skip: unavailable ?? false }, () => {
  let dir: string;
  let certs: TestCerts;
  let ns: Namespace;
  const children: ChildProcess[] = [];

  /** Starts a process in the namespace and waits for `ready` on its stdout. */
  /** Starts a process in the namespace, waits for `ready` on its stdout, and returns what it printed so far. */
  async function startInNs(args: string[], ready: string): Promise<string> {
    const child = ns.spawn(process.execPath, args, cleanEnv());
    children.push(child);
    let output = '';
    return new Promise<string>((resolve, reject) => {
      // Generous: several servers start at once on a shared, busy machine.
      const timer = setTimeout(() => reject(new Error(`not ready: ${args.join(' ')}\n${output}`)), 120_000);
      const seen = (d: Buffer): void => {
        output += d.toString();
        if (output.includes(ready)) {
          clearTimeout(timer);
          // Keep draining (a full pipe would block the child), without keeping the output.
          child.stdout!.off('data', seen);
          child.stdout!.resume();
          resolve(output);
        }
      };
      child.stdout!.on('data', seen);
      child.stderr!.on('data', (d: Buffer) => {
        if (output.length < 65536) output += d.toString();
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
    });
  }

  async function serve(
    name: string,
    cert: CertFiles,
    ports: Partial<Record<'imap' | 'imaps' | 'pop3' | 'pop3s', number>>,
    extra: string[] = [],
  ): Promise<void> {
    const dataDir = path.join(dir, name);
    const added = mailkeep(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], `${PASSWORD}\n`);
    assert.equal(added.status, 0, added.stderr);
    const portArgs = (['imap', 'imaps', 'pop3', 'pop3s'] as const).flatMap((p) => [`--${p}-port`, String(ports[p] ?? 0)]);
    await startInNs(
      [
        BIN,
        'serve',
        '--workers',
        '1',
        '--data-dir',
        dataDir,
        '--host',
        '127.0.0.1',
        '--lmtp-port',
        '0',
        '--http-port',
        '0',
        '--https-port',
        '0',
        '--admin-port',
        '0',
        '--managesieve-port',
        '0',
        '--tls-cert',
        cert.cert,
        '--tls-key',
        cert.key,
        ...portArgs,
        ...extra,
      ],
      'mailkeep started',
    );
  }

  /** Runs the doctor in the namespace; steps get 30 s (a busy machine) unless the test sets --timeout. */
  function doctor(args: string[], password?: string) {
    const login = password === undefined ? [] : ['--user', 'alice', '--password-stdin'];
    if (!args.includes('--timeout')) args = [...args, '--timeout', '30'];
    return ns.run(process.execPath, [BIN, 'doctor', ...args, ...login], password === undefined ? '' : `${password}\n`, cleanEnv());
  }

  let autoconfigDns: string;

  /**
   * An email domain published only by autoconfig: a DNS server (helpers/dns-server.ts) and the
   * clientConfig document on port 80 of autoconfig.auto.test, both inside the namespace.
   */
  async function startAutoconfigDomain(): Promise<string> {
    const xml = `<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="auto.test"><domain>auto.test</domain>
<incomingServer type="imap"><hostname>localhost</hostname><port>${PORT.healthy.imaps}</port><socketType>SSL</socketType><username>%EMAILLOCALPART%</username></incomingServer>
<incomingServer type="pop3"><hostname>localhost</hostname><port>${PORT.healthy.pop3}</port><socketType>STARTTLS</socketType></incomingServer>
</emailProvider></clientConfig>`;
    const script = `import { startDnsServer } from ${JSON.stringify(new URL('./helpers/dns-server.js', import.meta.url).href)};
import { createServer } from 'node:http';
const dns = await startDnsServer({ 'auto.test': {}, 'autoconfig.auto.test': { a: ['127.0.0.1'] }, localhost: { a: ['127.0.0.1'] } });
createServer((req, res) => { res.setHeader('content-type', 'text/xml'); res.end(${JSON.stringify(xml)}); })
  .listen(80, '127.0.0.1', () => console.log('ready ' + dns.address));`;
    const output = await startInNs(['--input-type=module', '-e', script], 'ready ');
    return /ready (\S+)/.exec(output)![1]!;
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-doctor-'));
    certs = await makeTestCerts(dir);
    ns = createNamespace('doctor');
    ns.nft(RULES);
    const plaintextConfig = path.join(dir, 'plaintext.toml');
    // Plaintext logins allowed, and an address refused after its first failed login (for the throttled case).
    writeFileSync(plaintextConfig, '[plaintext-auth]\nallow-insecure = true\n\n[auth-throttle]\nmax-failures-per-ip = 1\n');
    await Promise.all([
      serve('healthy', certs.valid, PORT.healthy),
      serve('plaintext', certs.valid, PORT.plaintext, ['--config', plaintextConfig]),
      serve('other-name', certs.otherName, { imaps: PORT.otherName }),
      serve('expired', certs.expired, { imaps: PORT.expired }),
      serve('self-signed', certs.selfSigned, { imaps: PORT.selfSigned }),
      startAutoconfigDomain().then((address) => (autoconfigDns = address)),
      startInNs(['-e', `require('node:net').createServer(() => {}).listen(${PORT.reset}, '127.0.0.1', () => console.log('listening'))`], 'listening'),
    ]);
  });

  after(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
    ns?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a healthy mailkeep (its CA given with --ca-file): every line ✓, exit 0, the settings to type', async () => {
    const h = PORT.healthy;
    const ports = ['--port', `imaps:${h.imaps}`, '--port', `imap:${h.imap}`, '--port', `pop3s:${h.pop3s}`, '--port', `pop3:${h.pop3}`];
    const r = await doctor(['localhost', ...ports, '--ca-file', certs.ca.cert], PASSWORD);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const marks = r.stdout.split('\n').filter((l) => /^ {2}[✓!✗] /.test(l));
    assert.ok(marks.length >= 30, r.stdout);
    assert.deepEqual(
      marks.filter((l) => !l.startsWith('  ✓')),
      [],
    );
    assert.equal((r.stdout.match(/✓ login as alice: accepted/g) ?? []).length, 4);
    assert.match(r.stdout, /✓ passwords refused before STARTTLS \(LOGINDISABLED\)/);
    assert.match(r.stdout, /✓ passwords refused before STLS/);
    assert.match(r.stdout, /✓ capabilities: IDLE, CONDSTORE, QRESYNC, COMPRESS=DEFLATE/);
    assert.match(
      r.stdout,
      new RegExp(
        `Verdict: everything works. Set up your client with:\\n  Incoming mail \\(IMAP\\): server localhost, port ${h.imaps}, connection security SSL/TLS`,
      ),
    );
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), 'the password is never printed');
  });

  it('an address whose domain publishes autoconfig: its servers and ports are the ones tested', async () => {
    const r = await doctor(['alice@auto.test', '--dns-server', autoconfigDns, '--ca-file', certs.ca.cert], PASSWORD);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `✓ autoconfig: http://autoconfig.auto.test/mail/config-v1.1.xml names localhost:${PORT.healthy.imaps} \\(imaps\\), localhost:${PORT.healthy.pop3} \\(pop3\\)`,
      ),
    );
    assert.match(r.stdout, /✓ testing localhost \(named by the autoconfig at autoconfig.auto.test\) at 127.0.0.1/);
    assert.match(r.stdout, /! SRV: no _imaps\/_imap\/_pop3s\/_pop3 records for auto.test/);
    const titles = r.stdout.split('\n').filter((l) => /^(IMAP|POP3) port/.test(l));
    assert.deepEqual(titles, [`IMAP port ${PORT.healthy.imaps} (SSL/TLS)`, `POP3 port ${PORT.healthy.pop3} (STARTTLS)`]);
  });

  it('a wrong password: its own verdict from AUTHENTICATIONFAILED / [AUTH], exit 1', async () => {
    const r = await doctor(
      ['localhost', '--port', `imaps:${PORT.healthy.imaps}`, '--port', `pop3s:${PORT.healthy.pop3s}`, '--ca-file', certs.ca.cert],
      'not the password',
    );
    assert.equal(r.status, 1, r.stdout);
    assert.equal((r.stdout.match(/✗ login as alice: wrong user name or password/g) ?? []).length, 2, r.stdout);
    assert.match(r.stdout, /→ Check the user name .* and retype the password\./);
    // The ports themselves are fine: the settings come once the password is right.
    assert.match(r.stdout, new RegExp(`Then set up your client with:\\n {2}Incoming mail \\(IMAP\\): server localhost, port ${PORT.healthy.imaps}`));
  });

  it('a server that accepts passwords before STARTTLS/STLS', async () => {
    const p = PORT.plaintext;
    const r = await doctor(['localhost', '--port', `imap:${p.imap}`, '--port', `pop3:${p.pop3}`, '--ca-file', certs.ca.cert]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`✗ port ${p.imap} accepts a password before STARTTLS \\(no LOGINDISABLED\\)\\n    → .*allow-insecure = false`));
    assert.match(r.stdout, new RegExp(`✗ port ${p.pop3} accepts USER/PASS before STLS\\n    → .*disable_plaintext_auth = yes`));
    // STARTTLS itself works: the client settings are still offered.
    assert.match(r.stdout, /These settings work meanwhile:\n {2}Incoming mail \(IMAP\): server localhost, port 11143, connection security STARTTLS/);
  });

  it('a login refused after failed ones: UNAVAILABLE gets its own verdict', async () => {
    const args = ['localhost', '--port', `imap:${PORT.plaintext.imap}`, '--ca-file', certs.ca.cert];
    const first = await doctor(args, 'not the password');
    assert.match(first.stdout, /✗ login as alice: wrong user name or password/);
    const second = await doctor(args, 'not the password');
    assert.equal(second.status, 1, second.stdout);
    assert.match(
      second.stdout,
      /✗ login as alice: refused for now, too many attempts or the server is busy \(server said: Too many failed logins; try again later\)\n {4}→ Wait a few minutes/,
    );
  });

  it('a certificate for another name', async () => {
    const r = await doctor(['localhost', '--port', `imaps:${PORT.otherName}`, '--ca-file', certs.ca.cert], PASSWORD);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /✓ certificate: trusted, issued by mailkeep test CA/);
    assert.match(
      r.stdout,
      /✗ certificate: issued for other.example, not localhost\n {4}→ Clients connecting to localhost will refuse it\. Get a certificate that includes localhost/,
    );
    assert.match(r.stdout, /✗ login as alice: not tried, the certificate is not accepted/);
  });

  it('an expired certificate', async () => {
    const r = await doctor(['localhost', '--port', `imaps:${PORT.expired}`, '--ca-file', certs.ca.cert]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /✗ certificate: expired on \d{4}-\d\d-\d\d \((9|10) days ago\)\n {4}→ Clients will refuse it\. Renew the certificate/);
    assert.match(r.stdout, /✓ certificate: valid for localhost/);
  });

  it('a self-signed certificate, with the fingerprint to compare', async () => {
    const r = await doctor(['localhost', '--port', `imaps:${PORT.selfSigned}`]);
    assert.equal(r.status, 1, r.stdout);
    assert.ok(r.stdout.includes(`✗ certificate: self-signed, not trusted (SHA-256 ${certs.selfSigned.fingerprint256})`), r.stdout);
    assert.match(r.stdout, /→ Clients will warn or refuse\. Install a certificate from a CA/);
  });

  it('a port where nothing listens: refused', async () => {
    const r = await doctor(['localhost', '--port', `imaps:${PORT.nothing}`]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /No port works for a client yet\./);
    assert.match(r.stdout, new RegExp(`✗ TCP connect to 127.0.0.1:${PORT.nothing}: refused\\n {4}→ Nothing listens on port ${PORT.nothing} of localhost`));
  });

  it('a port whose packets a firewall drops: timed out, name the port to open', async () => {
    const started = Date.now();
    const r = await doctor(['localhost', '--port', `imaps:${PORT.dropped}`, '--timeout', '2']);
    assert.equal(r.status, 1, r.stdout);
    assert.match(
      r.stdout,
      new RegExp(
        `✗ TCP connect to port ${PORT.dropped}: timed out after 2 s with no answer\\n {4}→ A firewall between you and localhost drops TCP ${PORT.dropped}\\. Allow outbound TCP ${PORT.dropped}`,
      ),
    );
    assert.ok(Date.now() - started < 60_000, 'bounded by --timeout');
  });

  it('a port whose connections are reset', async () => {
    const r = await doctor(['localhost', '--port', `imaps:${PORT.reset}`, '--timeout', '5']);
    assert.equal(r.status, 1, r.stdout);
    assert.match(
      r.stdout,
      new RegExp(`✗ port ${PORT.reset}: the connection was reset \\(TCP RST\\)[^\\n]*\\n {4}→ Something cuts connections to localhost port ${PORT.reset}`),
    );
  });

  it('an address with no route: network unreachable', async () => {
    // The namespace has only loopback, so nothing leaves it.
    const r = await doctor(['192.0.2.1', '--port', 'imaps:18993']);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /✗ TCP connect to 192.0.2.1:18993: network unreachable \(ENETUNREACH\)\n {4}→ There is no route from this machine to 192.0.2.1/);
  });
});
