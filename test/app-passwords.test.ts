/**
 * App passwords, require-app-passwords and the scrypt → argon2id upgrade
 * (issue 22), over real sockets on both stores: `mailkeep user app-password`
 * in another process creates, lists and revokes; the server accepts an app
 * password on the protocols it names until it expires or is revoked, records
 * its last use, and ends live sessions (IMAP BYE even in IDLE) when it is
 * revoked, expires, or the account starts requiring app passwords.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { APP_PASSWORD_LIMITS, asAppPassword, generateAppPassword } from '../src/auth/app-passwords.js';
import { DEFAULT_HASHING, hashPassword } from '../src/auth/password.js';
import { BIN, cleanEnv } from './cli-helpers.js';
import { waitUntil } from './helpers/eventually.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
before(async () => {
  // Refused attempts here are deliberate: no tarpit, so the file stays fast.
  srv = await startTestServer({ authThrottle: { freeFailures: 1000, baseDelayMs: 0 } });
  for (const name of ['ada', 'bo', 'cy', 'di']) await srv.addUser(name, `pw-${name}`);
});
after(async () => srv.stop());

/** Runs the CLI on the server's store, asynchronously (the server in this process keeps answering). */
function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const store = srv.config.store.url ? ['--store', srv.config.store.url] : [];
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, '--data-dir', srv.dataDir, ...store], { env: cleanEnv(), timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** `user app-password add`: the printed password. */
async function addAppPassword(user: string, ...args: string[]): Promise<string> {
  const r = await cli('user', 'app-password', 'add', user, ...args);
  assert.equal(r.status, 0, r.stderr);
  const m = /^ {4}([a-z2-9]{4}(?:-[a-z2-9]{4}){3})$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  return m[1]!;
}

interface Listed {
  name: string;
  state: string;
  protocols: string[];
  expires: string | null;
  lastUsed: { at: string; protocol: string; address: string } | null;
}

async function listJson(user: string): Promise<Listed[]> {
  const r = await cli('user', 'app-password', 'list', user, '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Listed[];
}

async function imapLogin(user: string, password: string): Promise<string> {
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  try {
    return (await client.command('l', `LOGIN ${user} "${password}"`, 20_000)).tagged;
  } finally {
    client.close();
  }
}

async function pop3Login(user: string, password: string): Promise<string> {
  const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
  try {
    await client.command(`USER ${user}`);
    return await client.command(`PASS ${password}`, 20_000);
  } finally {
    client.close();
  }
}

/** An IMAP session logged in with `password`, idling in INBOX. */
async function idling(user: string, password: string): Promise<RawClient> {
  const client = await RawClient.login(srv.imapsPort, user, password);
  assert.match((await client.command('s', 'SELECT INBOX', 20_000)).tagged, /^s OK/);
  client.send('i IDLE\r\n');
  assert.match(await client.readLine(20_000), /^\+ /);
  return client;
}

describe('app passwords', () => {
  test('created by the CLI, accepted on IMAP (LOGIN, AUTHENTICATE PLAIN) and POP3 as typed loosely; last use listed', async () => {
    const pw = await addAppPassword('ada', '--name', 'Phone');
    assert.match(await imapLogin('ada', pw), /^l OK/);
    // Case, spaces and dashes do not matter when typed; the verified app password is in the credential cache.
    const hits = srv.server.credentials.stats.hits;
    assert.match(await imapLogin('ada', pw.toUpperCase().replaceAll('-', ' ')), /^l OK/);
    assert.equal(srv.server.credentials.stats.hits, hits + 1);
    assert.match(
      await imapLogin(
        'ada',
        pw.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')),
      ),
      /^l NO \[AUTHENTICATIONFAILED\]/,
    );
    // The main password still works; an app password is not another account's.
    assert.match(await imapLogin('ada', 'pw-ada'), /^l OK/);
    assert.match(await imapLogin('bo', pw), /^l NO \[AUTHENTICATIONFAILED\]/);

    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    const plain = Buffer.from(`\0ada\0${pw}`).toString('base64');
    assert.match((await client.command('a', `AUTHENTICATE PLAIN ${plain}`, 20_000)).tagged, /^a OK/);
    const mine = srv.server.sessions.list((s) => s.user?.name === 'ada');
    assert.equal(mine.length, 1);
    assert.match(mine[0]!.user!.credential, /^app:\d+$/);
    client.close();

    assert.match(await pop3Login('ada', pw), /^\+OK/);
    const ada = (await srv.server.store.findAccount('ada'))!;
    await waitUntil('the last use', async () => (await srv.server.store.listAppPasswords(ada.id))[0]?.lastUsed?.protocol === 'pop3');
    const [listed] = await listJson('ada');
    assert.equal(listed?.name, 'Phone');
    assert.equal(listed?.state, 'active');
    assert.deepEqual(listed?.protocols, ['imap', 'pop3', 'managesieve']);
    assert.equal(listed?.expires, null);
    assert.equal(listed?.lastUsed?.address, '127.0.0.1');
    assert.equal(listed?.lastUsed?.protocol, 'pop3');
    const text = (await cli('user', 'app-password', 'list', 'ada')).stdout;
    assert.match(text, /^NAME +STATE +PROTOCOLS/);
    assert.match(text, /^Phone +active +imap,pop3,managesieve +\S+ +never +\S+ POP3 from 127\.0\.0\.1$/m);

    // Names are unique per account; usage errors exit 2.
    assert.equal((await cli('user', 'app-password', 'add', 'ada', '--name', 'phone')).status, 1);
    assert.equal((await cli('user', 'app-password', 'add', 'ada', '--name', 'X', '--protocols', 'smtp')).status, 2);
    assert.equal((await cli('user', 'app-password', 'add', 'ada', '--name', 'X', '--expires', '2001-01-01')).status, 2);
    assert.equal((await cli('user', 'app-password', 'revoke', 'ada', 'Tablet')).status, 1);
  });

  test('an IMAP-only app password is refused on POP3; one with an expiry is shown with it', async () => {
    const pw = await addAppPassword('bo', '--name', 'Laptop', '--protocols', 'imap', '--expires', '90d');
    assert.match(await imapLogin('bo', pw), /^l OK/);
    assert.match(await pop3Login('bo', pw), /^-ERR \[AUTH\]/);
    const [listed] = await listJson('bo');
    assert.deepEqual(listed?.protocols, ['imap']);
    const days = (Date.parse(listed!.expires!) - Date.now()) / 86_400_000;
    assert.ok(days > 89 && days <= 90, String(days));
  });

  test('revoke ends a live IDLE session that used it at once; the main-password session goes on', async () => {
    const pw = await addAppPassword('cy', '--name', 'Tablet');
    const app = await idling('cy', pw);
    const main = await RawClient.login(srv.imapsPort, 'cy', 'pw-cy');
    try {
      const r = await cli('user', 'app-password', 'revoke', 'cy', 'tablet');
      assert.equal(r.status, 0, r.stderr);
      assert.match(await app.readLine(30_000), /^\* BYE .*revoked/);
      assert.match((await main.command('n', 'NOOP', 20_000)).tagged, /^n OK/);
      assert.match(await imapLogin('cy', pw), /^l NO \[AUTHENTICATIONFAILED\]/);
      const [listed] = await listJson('cy');
      assert.equal(listed?.state, 'revoked');
      // The name is free again.
      await addAppPassword('cy', '--name', 'Tablet');
    } finally {
      app.close();
      main.close();
    }
  });

  test('an app password stops at its expiry, and so do the sessions that use it', async () => {
    const account = (await srv.server.store.findAccount('di'))!;
    const { password, lookup } = generateAppPassword(new Set());
    const hash = await hashPassword(asAppPassword(password)!.canonical, CHEAP_HASHING);
    const expiresAt = new Date(Date.now() + 3000);
    await srv.server.store.addAppPassword(account.id, { name: 'Short', lookup, hash, protocols: ['imap'], expiresAt }, new Date(), APP_PASSWORD_LIMITS);
    const session = await idling('di', password);
    try {
      assert.match(await session.readLine(30_000), /^\* BYE .*expired/);
      assert.ok(Date.now() >= expiresAt.getTime());
      assert.match(await imapLogin('di', password), /^l NO \[AUTHENTICATIONFAILED\]/);
      assert.equal((await listJson('di'))[0]?.state, 'expired');
    } finally {
      session.close();
    }
  });

  test('--require-app-passwords: the main password is refused on IMAP and POP3 and its live sessions end; app passwords work', async () => {
    await srv.addUser('eve', 'pw-eve');
    const pw = await addAppPassword('eve', '--name', 'Mail');
    const main = await idling('eve', 'pw-eve');
    const app = await idling('eve', pw);
    try {
      const set = await cli('user', 'set', 'eve', '--require-app-passwords', 'on');
      assert.equal(set.status, 0, set.stderr);
      assert.match(await main.readLine(30_000), /^\* BYE .*app password/);
      assert.match(await imapLogin('eve', 'pw-eve'), /^l NO \[AUTHENTICATIONFAILED\] .*app password/);
      assert.match(await imapLogin('eve', 'wrong'), /^l NO \[AUTHENTICATIONFAILED\] Authentication failed/);
      assert.match(await pop3Login('eve', 'pw-eve'), /^-ERR \[AUTH\] .*app password/);
      assert.match(await imapLogin('eve', pw), /^l OK/);
      assert.match(await pop3Login('eve', pw), /^\+OK/);
      // The app-password session is still idling: DONE ends IDLE normally.
      app.send('DONE\r\n');
      assert.match((await app.readTagged('i', 20_000)).tagged, /^i OK/);
      const shown = await cli('user', 'show', 'eve', '--json');
      assert.equal((JSON.parse(shown.stdout) as { requireAppPasswords: boolean }).requireAppPasswords, true);
      assert.match((await cli('user', 'show', 'eve')).stdout, /^passwords: +app passwords only/m);

      assert.equal((await cli('user', 'set', 'eve', '--require-app-passwords', 'off')).status, 0);
      assert.match(await imapLogin('eve', 'pw-eve'), /^l OK/);
      assert.equal((await cli('user', 'set', 'eve', '--require-app-passwords', 'maybe')).status, 2);
    } finally {
      main.close();
      app.close();
    }
  });

  test('--disabled on ends the live sessions of the account', async () => {
    await srv.addUser('fay', 'pw-fay');
    const session = await idling('fay', 'pw-fay');
    try {
      assert.equal((await cli('user', 'set', 'fay', '--disabled', 'on')).status, 0);
      assert.match(await session.readLine(30_000), /^\* BYE .*disabled/);
    } finally {
      session.close();
    }
  });

  test('a scrypt hash (password or app password) is upgraded to argon2id at the next successful login', async () => {
    const scrypt = await hashPassword('pw-gus', { ...DEFAULT_HASHING, algorithm: 'scrypt', scryptCost: 10 });
    await srv.server.store.createAccount('gus', scrypt);
    assert.match(await imapLogin('gus', 'wrong'), /^l NO/);
    assert.equal((await srv.server.store.findAccount('gus'))?.passwordHash, scrypt);
    assert.match(await imapLogin('gus', 'pw-gus'), /^l OK/);
    await waitUntil('the upgrade', async () => (await srv.server.store.findAccount('gus'))!.passwordHash.startsWith('$argon2id$v=19$m=1024,t=1,p=1$'));
    assert.match(await pop3Login('gus', 'pw-gus'), /^\+OK/);

    // An app password's hash is upgraded the same way.
    const gus = (await srv.server.store.findAccount('gus'))!;
    const { password, lookup } = generateAppPassword(new Set());
    const hash = await hashPassword(asAppPassword(password)!.canonical, { ...DEFAULT_HASHING, algorithm: 'scrypt', scryptCost: 10 });
    await srv.server.store.addAppPassword(gus.id, { name: 'Old', lookup, hash, protocols: ['imap'], expiresAt: null }, new Date(), APP_PASSWORD_LIMITS);
    assert.match(await imapLogin('gus', password), /^l OK/);
    await waitUntil('the app password upgrade', async () => (await srv.server.store.listAppPasswords(gus.id))[0]!.hash.startsWith('$argon2id$'));
    assert.match(await imapLogin('gus', password), /^l OK/);
  });
});
