// test:pg skip — file modes of the SQLite data directory; the test forces the SQLite store
/**
 * Finding 14 (issue 18): the data directory holds every message and the
 * password hashes. Whatever the umask, every directory mailkeep creates under
 * it is 0700 and every file 0600 (the SQLite database, -wal and -shm, blobs,
 * staging, the generated TLS pair); a data directory or database of ours with
 * wider modes is tightened and logged at warn; one owned by another user is
 * reported; and `mailkeep deliver` run by a user who cannot open the store
 * prints one clear line and exits 75 (EX_TEMPFAIL), never a stack.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { BIN, cleanEnv } from '../cli-helpers.js';
import { dotStuff, LmtpClient } from '../helpers/lmtp-client.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

/** Paths under root whose mode is not owner-only (0700 directories, 0600 files), with their modes. */
async function looseModes(root: string): Promise<string[]> {
  const loose: string[] = [];
  for (const rel of ['', ...(await readdir(root, { recursive: true })).map(String)]) {
    const st = await stat(join(root, rel));
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) loose.push(`${rel || '.'} ${(st.mode & 0o777).toString(8)}`);
  }
  return loose;
}

/** Every file and directory under root, relative to it. */
async function entries(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).map(String);
}

/** Runs the CLI as the unprivileged user `nobody` (uid/gid 65534). */
function asNobody(args: string[], input = ''): { status: number | null; stderr: string } {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], {
    input,
    env: cleanEnv(),
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr.toString() };
}

const isRoot = process.getuid?.() === 0;
const message = 'From: a@example.org\r\nSubject: modes\r\n\r\nsecret\r\n';

describe('finding 14: the data directory is private whatever the umask', () => {
  let dir: string;
  let savedUmask: number;
  before(async () => {
    savedUmask = process.umask(0o022);
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-modes-'));
    // Let `nobody` reach the directories below (the subtests that run as nobody).
    await chmod(dir, 0o755);
  });
  after(async () => {
    process.umask(savedUmask);
    await rm(dir, { recursive: true, force: true });
  });

  it('a server on a pre-existing 0755 data dir tightens it, warns, and creates only 0700 directories and 0600 files', async () => {
    const dataDir = join(dir, 'served');
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    const logs = new PassThrough();
    const lines: string[] = [];
    logs.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    // SQLite whatever MAILKEEP_TEST_STORE says: its files are what this is about.
    const srv = await startTestServer({ dataDir, store: { url: null }, lmtp: { domains: ['example.com'] }, log: { level: 'warn' } }, logs);
    try {
      await srv.addUser('alice', 'pw');
      const { client } = await LmtpClient.connect(srv.lmtpPort);
      for (const line of ['LHLO t', 'MAIL FROM:<a@example.org>', 'RCPT TO:<alice@example.com>', 'DATA']) await client.command(line);
      client.send(dotStuff(Buffer.from(message)));
      assert.equal((await client.reply()).code, 250);
      client.close();
      const imap = await RawClient.login(srv.imapsPort, 'alice', 'pw');
      const append = await imap.command('a', `APPEND INBOX {${message.length}+}\r\n${message}`);
      assert.match(append.tagged, /^a OK/);
      await imap.command('z', 'LOGOUT');
      const made = await entries(dataDir);
      for (const expected of ['mailkeep.sqlite3', 'mailkeep.sqlite3-wal', 'mailkeep.sqlite3-shm', 'blobs', join('blobs', 'tmp'), 'tls']) {
        assert.ok(made.includes(expected), `${expected} exists: ${made.join(' ')}`);
      }
      assert.ok(made.length > 8, `blobs were written: ${made.join(' ')}`);
      assert.deepEqual(await looseModes(dataDir), []);
      const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      assert.ok(
        warnings.some((w) => w.msg.includes(dataDir) && /0755.*0700/.test(w.msg)),
        `a warning names the tightened data dir: ${lines.join('\n')}`,
      );
    } finally {
      await srv.stop();
    }
  });

  it('an existing 0644 database, WAL and 0755 blob directory of ours are tightened when the store opens', async () => {
    const dataDir = join(dir, 'old');
    const store = await openStore({ dataDir });
    await store.createAccount('bob', 'x');
    await store.close();
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, 'mailkeep.sqlite3'), 0o644);
    await chmod(join(dataDir, 'blobs'), 0o755);
    await writeFile(join(dataDir, 'mailkeep.sqlite3-wal'), '', { mode: 0o644 });
    const warnings: string[] = [];
    const again = await openStore({ dataDir, onWarning: (m) => warnings.push(m) });
    await again.close();
    assert.deepEqual(await looseModes(dataDir), []);
    assert.equal(warnings.length, 4, warnings.join('\n'));
  });

  it('a group/world-accessible data dir owned by another user is reported, not changed', { skip: isRoot ? false : 'needs root to run as nobody' }, async () => {
    const dataDir = join(dir, 'shared');
    await mkdir(dataDir);
    await chmod(dataDir, 0o777);
    const r = asNobody(['user', 'list', '--data-dir', dataDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^mailkeep: warning: ${dataDir} is readable by other users \\(mode 0777, owner uid 0\\)`));
    assert.equal((await stat(dataDir)).mode & 0o777, 0o777, 'not ours: left as it is');
    assert.deepEqual(
      (await looseModes(dataDir)).filter((p) => !p.startsWith('. ')),
      [],
      'what nobody created is private',
    );
  });

  it("root opening a data dir another user owns is warned that its new files will be root's", { skip: isRoot ? false : 'needs root' }, async () => {
    const dataDir = join(dir, 'owned-by-nobody');
    await mkdir(dataDir, { mode: 0o700 });
    await chown(dataDir, 65534, 65534);
    const warnings: string[] = [];
    await (await openStore({ dataDir, onWarning: (m) => warnings.push(m) })).close();
    assert.ok(
      warnings.some((w) => w.startsWith(`running as root on ${dataDir}, which uid 65534 owns`)),
      warnings.join('\n'),
    );
  });

  it('deliver by a user who cannot open the store: one clear line, exit 75, nothing stored', async () => {
    const dataDir = join(dir, 'private');
    const store = await openStore({ dataDir });
    await store.createAccount('carol', 'x');
    await store.close();
    let r: { status: number | null; stderr: string };
    if (isRoot) {
      r = asNobody(['deliver', '--data-dir', dataDir, '--to', 'carol'], message);
    } else {
      // Without another uid, a copy nobody may enter stands in for the mailkeep user's directory.
      await chmod(dataDir, 0o000);
      const out = spawnSync(process.execPath, [BIN, 'deliver', '--data-dir', dataDir, '--to', 'carol'], { input: message, env: cleanEnv(), timeout: 60_000 });
      await chmod(dataDir, 0o700);
      r = { status: out.status, stderr: out.stderr.toString() };
    }
    assert.equal(r.status, 75, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, /^mailkeep: cannot open the store: .* not readable and writable by uid \d+; .*user=mailkeep/);
    const check = await openStore({ dataDir });
    try {
      const carol = (await check.findAccount('carol'))!;
      const inbox = (await check.getMailbox(carol.id, 'INBOX'))!;
      assert.equal((await check.mailboxCounts(carol.id, inbox.id)).messages, 0);
    } finally {
      await check.close();
    }
  });
});
