/** `mailkeep quota set|get` run as child processes against a temporary data directory. */
import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import type { QuotaUsage } from '../src/store/types.js';
import { mailkeep } from './cli-helpers.js';

/** Limits and usage of an account, read through the store as the server would. */
async function quotaOf(dataDir: string, name: string): Promise<QuotaUsage> {
  const store = await openStore({ dataDir });
  try {
    const account = await store.findAccount(name);
    assert.ok(account);
    return await store.getQuotaUsage(account.id);
  } finally {
    await store.close();
  }
}

/** Appends one message to the user's INBOX through the store. */
async function deliver(dataDir: string, name: string, bytes: Buffer): Promise<void> {
  const { analyzeMessage } = await import('../src/mime/analyze.js');
  const store = await openStore({ dataDir });
  try {
    const account = await store.findAccount(name);
    const inbox = account && (await store.getMailbox(account.id, 'INBOX'));
    assert.ok(account && inbox);
    const blob = await store.blobs.put(bytes);
    await store.appendMessages(account.id, inbox.id, [{ blob, analysis: analyzeMessage(bytes), flags: [], internalDate: new Date() }]);
  } finally {
    await store.close();
  }
}

const MSG = Buffer.from('Subject: hi\r\n\r\nHello\r\n');
const USED = MSG.length;

describe('mailkeep quota', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mailkeep-cli-quota-'));
  const dd = ['--data-dir', dataDir];

  it('shows an account without limits', async () => {
    assert.equal(mailkeep(['user', 'add', 'alice', '--password-stdin', ...dd], 'pw\n').status, 0);
    await deliver(dataDir, 'alice', MSG);
    assert.deepEqual(mailkeep(['quota', 'get', 'alice', ...dd]), {
      status: 0,
      stdout: `storage: ${USED} bytes used, unlimited\nmessages: 1 used, unlimited\n`,
      stderr: '',
    });
  });

  it('sets limits; a limit not given is kept; "none" removes one', async () => {
    assert.deepEqual(mailkeep(['quota', 'set', 'alice', '--storage', '1048576', '--messages', '100', ...dd]), {
      status: 0,
      stdout: 'quota of alice: storage 1048576 bytes, messages 100\n',
      stderr: '',
    });
    assert.deepEqual(await quotaOf(dataDir, 'alice'), { storage: 1048576, messages: 100, usedStorage: USED, usedMessages: 1 });
    assert.equal(mailkeep(['quota', 'set', 'ALICE', '--messages', 'none', ...dd]).stdout, 'quota of ALICE: storage 1048576 bytes, messages unlimited\n');
    assert.deepEqual(await quotaOf(dataDir, 'alice'), { storage: 1048576, messages: null, usedStorage: USED, usedMessages: 1 });
    assert.equal(mailkeep(['quota', 'get', 'alice', ...dd]).stdout, `storage: ${USED} bytes used, limit 1048576 bytes\nmessages: 1 used, unlimited\n`);
    assert.equal(mailkeep(['quota', 'set', 'alice', '--storage', 'NONE', '--messages', '0', ...dd]).status, 0);
    assert.deepEqual(await quotaOf(dataDir, 'alice'), { storage: null, messages: 0, usedStorage: USED, usedMessages: 1 });
  });

  it('refuses bad values and a missing limit with exit 2, changing nothing', async () => {
    for (const args of [['--storage', '-1'], ['--storage', '1.5'], ['--messages', 'lots'], ['--storage', '99999999999999999'], []]) {
      const r = mailkeep(['quota', 'set', 'alice', ...args, ...dd]);
      assert.equal(r.status, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^mailkeep: /);
    }
    assert.deepEqual(await quotaOf(dataDir, 'alice'), { storage: null, messages: 0, usedStorage: USED, usedMessages: 1 });
  });

  it('reports unknown users with exit 1', () => {
    assert.deepEqual(mailkeep(['quota', 'get', 'bob', ...dd]), { status: 1, stdout: '', stderr: 'mailkeep: no such user: bob\n' });
    assert.deepEqual(mailkeep(['quota', 'set', 'bob', '--messages', '5', ...dd]), { status: 1, stdout: '', stderr: 'mailkeep: no such user: bob\n' });
  });
});
