/**
 * Real clients authenticate with SCRAM (issue 22): mbsync through Cyrus
 * SASL's SCRAM plugin (Debian libsasl2-modules) with `AuthMechs
 * SCRAM-SHA-256`, for an account made by `mailkeep user add`; python3
 * imaplib and poplib with a hand-written SCRAM-SHA-256-PLUS client binding
 * to `tls-server-end-point` (RFC 5929 §4: Python's ssl has no TLS exporter,
 * but gives the server's certificate). The Node client with `tls-exporter`
 * is test/auth-scram.test.ts's. Skipped with a message when a client is
 * missing.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { mailkeepOn } from './cli-helpers.js';
import { hasMbsync, runMbsync } from './helpers/mbsync.js';
import { deliver } from './helpers/pop3-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
const hasPython = spawnSync('python3', ['--version']).status === 0;
const SCRAM_PLUGIN = '/usr/lib/x86_64-linux-gnu/sasl2/libscram.so';
const hasScramPlugin = existsSync(SCRAM_PLUGIN);

let srv: TestServer;
let dir: string;

before(async () => {
  srv = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'mailkeep-scram-'));
  mkdirSync(join(dir, 'mail'));
  // As an administrator would: the CLI derives the SCRAM keys with the password hash.
  for (const [name, pw] of [
    ['mb', 'sync pass'],
    ['py', 'pÿthon'],
  ]) {
    const r = await mailkeepOn(srv, ['user', 'add', name!, '--password-stdin'], `${pw}\n`);
    assert.equal(r.status, 0, r.stderr);
  }
});
after(async () => {
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('mbsync with AuthMechs SCRAM-SHA-256 (Cyrus SASL) syncs an account made by mailkeep user add', {
  skip: !hasMbsync ? 'mbsync (isync) not installed' : !hasScramPlugin ? `${SCRAM_PLUGIN} missing (libsasl2-modules)` : false,
}, async () => {
  await deliver(srv.server.store, 'mb', ['Subject: over SCRAM\r\n\r\nhello\r\n']);
  // -Dn: the network trace shows the mechanism mbsync chose.
  const out = await runMbsync(srv, dir, { user: 'mb', pass: 'sync pass', authMechs: 'SCRAM-SHA-256' }, ['-Dn']);
  assert.match(out, /AUTHENTICATE SCRAM-SHA-256( |\r?\n)/);
  assert.doesNotMatch(out, /AUTHENTICATE (PLAIN|LOGIN)/);
  const inbox = spawnSync('sh', ['-c', `cat ${join(dir, 'mail', 'INBOX')}/*/*`], { encoding: 'utf8' }).stdout;
  assert.match(inbox, /Subject: over SCRAM/);
  // A wrong password fails, through the same SASL path.
  await assert.rejects(runMbsync(srv, dir, { user: 'mb', pass: 'not it', authMechs: 'SCRAM-SHA-256' }), /mbsync failed/);
});

/** A SCRAM-SHA-256-PLUS client over tls-server-end-point for imaplib (as an authobject) and poplib (by hand). */
const PYTHON = `
import base64, hashlib, hmac, imaplib, os, poplib, ssl, sys, unicodedata

proto, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

class Scram:
    def __init__(self, cert_der):
        # RFC 5929 §4.1: the certificate's signature hash (SHA-256 for the test certificate).
        self.cbind = hashlib.sha256(cert_der).digest()
        self.gs2 = b'p=tls-server-end-point,,'
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.bare = 'n=%s,r=%s' % (user.replace('=', '=3D').replace(',', '=2C'), self.nonce)
        self.state = 0
        self.verified = False

    def step(self, challenge):
        if self.state == 0:
            self.state = 1
            return self.gs2 + self.bare.encode()
        if self.state == 1:
            self.state = 2
            server_first = challenge.decode()
            attrs = dict(f.split('=', 1) for f in server_first.split(','))
            assert attrs['r'].startswith(self.nonce)
            salted = hashlib.pbkdf2_hmac('sha256', unicodedata.normalize('NFKC', password).encode(), base64.b64decode(attrs['s']), int(attrs['i']))
            without_proof = 'c=%s,r=%s' % (base64.b64encode(self.gs2 + self.cbind).decode(), attrs['r'])
            auth = ','.join([self.bare, server_first, without_proof]).encode()
            client_key = hmac.digest(salted, b'Client Key', 'sha256')
            signature = hmac.digest(hashlib.sha256(client_key).digest(), auth, 'sha256')
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            self.server_signature = hmac.digest(hmac.digest(salted, b'Server Key', 'sha256'), auth, 'sha256')
            return ('%s,p=%s' % (without_proof, base64.b64encode(proof).decode())).encode()
        self.verified = challenge.decode() == 'v=' + base64.b64encode(self.server_signature).decode()
        return b'' if self.verified else None

if proto == 'imap':
    m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
    assert 'AUTH=SCRAM-SHA-256-PLUS' in m.capabilities, m.capabilities
    scram = Scram(m.sock.getpeercert(binary_form=True))
    typ, data = m.authenticate('SCRAM-SHA-256-PLUS', scram.step)
    print(typ, scram.verified)
    typ, data = m.select('INBOX')
    print('select', typ, data[0].decode())
    m.logout()
else:
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx)
    assert 'SCRAM-SHA-256-PLUS' in p.capa()['SASL'], p.capa()
    scram = Scram(p.sock.getpeercert(binary_form=True))
    challenge = p._shortcmd('AUTH SCRAM-SHA-256-PLUS ' + base64.b64encode(scram.step(b'')).decode())
    challenge = p._shortcmd(base64.b64encode(scram.step(base64.b64decode(challenge[2:]))).decode())
    scram.step(base64.b64decode(challenge[2:]))
    print(p._shortcmd('').decode(), scram.verified)
    print('stat', p.stat())
    p.quit()
`;

test('python3 imaplib: SCRAM-SHA-256-PLUS with tls-server-end-point', { skip: hasPython ? false : 'python3 not installed' }, async () => {
  const { stdout } = await run('python3', ['-c', PYTHON, 'imap', String(srv.imapsPort), 'py', 'pÿthon'], { timeout: 30_000 });
  assert.match(stdout, /^OK True\nselect OK \d+\n$/);
});

test('python3 poplib: SCRAM-SHA-256-PLUS with tls-server-end-point', { skip: hasPython ? false : 'python3 not installed' }, async () => {
  const { stdout } = await run('python3', ['-c', PYTHON, 'pop3', String(srv.pop3sPort), 'py', 'pÿthon'], { timeout: 30_000 });
  assert.match(stdout, /^\+OK Logged in True\nstat \(0, 0\)\n$/);
});

test('mailkeep user passwd derives new SCRAM keys: the new password works at once, the old one no more', {
  skip: hasPython ? false : 'python3 not installed',
}, async () => {
  const r = await mailkeepOn(srv, ['user', 'passwd', 'py', '--password-stdin'], 'n3w pässword\n');
  assert.equal(r.status, 0, r.stderr);
  const { stdout } = await run('python3', ['-c', PYTHON, 'imap', String(srv.imapsPort), 'py', 'n3w pässword'], { timeout: 30_000 });
  assert.match(stdout, /^OK True\n/);
  await assert.rejects(run('python3', ['-c', PYTHON, 'imap', String(srv.imapsPort), 'py', 'pÿthon'], { timeout: 30_000 }), /AUTHENTICATIONFAILED/);
});
