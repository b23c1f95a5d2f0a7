/**
 * `mailkeep backup` and `mailkeep restore` against a running server under
 * APPEND load: a client appends continuously over IMAP (recording each
 * tagged OK with its APPENDUID) while the backup CLI runs in its own process;
 * the backup is restored into a new data directory, a server started on it,
 * and compared message by message (UIDs, flags, bytes) with the source.
 * Every message acknowledged before the backup began is there,
 * byte-identical. Also: refusals (non-empty targets, PostgreSQL), and a
 * damaged backup failing its checksums and leaving the target empty.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mailkeep, startMailkeep, type CliResult } from './cli-helpers.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Runs the CLI without blocking this process's event loop (the server under test lives here). */
async function mailkeepAsync(args: string[]): Promise<CliResult> {
  const child = startMailkeep(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [status] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { status, stdout, stderr };
}

interface Appended {
  uid: number;
  flags: string[];
  bytes: Buffer;
}

/** A message of varied size; a few are large so the file copy takes real time. */
function messageOf(i: number): Buffer {
  const size = i % 17 === 0 ? 200_000 : 300 + ((i * 7919) % 20_000);
  const body = `line ${i} ${'x'.repeat(70)}\r\n`.repeat(Math.ceil(size / 80));
  return Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: backup ${i}\r\nMessage-ID: <b${i}@example.org>\r\n\r\n${body}`);
}

const FLAG_SETS = [[], ['\\Seen'], ['\\Flagged', '\\Seen'], ['$Label1'], ['\\Answered', '$Work']];

/** Appends until stopped; every tagged OK is recorded with its APPENDUID and the time it arrived. */
class Appender {
  readonly acked: Array<Appended & { at: number }> = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  uidValidity = 0;

  constructor(private readonly client: RawClient) {}

  start(): void {
    this.loop = (async () => {
      for (let i = 1; !this.stopped && i <= 20_000; i++) {
        const bytes = messageOf(i);
        const flags = FLAG_SETS[i % FLAG_SETS.length]!;
        const reply = await this.client.command(
          `a${i}`,
          Buffer.concat([Buffer.from(`APPEND INBOX (${flags.join(' ')}) {${bytes.length}+}\r\n`), bytes]),
          20_000,
        );
        const m = /^a\d+ OK \[APPENDUID (\d+) (\d+)\]/.exec(reply.tagged);
        assert.ok(m, reply.tagged);
        this.uidValidity = Number(m[1]);
        this.acked.push({ uid: Number(m[2]), flags, bytes, at: Date.now() });
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** Every message of INBOX by UID: flags (sorted) and bytes. */
async function mailboxContents(port: number): Promise<{ uidValidity: number; messages: Map<number, { flags: string[]; bytes: Buffer }> }> {
  const c = await RawClient.login(port, 'backup-user', 'pw-backup');
  try {
    const sel = await c.command('s', 'EXAMINE INBOX');
    const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(sel.lines.join('\n'))?.[1]);
    const reply = await c.command('f', 'UID FETCH 1:* (UID FLAGS BODY.PEEK[])', 60_000);
    assert.match(reply.tagged, /^f OK/);
    const messages = new Map<number, { flags: string[]; bytes: Buffer }>();
    for (const line of reply.lines) {
      const m = /^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) BODY\[\] \{(\d+)\}\r\n/.exec(line);
      if (!m) continue;
      const start = m[0].length;
      const bytes = Buffer.from(line.slice(start, start + Number(m[3])), 'latin1');
      messages.set(Number(m[1]), {
        flags: m[2]!
          .split(' ')
          .filter((f) => f !== '' && f !== '\\Recent')
          .sort(),
        bytes,
      });
    }
    return { uidValidity, messages };
  } finally {
    c.close();
  }
}

/** The suite backs up SQLite data directories; under the PostgreSQL run of the protocol tests there is none. */
const ON_PG = process.env.MAILKEEP_TEST_STORE === 'postgres';

describe('backup and restore under APPEND load', { skip: ON_PG && 'backups of PostgreSQL stores use pg_dump (README)' }, () => {
  let srv: TestServer;
  let work: string;
  before(async () => {
    srv = await startTestServer();
    await srv.addUser('backup-user', 'pw-backup');
    work = await mkdtemp(join(tmpdir(), 'mailkeep-backup-test-'));
  });
  after(async () => {
    await srv.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('every message acknowledged before the backup began is restored byte for byte, with its UID and flags', async (t) => {
    const client = await RawClient.login(srv.imapsPort, 'backup-user', 'pw-backup');
    const appender = new Appender(client);
    appender.start();
    // Load first, so the backup starts on a store with mail in it and writes going on.
    const loadUntil = Date.now() + 10_000;
    while (appender.acked.length < 150 && Date.now() < loadUntil) await new Promise((r) => setTimeout(r, 20));
    const backupDir = join(work, 'backup');
    const began = Date.now();
    const ackedBefore = appender.acked.filter((a) => a.at <= began);
    const backup = await mailkeepAsync(['backup', backupDir, '--data-dir', srv.dataDir]);
    const ackedDuring = appender.acked.length - ackedBefore.length;
    const backupMs = Date.now() - began;
    await appender.stop();
    client.close();
    assert.equal(backup.status, 0, backup.stderr);
    assert.match(backup.stdout, /backed up .* message files .* verified by SHA-256/);
    assert.ok(ackedBefore.length >= 100, `${ackedBefore.length} appended before the backup`);
    assert.ok(ackedDuring > 0, 'appends went on during the backup');

    const restored = join(work, 'restored');
    const restore = await mailkeepAsync(['restore', backupDir, '--data-dir', restored]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.match(restore.stdout, /checksums verified/);

    const source = await mailboxContents(srv.imapsPort);
    const copy = await startTestServer({ dataDir: restored });
    try {
      const back = await mailboxContents(copy.imapsPort);
      t.diagnostic(
        `${ackedBefore.length} acknowledged before the backup, ${ackedDuring} during its ${backupMs} ms; ${back.messages.size} restored of ${source.messages.size}`,
      );
      assert.equal(back.uidValidity, source.uidValidity);
      assert.equal(back.uidValidity, appender.uidValidity);
      for (const a of ackedBefore) {
        const m = back.messages.get(a.uid);
        assert.ok(m, `UID ${a.uid} acknowledged before the backup is missing`);
        assert.deepEqual(m.flags, [...a.flags].sort(), `flags of UID ${a.uid}`);
        assert.ok(m.bytes.equals(a.bytes), `bytes of UID ${a.uid}`);
      }
      // Whatever else the snapshot caught is the source's message under the same UID, unchanged.
      for (const [uid, m] of back.messages) {
        const s = source.messages.get(uid);
        assert.ok(s, `restored UID ${uid} not in the source`);
        assert.deepEqual(m.flags, s.flags);
        assert.ok(m.bytes.equals(s.bytes));
      }
      // The restored server takes new mail after the last UID it holds.
      const c = await RawClient.login(copy.imapsPort, 'backup-user', 'pw-backup');
      const add = await c.command('n', Buffer.from('APPEND INBOX {9+}\r\nSubject:\r\n'));
      c.close();
      const uid = Number(/APPENDUID \d+ (\d+)/.exec(add.tagged)?.[1]);
      assert.ok(uid > Math.max(...back.messages.keys()), add.tagged);
    } finally {
      await copy.stop();
    }
  });

  test('a non-empty backup directory and a non-empty data directory are refused', async () => {
    const full = join(work, 'full');
    await mailkeepAsync(['backup', full, '--data-dir', srv.dataDir]);
    const again = await mailkeepAsync(['backup', full, '--data-dir', srv.dataDir]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /is not empty/);
    const restore = await mailkeepAsync(['restore', full, '--data-dir', srv.dataDir]);
    assert.equal(restore.status, 1);
    assert.match(restore.stderr, /is not empty/);
  });

  test('a damaged message file fails the restore, which leaves the target empty', async () => {
    const dir = join(work, 'damaged');
    assert.equal((await mailkeepAsync(['backup', dir, '--data-dir', srv.dataDir])).status, 0);
    const [first] = (await readFile(join(dir, 'blobs.txt'), 'latin1')).split(' ');
    const file = join(dir, 'blobs', first!.slice(0, 2), first!);
    const bytes = await readFile(file);
    const middle = bytes.length >> 1;
    bytes[middle] = bytes[middle]! ^ 1;
    await writeFile(file, bytes);
    const target = join(work, 'damaged-target');
    const restore = await mailkeepAsync(['restore', dir, '--data-dir', target]);
    assert.equal(restore.status, 1);
    assert.match(restore.stderr, new RegExp(`message file ${first} in the backup is damaged`));
    assert.deepEqual(await readdir(target), []);
  });
});

test('on PostgreSQL the commands point to pg_dump and store copy', () => {
  for (const command of ['backup', 'restore']) {
    const r = mailkeep([command, join(tmpdir(), 'mailkeep-never-written'), '--store', 'postgres://nobody@127.0.0.1:1/none']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /pg_dump/);
    assert.match(r.stderr, /mailkeep store copy/);
  }
});
