// test:pg skip — TLS versions and cipher suites of the listeners
/**
 * TLS policy (issue 19, RFC 8996, RFC 9325): with OpenSSL's own client allowed
 * everything (`DEFAULT@SECLEVEL=0`, so its refusal cannot be mistaken for the
 * server's), TLS 1.0 and 1.1 and a CBC/SHA-1 suite on 1.2 are refused; 1.2
 * with an intermediate suite and 1.3 are accepted; `[tls] min-version = "1.3"`
 * refuses 1.2.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Runs `openssl s_client` against a port with `args`; resolves with the negotiated protocol and cipher, or null when refused. */
function sClient(port: number, args: string[]): Promise<{ protocol: string; cipher: string } | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    const timer = setTimeout(() => child.kill(), 20_000);
    child.stdin.end('a LOGOUT\r\n');
    child.on('close', () => {
      clearTimeout(timer);
      const cipher = /Cipher is (\S+)/.exec(out)?.[1];
      const protocol = /Protocol\s*:\s*(\S+)/.exec(out)?.[1] ?? /New, (TLSv[\d.]+),/.exec(out)?.[1];
      resolve(cipher && cipher !== '(NONE)' && protocol ? { protocol, cipher } : null);
    });
  });
}

const ANY = ['-cipher', 'DEFAULT@SECLEVEL=0'];

describe('TLS versions and cipher suites', () => {
  let server: TestServer;
  let strict: TestServer;

  before(async () => {
    server = await startTestServer({ hostname: 'localhost' });
    strict = await startTestServer({ hostname: 'localhost', tls: { minVersion: '1.3' } });
  });

  after(async () => {
    await server.stop();
    await strict.stop();
  });

  test('TLS 1.0 and 1.1 are refused, whatever the client allows', async () => {
    assert.equal(await sClient(server.imapsPort, ['-tls1', ...ANY]), null);
    assert.equal(await sClient(server.imapsPort, ['-tls1_1', ...ANY]), null);
  });

  test('TLS 1.2 with an intermediate suite and TLS 1.3 are accepted', async () => {
    assert.deepEqual(await sClient(server.imapsPort, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']), {
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    });
    assert.deepEqual(await sClient(server.imapsPort, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305']), {
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-ECDSA-CHACHA20-POLY1305',
    });
    assert.equal((await sClient(server.imapsPort, ['-tls1_3']))?.protocol, 'TLSv1.3');
  });

  test('CBC, SHA-1 and CCM8 suites on TLS 1.2 are refused', async () => {
    for (const suite of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-CCM8']) {
      assert.equal(await sClient(server.imapsPort, ['-tls1_2', '-cipher', `${suite}@SECLEVEL=0`]), null, suite);
    }
  });

  test('the same on 143 after STARTTLS, 995, and 110 after STLS', async () => {
    for (const [port, upgrade] of [
      [server.imapPort, ['-starttls', 'imap']],
      [server.pop3sPort, []],
      [server.pop3Port, ['-starttls', 'pop3']],
    ] as const) {
      assert.equal(await sClient(port, [...upgrade, '-tls1_1', ...ANY]), null, `${upgrade.join(' ')} TLS 1.1`);
      assert.equal(await sClient(port, [...upgrade, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA@SECLEVEL=0']), null, `${upgrade.join(' ')} CBC-SHA1`);
      assert.equal((await sClient(port, [...upgrade, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384']))?.cipher, 'ECDHE-ECDSA-AES256-GCM-SHA384');
    }
  });

  test('min-version = "1.3" refuses TLS 1.2', async () => {
    assert.equal(await sClient(strict.imapsPort, ['-tls1_2', ...ANY]), null);
    assert.equal((await sClient(strict.imapsPort, ['-tls1_3']))?.protocol, 'TLSv1.3');
  });
});
