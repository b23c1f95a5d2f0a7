/**
 * The long-operation side of `mailkeep import`: Ctrl-C stops after a committed
 * batch with exit code 130 and a consistent store, a second run completes it
 * without duplicates; and the progress display on a terminal and off it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { openSync, writeSync, closeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateMessage } from '../bench/messages.js';
import { formatBytes, formatDuration, Progress } from '../src/cli/progress.js';
import { openStore } from '../src/store/open.js';
import { mailkeep, startMailkeep } from './cli-helpers.js';

const MESSAGES = 3000;

describe('mailkeep import: Ctrl-C and resume', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-import-sigint-'));
    const fd = openSync(join(dir, 'big.mbox'), 'w');
    for (let i = 0; i < MESSAGES; i++) {
      const text = generateMessage(i, 'compact')
        .bytes.toString('latin1')
        .replace(/\r\n/g, '\n')
        .replace(/(^|\n)(>*From )/g, '$1>$2');
      writeSync(fd, `From bench@example.org Mon Jan  1 00:00:00 2024\n${text}${text.endsWith('\n') ? '' : '\n'}\n`, null, 'latin1');
    }
    closeSync(fd);
    assert.equal(mailkeep(['user', 'add', 'dan', '--password-stdin', '--data-dir', join(dir, 'data')], 'pw\n').status, 0);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function inboxCount(): Promise<number> {
    const store = await openStore({ dataDir: join(dir, 'data') });
    try {
      const account = await store.findAccount('dan');
      const inbox = await store.getMailbox(account!.id, 'INBOX');
      return (await store.mailboxCounts(account!.id, inbox!.id)).messages;
    } finally {
      await store.close();
    }
  }

  it('stops after a committed batch with exit code 130; the next run adds exactly the rest', async () => {
    const args = ['import', 'dan', join(dir, 'big.mbox'), '--data-dir', join(dir, 'data')];
    const child = startMailkeep(args);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    // Ctrl-C once the first batch is committed (another process reads the same store).
    const deadline = Date.now() + 30_000;
    while ((await inboxCount()) === 0) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `no batch committed: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted: stopping after the current batch/);
    assert.match(stderr, /run the same command again to resume/);
    const done = await inboxCount();
    assert.ok(done > 0 && done < MESSAGES, `${done} messages after Ctrl-C`);
    assert.equal(done % 200, 0, 'whole batches only');
    assert.match(stdout, new RegExp(`^imported ${done.toLocaleString('en-US')} messages`));

    const rest = mailkeep(args);
    assert.equal(rest.status, 0, rest.stderr);
    assert.match(rest.stdout, new RegExp(`^imported ${(MESSAGES - done).toLocaleString('en-US')} messages .*; ${done.toLocaleString('en-US')} already there`));
    assert.equal(await inboxCount(), MESSAGES);
  });
});

describe('progress display', () => {
  function fake(isTTY: boolean): { out: { isTTY: boolean; columns: number; write: (s: string) => void }; text: () => string } {
    let text = '';
    return { out: { isTTY, columns: 120, write: (s: string) => void (text += s) }, text: () => text };
  }

  it('prints a plain line every 5 seconds and at the end when not on a terminal', () => {
    let now = 0;
    const { out, text } = fake(false);
    const p = new Progress('import', out, { now: () => now });
    p.begin({ messages: 100, bytes: 100 * 1024 });
    now = 1000;
    p.advance(10, 10 * 1024);
    assert.equal(text(), '', 'nothing before the first interval');
    now = 5000;
    p.advance(40, 40 * 1024);
    assert.equal(text(), 'import: 50/100 messages, 50.0 KiB/100.0 KiB, 10 msg/s, ETA 5s\n');
    now = 6000;
    p.advance(50, 50 * 1024);
    p.finish();
    assert.equal(text().split('\n')[1], 'import: 100/100 messages, 100.0 KiB/100.0 KiB, 17 msg/s');
  });

  it('redraws a bar in place on a terminal', () => {
    let now = 0;
    const { out, text } = fake(true);
    const p = new Progress('migrate', out, { now: () => now });
    p.begin({ messages: 4 });
    now = 2000;
    p.advance(1, 2048);
    assert.equal(text(), '\r\x1b[Kmigrate [######------------------] 25% 1/4 messages, 2.0 KiB, 1 msg/s, ETA 6s');
    p.finish();
    assert.ok(text().endsWith('\n'));
  });

  it('formats sizes and durations', () => {
    assert.deepEqual([formatBytes(512), formatBytes(1536), formatBytes(5 * 2 ** 30)], ['512 B', '1.5 KiB', '5.0 GiB']);
    assert.deepEqual([formatDuration(42), formatDuration(187), formatDuration(3723)], ['42s', '3:07', '1:02:03']);
  });
});
