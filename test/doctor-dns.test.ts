/**
 * `mailkeep doctor`'s Name section against a DNS server the test runs
 * (helpers/dns-server.ts), reached with --dns-server: SRV found → its host
 * and port; MX only → the mail exchanger; nothing → the domain itself; no
 * address → a failure. The ports probed are free loopback ports where
 * nothing listens, so only the name logic is at stake.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { runDoctor, type DoctorReport } from '../src/doctor/doctor.js';
import { renderText } from '../src/doctor/render.js';
import { mailkeep, startMailkeep } from './cli-helpers.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { freePort } from './helpers/server.js';

let dns: TestDnsServer;
let srvPort: number;
let closedPort: number;

before(async () => {
  srvPort = await freePort();
  closedPort = await freePort();
  dns = await startDnsServer({
    'srv.test': { mx: [{ priority: 10, exchange: 'mx.srv.test' }] },
    '_imaps._tcp.srv.test': { srv: [{ priority: 0, weight: 1, port: srvPort, target: 'imap.srv.test' }] },
    'imap.srv.test': { a: ['127.0.0.1'] },
    'mx.srv.test': { a: ['127.0.0.1'] },
    'mx.test': {
      mx: [
        { priority: 20, exchange: 'backup.mx.test' },
        { priority: 10, exchange: 'primary.mx.test' },
      ],
    },
    'primary.mx.test': { a: ['127.0.0.1'] },
    'plain.test': { a: ['127.0.0.1'] },
    'empty.test': {},
  });
});
after(() => dns.stop());

async function doctor(address: string, ports: number[] | null): Promise<DoctorReport> {
  const domain = address.slice(address.indexOf('@') + 1);
  return runDoctor({
    target: { kind: 'address', address, domain },
    ports: ports?.map((port) => ({ proto: 'imaps' as const, port })) ?? null,
    credentials: null,
    ca: null,
    dnsServer: dns.address,
    timeoutMs: 10_000,
  });
}

const nameLines = (r: DoctorReport): string => r.sections[0]!.checks.map((c) => `${c.status} ${c.text}`).join('\n');

describe('mailkeep doctor: Name', () => {
  it('follows the SRV record to its host and port, ahead of the MX', async () => {
    const r = await doctor('alice@srv.test', null);
    assert.equal(r.host, 'imap.srv.test');
    assert.match(nameLines(r), new RegExp(`ok SRV: _imaps._tcp.srv.test → imap.srv.test:${srvPort}`));
    assert.match(nameLines(r), /ok testing imap.srv.test \(from the SRV record _imaps._tcp.srv.test\) at 127.0.0.1/);
    assert.match(nameLines(r), /warn autoconfig: none at autoconfig.srv.test/);
    // The port the SRV record names is the one probed (nothing listens there).
    assert.deepEqual(
      r.sections.slice(1).map((s) => s.title),
      [`IMAP port ${srvPort} (SSL/TLS)`],
    );
    assert.ok(dns.queries.includes('_imaps._tcp.srv.test') && dns.queries.includes('autoconfig.srv.test'));
  });

  it('falls back to the MX with the best priority', async () => {
    const r = await doctor('bob@mx.test', [closedPort]);
    assert.equal(r.host, 'primary.mx.test');
    assert.match(nameLines(r), /warn SRV: no _imaps\/_imap\/_pop3s\/_pop3 records for mx.test/);
    assert.match(nameLines(r), /ok testing primary.mx.test \(the mail exchanger \(MX\) of mx.test/);
  });

  it('tests the domain itself when nothing is published', async () => {
    const r = await doctor('carol@plain.test', [closedPort]);
    assert.equal(r.host, 'plain.test');
    assert.match(nameLines(r), /ok testing plain.test \(no autoconfig, SRV or MX for plain.test, so the domain itself\) at 127.0.0.1/);
    assert.match(renderText(r), new RegExp(`✗ TCP connect to 127.0.0.1:${closedPort}: refused`));
  });

  it('fails when the host has no address, and probes nothing', async () => {
    const r = await doctor('dave@empty.test', [closedPort]);
    assert.match(nameLines(r), /fail empty.test: no address \(no A or AAAA record\)/);
    assert.equal(r.sections.length, 1);
    assert.ok(r.failures >= 1);
  });

  it('the command line: --dns-server, --json and the exit status', async () => {
    // Asynchronously: the DNS server answers from this process's event loop.
    const child = startMailkeep(['doctor', 'carol@plain.test', '--dns-server', dns.address, '--port', `imaps:${closedPort}`, '--json', '--timeout', '3']);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const [status] = (await once(child, 'close')) as [number];
    assert.equal(status, 1);
    const report = JSON.parse(stdout) as DoctorReport;
    assert.equal(report.host, 'plain.test');
    assert.equal(report.sections[1]!.checks[0]!.status, 'fail');
  });

  it('usage errors exit 2', () => {
    for (const args of [
      ['doctor', 'plain.test', '--port', 'smtp:25'],
      ['doctor', 'plain.test', '--port', 'imaps:70000'],
      ['doctor', 'plain.test', '--dns-server', 'not-an-ip'],
      ['doctor', 'plain.test', '--user', 'alice'],
      ['doctor', 'plain.test', '--timeout', '0'],
      ['doctor', 'bad host!'],
      ['doctor', 'plain.test', '--ca-file', '/nonexistent/ca.pem'],
    ]) {
      assert.equal(mailkeep(args).status, 2, args.join(' '));
    }
  });
});
