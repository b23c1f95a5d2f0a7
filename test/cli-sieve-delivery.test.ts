/**
 * The Sieve script at `mailkeep deliver` (a child process as an MTA runs it:
 * fileinto with flags, reject as exit 77 with the reason, a broken script
 * keeps in INBOX) and `mailkeep sieve test` (what a script would do, with
 * nothing stored).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import { mailkeep } from './cli-helpers.js';

const SCRIPT = `require ["fileinto", "imap4flags", "reject", "vacation", "mailbox"];
if header :contains "subject" "invoice" { fileinto :create :flags "\\\\Seen $Paid" "Bills"; stop; }
if header :contains "subject" "spam" { reject "Not wanted here."; stop; }
vacation :days 2 :subject "Away" "Back soon.";
`;

const mail = (subject: string): string =>
  `From: ann@example.org\r\nTo: erin@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.length}@x>\r\n\r\nhello\r\n`;

/** Subjects and flags of a mailbox's messages. */
async function contents(dataDir: string, user: string, name: string): Promise<Array<{ subject: string; flags: string[] }>> {
  const store = await openStore({ dataDir });
  try {
    const account = (await store.findAccount(user))!;
    const mb = await store.getMailbox(account.id, name);
    if (!mb) return [];
    const records = await store.getRecords(
      account.id,
      mb.id,
      (await store.listSummaries(account.id, mb.id)).map((s) => s.uid),
    );
    return await Promise.all(
      records.map(async (r) => ({ subject: /Subject: (.*)\r\n/.exec((await store.blobs.read(r.blobId)).toString())?.[1] ?? '', flags: r.flags })),
    );
  } finally {
    await store.close();
  }
}

describe('Sieve with mailkeep deliver and sieve test', () => {
  let dir: string;
  let dataDir: string;
  const run = (args: string[], input = '') => mailkeep([...args, '--data-dir', dataDir], input);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-sieve-cli-'));
    dataDir = join(dir, 'data');
    const store = await openStore({ dataDir });
    try {
      await store.createAccount('erin', 'x');
    } finally {
      await store.close();
    }
    await writeFile(join(dir, 'main.sieve'), SCRIPT);
    assert.equal(run(['sieve', 'put', 'erin', 'main', join(dir, 'main.sieve'), '--activate']).status, 0);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('sieve test prints the actions and stores nothing', () => {
    const invoice = run(['sieve', 'test', 'erin', '--envelope-from', 'ann@example.org', '--envelope-to', 'erin@example.com'], mail('invoice 42'));
    assert.equal(invoice.status, 0, invoice.stderr);
    assert.equal(invoice.stdout, 'fileinto "Bills" flags \\Seen $Paid (created)\n');
    const hello = run(['sieve', 'test', 'erin', '--envelope-from', 'ann@example.org', '--envelope-to', 'erin@example.com'], mail('hello'));
    assert.equal(hello.stdout, 'vacation reply to ann@example.org, subject "Away", once per 172800 s\nkeep (implicit)\n');
    const spam = run(['sieve', 'test', 'erin'], mail('spam'));
    assert.equal(spam.stdout, 'reject: Not wanted here.\n');
  });

  it('sieve check warns that vacation mail is not sent without [relay]', () => {
    const checked = run(['sieve', 'check', 'erin', 'main']);
    assert.equal(checked.stdout, 'ok\n');
    assert.match(checked.stderr, /no \[relay\] host is configured/);
    const withRelay = mailkeep(['sieve', 'check', 'erin', 'main', '--data-dir', dataDir], '', { MAILKEEP_RELAY__HOST: '127.0.0.1' });
    assert.equal(withRelay.stderr, '');
  });

  it('sieve test --script runs a file instead, and reports its errors', async () => {
    await writeFile(join(dir, 'other.sieve'), 'discard;');
    assert.equal(run(['sieve', 'test', 'erin', '--script', join(dir, 'other.sieve')], mail('x')).stdout, 'discard\n');
    await writeFile(join(dir, 'bad.sieve'), 'if true { keep');
    const bad = run(['sieve', 'test', 'erin', '--script', join(dir, 'bad.sieve')], mail('x'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /the script has errors[\s\S]*1:\d+:/);
  });

  it('spamtest reads the header [sieve] spamtest-header names', async () => {
    const script =
      'require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];\nif spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto "Junk"; }';
    await writeFile(join(dir, 'spam.sieve'), script);
    const message = `X-Spam-Score: 8.5\r\n${mail('offer')}`;
    const args = ['sieve', 'test', 'erin', '--script', join(dir, 'spam.sieve'), '--data-dir', dataDir];
    const env = { MAILKEEP_SIEVE__SPAMTEST_HEADER: 'X-Spam-Score', MAILKEEP_SIEVE__SPAMTEST_MAX: '10' };
    assert.equal(mailkeep(args, message, env).stdout, 'fileinto "Junk"\n');
    // Without the setting the message counts as not tested (RFC 5235 §3.2: "0").
    assert.equal(mailkeep(args, message).stdout, 'keep (implicit)\n');
  });

  it('deliver files with flags, rejects with exit 77 and the reason, and keeps the rest', async () => {
    assert.deepEqual(await contents(dataDir, 'erin', 'Bills'), [], 'sieve test stored nothing');
    assert.equal(run(['deliver', '--to', 'erin', '--from', 'ann@example.org'], mail('invoice 7')).status, 0);
    assert.deepEqual(await contents(dataDir, 'erin', 'Bills'), [{ subject: 'invoice 7', flags: ['\\Seen', '$Paid'] }]);
    const rejected = run(['deliver', '--to', 'erin', '--from', 'ann@example.org'], mail('spam'));
    assert.equal(rejected.status, 77);
    assert.match(rejected.stderr, /^Not wanted here\.$/m);
    // Without [relay] the vacation reply is logged and skipped; the message is kept.
    const kept = run(['deliver', '--to', 'erin@example.com', '--from', 'ann@example.org'], mail('hello'));
    assert.equal(kept.status, 0);
    assert.match(kept.stderr, /no \[relay\] host configured/);
    assert.deepEqual(
      (await contents(dataDir, 'erin', 'INBOX')).map((m) => m.subject),
      ['hello'],
    );
  });
});
