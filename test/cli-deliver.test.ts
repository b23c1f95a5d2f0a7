/**
 * `mailkeep deliver` as an MTA runs it (a child process, the message on
 * stdin), its sysexits.h exit codes, a running server's IDLE client woken by
 * it, and `mailkeep alias`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { DETAIL_DELIVERY_ENTRY } from '../src/mail/deliver.js';
import { openStore } from '../src/store/open.js';
import { BIN, cleanEnv, mailkeep } from './cli-helpers.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer } from './helpers/server.js';

/** Runs `mailkeep deliver …` with binary stdin. */
function deliver(dataDir: string, args: string[], input: Buffer | string, env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'deliver', '--data-dir', dataDir, ...args], { input, env: cleanEnv(env), timeout: 60_000 });
  return { status: r.status, stderr: r.stderr.toString() };
}

/** Messages of a mailbox: bytes and flags, by UID. */
async function mailbox(dataDir: string, user: string, name = 'INBOX'): Promise<Array<{ bytes: Buffer; flags: string[] }>> {
  const store = await openStore({ dataDir });
  try {
    const account = (await store.findAccount(user))!;
    const mb = (await store.getMailbox(account.id, name))!;
    const summaries = await store.listSummaries(account.id, mb.id);
    const records = await store.getRecords(
      account.id,
      mb.id,
      summaries.map((s) => s.uid),
    );
    return await Promise.all(records.map(async (r) => ({ bytes: await store.blobs.read(r.blobId), flags: r.flags })));
  } finally {
    await store.close();
  }
}

const message = Buffer.from('From: a@example.org\r\nSubject: cli\r\n\r\nbody \xe9\r\n', 'latin1');

describe('mailkeep deliver', () => {
  let dir: string;
  let dataDir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-deliver-'));
    dataDir = join(dir, 'data');
    const store = await openStore({ dataDir });
    try {
      for (const name of ['dana', 'erin', 'full']) await store.createAccount(name, 'x');
      const dana = (await store.findAccount('dana'))!;
      const lists = await store.createMailbox(dana.id, 'Lists');
      // dana lets +detail deliveries into Lists (lmtp.detail-delivery = "opt-in").
      await store.setMetadata(dana.id, lists.id, [[DETAIL_DELIVERY_ENTRY, Buffer.from('yes')]]);
      await store.setQuota((await store.findAccount('full'))!.id, { storage: 5, messages: null });
    } finally {
      await store.close();
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('stores stdin byte-exactly (less a leading mbox From_ line) and exits 0', async () => {
    assert.equal(deliver(dataDir, ['--to', 'dana'], message).status, 0);
    const mboxLine = Buffer.from('From a@example.org  Mon Jan  1 00:00:00 2024\n');
    assert.equal(deliver(dataDir, ['--to', 'dana@example.com'], Buffer.concat([mboxLine, message])).status, 0);
    const inbox = await mailbox(dataDir, 'dana');
    assert.deepEqual(
      inbox.map((m) => m.bytes),
      [message, message],
    );
  });

  it('adds trace lines with --from, picks --mailbox or the +detail one when it exists, and sets --flags', async () => {
    const r = deliver(dataDir, ['--to', 'dana+Lists@example.com', '--from', 'list@example.org', '--flags', '\\seen,$Label'], message);
    assert.equal(r.status, 0, r.stderr);
    const [copy] = await mailbox(dataDir, 'dana', 'Lists');
    assert.deepEqual(copy!.bytes, Buffer.concat([Buffer.from('Return-Path: <list@example.org>\r\nDelivered-To: dana+Lists@example.com\r\n'), message]));
    assert.deepEqual(copy!.flags.sort(), ['$Label', '\\Seen']);
    const erin = deliver(dataDir, ['--to', 'erin', '--mailbox', 'Lists'], message);
    assert.equal(erin.status, 0, `no such mailbox: INBOX; ${erin.stderr}`);
    const dana = deliver(dataDir, ['--to', 'dana', '--mailbox', 'Lists'], message);
    assert.equal(dana.status, 0, dana.stderr);
    assert.equal((await mailbox(dataDir, 'erin')).length, 1);
    assert.equal((await mailbox(dataDir, 'dana', 'Lists')).length, 2);
  });

  it('exits with the sysexits.h code an MTA expects', async () => {
    const code = (args: string[], env: Record<string, string> = {}, input: Buffer | string = message): number | null =>
      deliver(dataDir, args, input, env).status;
    assert.equal(code(['--to', 'nobody']), 67, 'EX_NOUSER');
    assert.equal(code(['--to', 'full']), 73, 'EX_CANTCREAT: over quota');
    assert.equal(code(['--to', 'dana'], { MAILKEEP_LIMITS__APPEND_LIMIT: '10' }), 65, 'EX_DATAERR: too big');
    assert.equal(code(['--to', 'dana', '--flags', 'bad(flag']), 64, 'EX_USAGE: bad flag');
    assert.equal(code(['--to', 'dana', '--flags', '\\Bogus']), 64, 'EX_USAGE: unknown system flag');
    assert.equal(code(['--to', 'da\nna']), 64, 'EX_USAGE: control character');
    assert.equal(code([]), 64, 'EX_USAGE: --to missing');
    assert.equal(code(['--to', 'dana'], { MAILKEEP_LIMITS__APPEND_LIMIT: 'lots' }), 78, 'EX_CONFIG');
    const notADir = join(dir, 'file');
    await writeFile(notADir, 'x');
    const r = spawnSync(process.execPath, [BIN, 'deliver', '--data-dir', notADir, '--to', 'dana'], { input: message, env: cleanEnv() });
    assert.equal(r.status, 75, `EX_TEMPFAIL when the store cannot be opened: ${r.stderr.toString()}`);
    assert.equal((await mailbox(dataDir, 'full')).length, 0);
  });

  it('manages aliases that deliver resolves', async () => {
    const args = ['--data-dir', dataDir];
    assert.equal(mailkeep(['alias', 'add', 'Info@example.com', 'erin', ...args]).status, 0);
    assert.equal(mailkeep(['alias', 'add', 'info@example.com', 'dana', ...args]).status, 1, 'taken');
    assert.equal(mailkeep(['alias', 'add', 'x@example.com', 'nobody', ...args]).status, 1, 'no such user');
    assert.equal(mailkeep(['alias', 'add', 'bad address', 'erin', ...args]).status, 2);
    assert.equal(mailkeep(['alias', 'list', ...args]).stdout, 'Info@example.com erin\n');
    assert.equal(deliver(dataDir, ['--to', 'info@EXAMPLE.com'], message).status, 0);
    assert.equal((await mailbox(dataDir, 'erin')).length, 2);
    const del = mailkeep(['alias', 'del', 'INFO@example.com', ...args]);
    assert.equal(del.status, 0, del.stderr);
    assert.equal(mailkeep(['alias', 'del', 'info@example.com', ...args]).status, 1);
    assert.equal(deliver(dataDir, ['--to', 'info@example.com'], message).status, 67);
  });
});

describe('mailkeep deliver beside a running server', () => {
  it('wakes an IDLE client of the server like any other change', async () => {
    const srv = await startTestServer();
    try {
      await srv.server.store.createAccount('fay', await hashPassword('pw', CHEAP_HASHING));
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
      assert.match((await client.command('l', 'LOGIN fay pw')).tagged, /OK/);
      assert.match((await client.command('s', 'SELECT INBOX')).tagged, /OK/);
      client.send('i IDLE\r\n');
      assert.match(await client.readLine(), /^\+ /);
      const store = srv.config.store.url ? ['--store', srv.config.store.url] : [];
      const child = spawn(process.execPath, [BIN, 'deliver', '--data-dir', srv.dataDir, ...store, '--to', 'fay'], {
        env: cleanEnv(),
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
      child.stdin.end(message);
      assert.equal(await client.readLine(10_000), '* 1 EXISTS');
      const seenAt = Date.now();
      const { code, at } = await exited;
      assert.equal(code, 0);
      // Another process's commit reaches the server through its modseq poller (75 ms period); the bound is for a loaded CI.
      assert.ok(seenAt - at < 5000, `EXISTS ${seenAt - at} ms after deliver exited`);
      client.close();
    } finally {
      await srv.stop();
    }
  });
});
