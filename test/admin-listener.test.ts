/**
 * The admin listener and its tokens: beyond loopback only with TLS (the mail
 * ports' certificates), admin-port 0 disables it, failed token checks are
 * throttled like failed logins of the address, and `mailkeep admin token
 * add|list|revoke` makes tokens the running server accepts at once.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { describe, test } from 'node:test';
import { totpCode } from '../src/auth/totp.js';
import { configSchema } from '../src/config/schema.js';
import { addToken, callApi } from './helpers/admin-api.js';
import { mailkeep } from './cli-helpers.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer } from './helpers/server.js';

/** GET over HTTPS without verifying the (self-signed) certificate; resolves to status and the certificate's fingerprint. */
function httpsGet(port: number, path: string, token: string): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 20_000 }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? '';
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

function tlsFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('admin listener', () => {
  test('a non-loopback admin-host without admin-tls is refused with a clear message; loopback names and port 0 are fine', () => {
    const refused = configSchema.safeParse({ adminHost: '0.0.0.0' });
    assert.equal(refused.success, false);
    assert.match(refused.error!.issues[0]!.message, /admin-tls = true/);
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) assert.ok(configSchema.safeParse({ adminHost: host }).success, host);
    assert.ok(configSchema.safeParse({ adminHost: '0.0.0.0', adminPort: 0 }).success);
    assert.ok(configSchema.safeParse({ adminHost: '0.0.0.0', adminTls: true }).success);
    const r = mailkeep(['serve', '--admin-host', '0.0.0.0', '--imap-port', '0', '--log-level', 'silent']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /admin-host.*admin-tls = true/s);
  });

  test('admin-port 0 starts no admin listener', async () => {
    const srv = await startTestServer();
    try {
      assert.equal(srv.server.admin, null);
      assert.equal(srv.server.ports.admin, undefined);
    } finally {
      await srv.stop();
    }
  });

  test('with admin-tls the API is served over TLS with the mail ports’ certificate, and not in clear text', async () => {
    const srv = await startTestServer({ adminPort: await freePort(), adminTls: true });
    try {
      const token = await addToken(srv.server.store, 'tls');
      const port = srv.server.ports.admin!;
      const res = await httpsGet(port, '/api/v1/server', token);
      assert.equal(res.status, 200);
      assert.equal(res.fingerprint, await tlsFingerprint(srv.imapsPort));
      await assert.rejects(callApi(port, 'GET', '/api/v1/server', { token }));
    } finally {
      await srv.stop();
    }
  });

  test('failed token checks are throttled per address like failed logins, then allowed again after the window', async () => {
    const srv = await startTestServer({
      adminPort: await freePort(),
      authThrottle: { maxFailuresPerIp: 3, freeFailures: 1, baseDelayMs: 300, maxDelayMs: 300, windowSeconds: 3 },
    });
    try {
      await srv.addUser('tom', 'pw-tom');
      const token = await addToken(srv.server.store, 'ops');
      const port = srv.server.ports.admin!;
      const started = Date.now();
      for (let i = 0; i < 3; i++) assert.equal((await callApi(port, 'GET', '/api/v1/server', { token: `mk_wrong${i}` })).status, 401);
      // Failures beyond the free one wait in the tarpit (300 ms each).
      assert.ok(Date.now() - started >= 600, `${Date.now() - started} ms`);
      const throttled = await callApi(port, 'GET', '/api/v1/server', { token });
      assert.equal(throttled.status, 429);
      assert.equal(throttled.body.error, 'throttled');
      // The same address's IMAP logins are refused too: one budget per address.
      await assert.rejects(RawClient.login(srv.imapsPort, 'tom', 'pw-tom'), /UNAVAILABLE/);
      await new Promise((r) => setTimeout(r, 3500));
      assert.equal((await callApi(port, 'GET', '/api/v1/server', { token })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('`mailkeep admin token add|list|revoke`: the token is printed once, works at once, and stops working when revoked', async () => {
    const srv = await startTestServer({ adminPort: await freePort() });
    try {
      const port = srv.server.ports.admin!;
      const where = ['--data-dir', srv.dataDir, ...(srv.config.store.url ? ['--store', srv.config.store.url] : [])];
      const added = mailkeep(['admin', 'token', 'add', '--name', 'deploy', '--expires', '90d', ...where]);
      assert.equal(added.status, 0, added.stderr);
      const token = added.stdout.trim();
      assert.match(token, /^mk_[A-Za-z0-9_-]{43}$/);
      assert.match(added.stderr, /shown only now/);
      assert.equal((await callApi(port, 'GET', '/api/v1/server', { token })).status, 200);

      assert.equal(mailkeep(['admin', 'token', 'add', '--name', 'deploy', ...where]).status, 1);
      assert.equal(mailkeep(['admin', 'token', 'add', '--name', 'bad name', ...where]).status, 2);
      assert.equal(mailkeep(['admin', 'token', 'add', '--name', 'x', '--expires', 'yesterday', ...where]).status, 2);
      const listed = mailkeep(['admin', 'token', 'list', '--json', ...where]);
      assert.equal(listed.status, 0, listed.stderr);
      const tokens = JSON.parse(listed.stdout) as Array<{ name: string; expires: string; expired: boolean }>;
      assert.deepEqual(
        tokens.map((t) => t.name),
        ['deploy'],
      );
      const days = (Date.parse(tokens[0]!.expires) - Date.now()) / 86_400_000;
      assert.ok(days > 89.9 && days <= 90, String(days));
      assert.ok(!listed.stdout.includes(token), 'the token itself is never listed');

      assert.equal(mailkeep(['admin', 'token', 'revoke', 'deploy', ...where]).status, 0);
      assert.equal(mailkeep(['admin', 'token', 'revoke', 'deploy', ...where]).status, 1);
      assert.equal((await callApi(port, 'GET', '/api/v1/server', { token })).status, 401);
      // The CLI's changes are audited as the operating-system user, from this machine.
      const audit = await srv.server.store.auditPage(null, 10);
      assert.deepEqual(
        audit.map((e) => `${e.action} ${e.target} ${e.outcome} ${e.address}`),
        [
          'token.revoke deploy not-found local',
          'token.revoke deploy ok local',
          'token.add bad name invalid local',
          'token.add deploy exists local',
          'token.add deploy ok local',
        ],
      );
      assert.match(audit[0]!.actor, /^cli:/);
    } finally {
      await srv.stop();
    }
  });

  test('`mailkeep admin user add` prints the TOTP enrolment (otpauth URI and terminal QR code) once; the account signs in with it', async () => {
    const srv = await startTestServer({ adminPort: await freePort(), hostname: 'mail.example.test' });
    try {
      const where = ['--data-dir', srv.dataDir, '--hostname', 'mail.example.test', ...(srv.config.store.url ? ['--store', srv.config.store.url] : [])];
      const added = mailkeep(['admin', 'user', 'add', 'root', '--password-stdin', ...where], 'pw-root\n');
      assert.equal(added.status, 0, added.stderr);
      const uri = /otpauth:\/\/totp\/\S+/.exec(added.stdout)?.[0];
      assert.ok(uri, added.stdout);
      const url = new URL(uri);
      assert.equal(decodeURIComponent(url.pathname), '/mailkeep mail.example.test:root');
      const secret = url.searchParams.get('secret')!;
      assert.match(secret, /^[A-Z2-7]{32}$/);
      // The QR code is drawn with block characters.
      assert.ok((added.stdout.match(/[▀▄█]/g) ?? []).length > 100);
      assert.equal(mailkeep(['admin', 'user', 'add', 'root', '--password-stdin', ...where], 'other\n').status, 1);
      assert.equal((await srv.server.store.findAdminUser('root'))?.totpSecret, secret);
      // Mail accounts and admin accounts are apart.
      assert.equal(await srv.server.store.findAccount('root'), null);
      const base = `http://127.0.0.1:${srv.server.ports.admin}`;
      const signIn = await fetch(`${base}/admin/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
        body: new URLSearchParams({ name: 'root', password: 'pw-root', code: totpCode(secret) }),
        redirect: 'manual',
      });
      assert.equal(signIn.status, 303);
      assert.equal(signIn.headers.get('location'), '/admin/');
      assert.match(signIn.headers.get('set-cookie') ?? '', /mailkeep_admin=.*HttpOnly.*SameSite=Strict/i);
    } finally {
      await srv.stop();
    }
  });
});
