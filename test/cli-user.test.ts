/** `mailkeep user add|passwd|del|list` run as child processes against a temporary data directory. */
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { verifyPassword } from '../src/auth/password.js';
import { openStore } from '../src/store/open.js';
import { mailkeep } from './cli-helpers.js';

/** The stored hash of an account, read through the store as the server would. */
async function storedHash(dataDir: string, name: string): Promise<string | null> {
  const store = await openStore({ dataDir });
  try {
    return (await store.findAccount(name))?.passwordHash ?? null;
  } finally {
    await store.close();
  }
}

describe('mailkeep user', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mailkeep-cli-user-'));
  const dd = ['--data-dir', dataDir];

  it('lists nothing in a fresh data directory', () => {
    assert.deepEqual(mailkeep(['user', 'list', ...dd]), { status: 0, stdout: '', stderr: '' });
  });

  it('adds users with the first line of stdin as password', async () => {
    assert.deepEqual(mailkeep(['user', 'add', 'alice', '--password-stdin', ...dd], 'pw one\n'), { status: 0, stdout: 'created user alice\n', stderr: '' });
    assert.equal(mailkeep(['user', 'add', 'bob@example.org', '--password-stdin', ...dd], 'pw2\r\nsecond line ignored\n').status, 0);
    assert.equal(await verifyPassword('pw one', await storedHash(dataDir, 'alice')), true);
    assert.equal(await verifyPassword('pw2', await storedHash(dataDir, 'bob@example.org')), true);
    assert.equal(await verifyPassword('pw2\r', await storedHash(dataDir, 'bob@example.org')), false);
    assert.deepEqual(mailkeep(['user', 'list', ...dd]), { status: 0, stdout: 'alice\nbob@example.org\n', stderr: '' });
  });

  it('refuses an existing user (names are case-insensitive) with exit 1', () => {
    for (const name of ['alice', 'ALICE']) {
      assert.deepEqual(mailkeep(['user', 'add', name, '--password-stdin', ...dd], 'x\n'), {
        status: 1,
        stdout: '',
        stderr: `mailkeep: user already exists: ${name}\n`,
      });
    }
  });

  it('changes a password', async () => {
    const before = await storedHash(dataDir, 'alice');
    assert.deepEqual(mailkeep(['user', 'passwd', 'alice', '--password-stdin', ...dd], 'new secret\n'), {
      status: 0,
      stdout: 'changed the password of alice\n',
      stderr: '',
    });
    const after = await storedHash(dataDir, 'alice');
    assert.notEqual(after, before);
    assert.equal(await verifyPassword('new secret', after), true);
    assert.equal(await verifyPassword('pw one', after), false);
  });

  it('reports missing users with exit 1', () => {
    assert.deepEqual(mailkeep(['user', 'passwd', 'carol', '--password-stdin', ...dd], 'x\n'), {
      status: 1,
      stdout: '',
      stderr: 'mailkeep: no such user: carol\n',
    });
    assert.deepEqual(mailkeep(['user', 'del', 'carol', ...dd]), { status: 1, stdout: '', stderr: 'mailkeep: no such user: carol\n' });
  });

  it('deletes a user', () => {
    assert.equal(mailkeep(['user', 'del', 'bob@example.org', ...dd]).status, 0);
    assert.equal(mailkeep(['user', 'list', ...dd]).stdout, 'alice\n');
    assert.equal(mailkeep(['user', 'del', 'bob@example.org', ...dd]).status, 1);
  });

  it('refuses empty passwords, passwords SASLprep refuses, bad names and a missing terminal with exit 2, creating nothing', () => {
    assert.deepEqual(mailkeep(['user', 'add', 'dave', '--password-stdin', ...dd], '\nsecond\n'), {
      status: 2,
      stdout: '',
      stderr: 'mailkeep: refusing an empty password\n',
    });
    assert.equal(mailkeep(['user', 'add', 'dave', '--password-stdin', ...dd], '').status, 2);
    // RFC 4013 §2.3: a private-use character is prohibited; the password is refused before anything is stored.
    const prohibited = mailkeep(['user', 'add', 'dave', '--password-stdin', ...dd], 'pw\uE000\n');
    assert.equal(prohibited.status, 2);
    assert.match(prohibited.stderr, /^mailkeep: the password contains a character SASLprep \(RFC 4013 §2\.3\) prohibits/);
    assert.match(mailkeep(['user', 'passwd', 'alice', '--password-stdin', ...dd], '\u05D0\u05D11\n').stderr, /right-to-left/);
    const noTty = mailkeep(['user', 'add', 'dave', ...dd], 'pw\n');
    assert.equal(noTty.status, 2);
    assert.match(noTty.stderr, /use --password-stdin/);
    const badName = mailkeep(['user', 'add', 'da ve', '--password-stdin', ...dd], 'pw\n');
    assert.equal(badName.status, 2);
    assert.match(badName.stderr, /^mailkeep: invalid user name: /);
    assert.equal(mailkeep(['user', 'list', ...dd]).stdout, 'alice\n');
  });

  it('finds the data directory through --config and MAILKEEP_DATA_DIR too', () => {
    const file = path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);
    writeFileSync(file, `data-dir = ${JSON.stringify(dataDir)}\n`);
    assert.equal(mailkeep(['user', 'list', '--config', file]).stdout, 'alice\n');
    assert.equal(mailkeep(['user', 'list'], '', { MAILKEEP_DATA_DIR: dataDir }).stdout, 'alice\n');
    assert.equal(mailkeep(['user', 'list'], '', { MAILKEEP_CONFIG: file }).stdout, 'alice\n');
  });

  it('reports usage and configuration errors with exit 2', () => {
    const unknown = mailkeep(['user', 'list', '--bogus', ...dd]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown option '--bogus'/);
    assert.equal(mailkeep(['user', 'add', ...dd]).status, 2, 'missing NAME');
    assert.deepEqual(mailkeep(['user', 'list'], '', { MAILKEEP_DATA_DIR: dataDir, MAILKEEP_LIMITS__MAX_CONNECTIONS: 'many' }), {
      status: 2,
      stdout: '',
      stderr: 'config error: limits.max-connections (from MAILKEEP_LIMITS__MAX_CONNECTIONS): expected a positive whole number, got "many"\n',
    });
  });
});
