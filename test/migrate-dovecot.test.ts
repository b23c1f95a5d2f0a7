/**
 * `migrate` from a Dovecot on loopback (Debian's dovecot-imapd, started by
 * bench/dovecot.ts with a throwaway config): the first run copies every
 * mailbox with Dovecot's UIDs, UIDVALIDITY, flags, dates and bytes; a second
 * run copies only new messages and flag changes (CONDSTORE); an interrupted
 * run resumes without duplicates. Skipped when Dovecot is not installed or
 * the tests do not run as root (Dovecot's setup needs both).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { startDovecot } from '../bench/dovecot.js';
import type { BenchServer } from '../bench/bench-server.js';
import { generateMessage } from '../bench/messages.js';
import type { AccountId } from '../src/ids.js';
import { NO_PROGRESS, type ProgressSink } from '../src/mail/import/types.js';
import { migrateAccount, parseSourceUrl, type MigrateOptions } from '../src/mail/migrate/migrate-account.js';
import type { OpenedStore } from '../src/store/open.js';
import { openStore } from '../src/store/open.js';
import { mailkeep } from './cli-helpers.js';
import { accountView, type MailboxView } from './import-helpers.js';

const hasDovecot = spawnSync('dovecot', ['--version']).status === 0;
const skip = !hasDovecot ? 'dovecot is not installed (apt-get install -y dovecot-imapd)' : process.getuid?.() !== 0 ? 'Dovecot needs root here' : false;

/** Dovecot's own view of the account, names in mailkeep's form (through `rename`). */
async function dovecotView(client: ImapFlow, rename: (name: string) => string): Promise<Record<string, MailboxView>> {
  const out: Record<string, MailboxView> = {};
  for (const entry of await client.list()) {
    const mb = await client.mailboxOpen(entry.path, { readOnly: true });
    const messages = mb.exists === 0 ? [] : await client.fetchAll('1:*', { uid: true, flags: true, internalDate: true, size: true, source: true });
    out[rename([...entry.parent, entry.name].join('/'))] = {
      uidValidity: Number(mb.uidValidity),
      messages: messages.map((m) => ({
        uid: m.uid,
        flags: [...m.flags!].filter((f) => f !== '\\Recent').sort(),
        internalDate: new Date(m.internalDate!).toISOString(),
        size: m.size!,
        sha256: createHash('sha256').update(m.source!).digest('hex'),
      })),
    };
  }
  return out;
}

/** Only the mailboxes the source has (mailkeep's default mailboxes may exist besides). */
function pick(view: Record<string, MailboxView>, names: string[]): Record<string, MailboxView> {
  return Object.fromEntries(names.map((n) => [n, view[n]!]));
}

describe('migrate from Dovecot', { skip }, () => {
  let dovecot: BenchServer;
  let client: ImapFlow;
  let dir: string;
  let store: OpenedStore;
  let accountId: AccountId;
  // "Sent Messages" is a \Sent folder by name: it goes to mailkeep's Sent.
  const rename = (n: string): string => (n === 'Sent Messages' ? 'Sent' : n);
  const opts = (over: Partial<MigrateOptions> = {}): MigrateOptions => ({
    url: `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`,
    password: dovecot.password,
    insecure: false,
    maxMessageSize: 50 * 1024 * 1024,
    progress: NO_PROGRESS,
    warn: assert.fail,
    ...over,
  });
  const append = (box: string, i: number, flags: string[], date: string) => client.append(box, generateMessage(i, 'realistic').bytes, flags, new Date(date));

  before(async () => {
    dovecot = await startDovecot({ maxConnections: 10, keep: false });
    client = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.port,
      secure: false,
      auth: { user: dovecot.user, pass: dovecot.password },
      logger: false,
      disableAutoIdle: true,
    });
    await client.connect();
    for (const name of ['Sent Messages', 'Work', 'Work.Projects']) await client.mailboxCreate(name);
    for (let i = 0; i < 12; i++)
      await append('INBOX', i, i % 3 === 0 ? ['\\Seen'] : i % 3 === 1 ? ['\\Flagged', '$Label1'] : [], `2023-06-${String(i + 1).padStart(2, '0')}T08:00:00Z`);
    await append('Sent Messages', 20, ['\\Seen'], '2023-07-01T12:00:00Z');
    await append('Work.Projects', 21, ['\\Seen', '\\Answered'], '2023-07-02T12:00:00Z');
    await client.mailboxOpen('INBOX');
    await client.messageDelete('4', { uid: true }); // a UID gap
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-migrate-'));
    store = await openStore({ dataDir: join(dir, 'data') });
    accountId = (await store.createAccount('alice', 'x')).id;
  });
  after(async () => {
    await client?.logout().catch(() => undefined);
    await store?.close();
    await dovecot?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies every mailbox with UIDs, UIDVALIDITY, flags, dates and bytes', async () => {
    const summary = await migrateAccount(store, accountId, opts());
    assert.deepEqual([summary.messages, summary.skipped, summary.rejected, summary.interrupted], [13, 0, 0, false]);
    const want = await dovecotView(client, rename);
    assert.deepEqual(pick(await accountView(store, accountId), Object.keys(want)), want);
    assert.equal(await store.getMailbox(accountId, 'Sent Messages'), null, 'mapped to Sent by its special use');
  });

  it('a second run copies only new messages and flag changes', async () => {
    await client.mailboxOpen('INBOX');
    await client.messageFlagsAdd('1', ['\\Answered', 'Project-X'], { uid: true });
    await client.messageFlagsRemove('2', ['\\Flagged'], { uid: true });
    await append('INBOX', 30, [], '2023-08-01T00:00:00Z');
    await append('INBOX', 31, ['\\Draft'], '2023-08-02T00:00:00Z');
    await append('Sent Messages', 32, ['\\Seen'], '2023-08-03T00:00:00Z');
    await client.mailboxCreate('Later');
    await append('Later', 33, [], '2023-08-04T00:00:00Z');
    const summary = await migrateAccount(store, accountId, opts());
    assert.deepEqual([summary.messages, summary.flagsUpdated, summary.skipped], [4, 2, 0]);
    const want = await dovecotView(client, rename);
    assert.deepEqual(pick(await accountView(store, accountId), Object.keys(want)), want);
    const third = await migrateAccount(store, accountId, opts());
    assert.deepEqual([third.messages, third.flagsUpdated], [0, 0]);
  });

  it('resumes an interrupted run without duplicates', async () => {
    const account = await store.createAccount('resume', 'x');
    const controller = new AbortController();
    const progress: ProgressSink = { begin() {}, advance: () => controller.abort() };
    const first = await migrateAccount(store, account.id, opts({ progress, signal: controller.signal }));
    assert.equal(first.interrupted, true);
    assert.ok(first.messages > 0 && first.messages < 17, `copied ${first.messages} before stopping`);
    const second = await migrateAccount(store, account.id, opts());
    assert.equal(first.messages + second.messages, 17);
    const want = await dovecotView(client, rename);
    assert.deepEqual(pick(await accountView(store, account.id), Object.keys(want)), want);
  });

  it('runs from the command line with the password on stdin', async () => {
    const data = join(dir, 'cli-data');
    assert.equal(mailkeep(['user', 'add', 'bob', '--password-stdin', '--data-dir', data], 'pw\n').status, 0);
    const args = ['migrate', 'bob', '--from', `imap://${dovecot.user}@127.0.0.1:${dovecot.port}`, '--password-stdin', '--data-dir', data];
    const r = mailkeep(args, `${dovecot.password}\n`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^copied 17 messages \(.*\) from 5 mailboxes, updated the flags of 0 messages\n$/);
    const again = mailkeep(args, `${dovecot.password}\n`);
    assert.match(again.stdout, /^copied 0 messages/);
    const wrong = mailkeep(args, 'wrong\n');
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /source server/);
  });
});

describe('migrate: source URLs', () => {
  it('parses imap and imaps URLs and refuses passwords in them', () => {
    assert.deepEqual(parseSourceUrl('imaps://a%40b.org@mail.example.org'), {
      secure: true,
      host: 'mail.example.org',
      port: 993,
      user: 'a@b.org',
      id: 'imaps://a%40b.org@mail.example.org:993',
    });
    assert.equal(parseSourceUrl('imap://u@[::1]:1143').host, '::1');
    assert.throws(() => parseSourceUrl('imaps://u:secret@h'), /password/);
    assert.throws(() => parseSourceUrl('pop3://u@h'), /unsupported scheme/);
    assert.throws(() => parseSourceUrl('imaps://h'), /user and a host/);
  });
});
