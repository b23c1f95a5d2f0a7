/**
 * A real LMTP client: Debian's swaks (`--protocol LMTP`), as a child
 * process against a running server. Skipped when swaks is not installed
 * (.ci/run installs it: `apt-get install -y swaks`).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { MailStore } from '../src/store/types.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const hasSwaks = spawnSync('swaks', ['--version'], { stdio: 'ignore' }).status === 0;
const run = promisify(execFile);

/** Runs swaks against the server; resolves with its exit code and transcript whatever the code. */
async function swaks(port: number, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run('swaks', ['--protocol', 'LMTP', '--server', '127.0.0.1', '--port', String(port), '--helo', 'swaks.test', ...args], {
      timeout: 30_000,
    });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, out: e.stdout ?? '' };
  }
}

async function inboxCount(store: MailStore, user: string): Promise<number> {
  const account = (await store.findAccount(user))!;
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  return (await store.mailboxCounts(account.id, inbox.id)).messages;
}

describe('swaks --protocol LMTP', { skip: hasSwaks ? false : 'swaks is not installed' }, () => {
  let srv: TestServer;
  let store: MailStore;

  before(async () => {
    srv = await startTestServer({ lmtp: { domains: ['example.com'] } });
    store = srv.server.store;
    for (const name of ['ann', 'ben', 'full']) await store.createAccount(name, 'x');
    await store.setQuota((await store.findAccount('full'))!.id, { storage: 100, messages: null });
  });
  after(() => srv.stop());

  it('delivers one pipelined transaction to valid recipients and reports unknown and over-quota ones', async () => {
    const { code, out } = await swaks(srv.lmtpPort, [
      '--pipeline',
      '--from',
      'sender@example.org',
      '--to',
      'ann@example.com,nobody@example.com,full@example.com,ben+Work@example.com',
      '--header',
      'Subject: swaks test',
      '--body',
      'Hello from swaks.',
    ]);
    assert.match(out, /<- {2}250-PIPELINING/);
    assert.match(out, /<\*\* 550 5\.1\.1 <nobody@example\.com> User unknown/);
    assert.match(out, /<- {2}250 2\.0\.0 <ann@example\.com> Saved/);
    assert.match(out, /<\*\* 552 5\.2\.2 <full@example\.com> Mailbox full/);
    assert.match(out, /<- {2}250 2\.0\.0 <ben\+Work@example\.com> Saved/);
    assert.match(out, /<- {2}221 /);
    assert.equal(code, 0, 'the transaction went through for the accepted recipients');
    assert.deepEqual([await inboxCount(store, 'ann'), await inboxCount(store, 'ben'), await inboxCount(store, 'full')], [1, 1, 0]);
  });

  it('exits 0 for a clean delivery and the stored copy starts with the trace lines', async () => {
    const { code, out } = await swaks(srv.lmtpPort, ['--from', 'bounces@example.org', '--to', 'ann@example.com', '--header', 'Subject: bounce', '--body', 'x']);
    assert.equal(code, 0, out);
    const account = (await store.findAccount('ann'))!;
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    const [last] = (await store.listSummaries(account.id, inbox.id)).slice(-1);
    const [rec] = await store.getRecords(account.id, inbox.id, [last!.uid]);
    const text = (await store.blobs.read(rec!.blobId)).toString('utf8');
    assert.match(text, /^Return-Path: <bounces@example\.org>\r\nDelivered-To: ann@example\.com\r\nDate: /);
    assert.match(text, /\r\nSubject: bounce\r\n/);
  });
});
