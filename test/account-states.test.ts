/**
 * Disabled accounts and the last login (issue 22): `mailkeep user set
 * --disabled on|off` in another process refuses the next login with the right
 * password (IMAP NO [CONTACTADMIN], RFC 5530 §3; POP3 -ERR [AUTH], RFC 3206
 * §4) while a wrong one still fails as usual; `mailkeep user show` tells the
 * last login's protocol, time and address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CliResult, mailkeepOn } from './cli-helpers.js';
import { eventually } from './helpers/eventually.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('dana', 'pw');
});
after(async () => srv.stop());

/** Runs the CLI on the server's store, asynchronously (the server in this process keeps answering). */
const cli = (...args: string[]): Promise<CliResult> => mailkeepOn(srv, args);

async function imapLogin(password: string): Promise<string> {
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  try {
    return (await client.command('l', `LOGIN dana ${password}`, 20_000)).tagged;
  } finally {
    client.close();
  }
}

async function pop3Login(password: string): Promise<string> {
  const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
  try {
    await client.command('USER dana');
    return await client.command(`PASS ${password}`, 20_000);
  } finally {
    client.close();
  }
}

describe('account states', () => {
  test('a login is recorded and shown by `user show`', async () => {
    assert.match(await imapLogin('pw'), /^l OK/);
    // The last login is written in the background (auth/last-login.ts), after the OK.
    const shown = await eventually(
      () => cli('user', 'show', 'dana', '--json'),
      (r) => r.status !== 0 || JSON.parse(r.stdout).lastLogin !== null,
    );
    assert.equal(shown.status, 0, shown.stderr);
    const account = JSON.parse(shown.stdout) as { disabled: boolean; lastLogin: { protocol: string; address: string; at: string } | null };
    assert.equal(account.disabled, false);
    assert.equal(account.lastLogin?.protocol, 'imap');
    assert.equal(account.lastLogin?.address, '127.0.0.1');
    assert.ok(Date.now() - Date.parse(account.lastLogin.at) < 120_000);
  });

  test('disabled: the right password gets CONTACTADMIN / -ERR [AUTH], a wrong one fails as before; enabled again it works', async () => {
    const set = await cli('user', 'set', 'dana', '--disabled', 'on');
    assert.deepEqual([set.status, set.stdout], [0, 'disabled user dana\n']);
    assert.match(await imapLogin('pw'), /^l NO \[CONTACTADMIN\]/);
    assert.match(await imapLogin('wrong'), /^l NO \[AUTHENTICATIONFAILED\]/);
    assert.match(await pop3Login('pw'), /^-ERR \[AUTH\] .*disabled/);
    assert.match((await cli('user', 'show', 'dana')).stdout, /^state: +disabled/m);

    assert.equal((await cli('user', 'set', 'dana', '--disabled', 'off')).status, 0);
    assert.match(await pop3Login('pw'), /^\+OK/);
    const text = (await cli('user', 'show', 'dana')).stdout;
    assert.match(text, /^state: +enabled$/m);
    assert.match(text, /^last login: .* over POP3 from 127\.0\.0\.1$/m);
  });

  test('usage errors exit 2, an unknown user exits 1', async () => {
    assert.equal((await cli('user', 'set', 'dana')).status, 2);
    assert.equal((await cli('user', 'set', 'dana', '--disabled', 'maybe')).status, 2);
    assert.equal((await cli('user', 'set', 'nobody', '--disabled', 'on')).status, 1);
    assert.equal((await cli('user', 'show', 'nobody')).status, 1);
  });
});
