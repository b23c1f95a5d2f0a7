/**
 * mbox import and export: From_ lines inside bodies survive byte for byte
 * (mboxrd), mboxo's lossy unquoting, flags from Status headers, dates from
 * From_ lines, LF → CRLF, idempotency, the size limit, and the CLI.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportAccount } from '../src/mail/export/export-account.js';
import { importPath, type ImportOptions } from '../src/mail/import/import-path.js';
import { toCrlf, toLf } from '../src/mail/import/line-endings.js';
import { parseFromLineDate } from '../src/mail/import/mbox-reader.js';
import { NO_PROGRESS } from '../src/mail/import/types.js';
import type { OpenedStore } from '../src/store/open.js';
import { openStore } from '../src/store/open.js';
import { mailkeep } from './cli-helpers.js';
import { accountView } from './import-helpers.js';

function options(over: Partial<ImportOptions> = {}): ImportOptions {
  return { format: 'auto', mailbox: 'INBOX', mboxFormat: 'mboxrd', maxMessageSize: 1024 * 1024, progress: NO_PROGRESS, warn: assert.fail, ...over };
}

/** An mboxrd file as mailkeep writes it: From_ lines name the Return-Path (or From) address and the date in UTC. */
const MBOXRD = [
  'From alice@example.org Mon Jan  1 10:00:00 2024',
  'Return-Path: <alice@example.org>',
  'From: Alice <alice@example.org>',
  'Subject: body lines that look like From_ lines',
  '',
  '>From the start of a line',
  '>>From a line that was ">From" in the message',
  '>>>From and one that was ">>From"',
  ' From not at the start of a line',
  '>Fromage is not quoted',
  '',
  'From bob@example.org Tue Jan  2 11:30:05 2024',
  'From: bob@example.org',
  'Subject: flags',
  'Status: RO',
  'X-Status: AF',
  'X-Keywords: $Label1 work',
  '',
  'flagged, answered, seen',
  '',
  'From MAILER-DAEMON Wed Jan 31 23:59:59 2024',
  'Subject: no sender, ends with an empty line',
  '',
  'body',
  '',
  '',
  '',
].join('\n');

/** The messages as IMAP must serve them: unquoted once, CRLF. */
const STORED = [
  'Return-Path: <alice@example.org>\r\nFrom: Alice <alice@example.org>\r\nSubject: body lines that look like From_ lines\r\n\r\nFrom the start of a line\r\n>From a line that was ">From" in the message\r\n>>From and one that was ">>From"\r\n From not at the start of a line\r\n>Fromage is not quoted\r\n',
  'From: bob@example.org\r\nSubject: flags\r\nStatus: RO\r\nX-Status: AF\r\nX-Keywords: $Label1 work\r\n\r\nflagged, answered, seen\r\n',
  'Subject: no sender, ends with an empty line\r\n\r\nbody\r\n\r\n',
];

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

describe('import and export: mbox', () => {
  let dir: string;
  let store: OpenedStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-import-mbox-'));
    store = await openStore({ dataDir: join(dir, 'data'), defaultMailboxes: [] });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores mboxrd messages unquoted with CRLF, flags from Status headers, dates from From_ lines', async () => {
    await writeFile(join(dir, 'in.mbox'), MBOXRD);
    const account = await store.createAccount('rd', 'x');
    const summary = await importPath(store, account.id, join(dir, 'in.mbox'), options());
    assert.equal(summary.messages, 3);
    const view = await accountView(store, account.id);
    assert.deepEqual(
      view.INBOX!.messages.map((m) => [m.sha256, m.flags, m.internalDate]),
      [
        [sha(STORED[0]!), [], '2024-01-01T10:00:00.000Z'],
        [sha(STORED[1]!), ['$Label1', '\\Answered', '\\Flagged', '\\Seen', 'work'], '2024-01-02T11:30:05.000Z'],
        [sha(STORED[2]!), [], '2024-01-31T23:59:59.000Z'],
      ],
    );
  });

  it('exports the same file byte for byte (From_ lines inside bodies included)', async () => {
    const account = await store.findAccount('rd');
    const out = join(dir, 'out.mbox');
    await exportAccount(store, account!.id, out, { format: 'mbox', mailbox: 'INBOX', mboxFormat: 'mboxrd', progress: NO_PROGRESS, warn: assert.fail });
    assert.equal((await readFile(out)).toString('latin1'), MBOXRD);
  });

  it('adds nothing when run again, but keeps identical messages that occur twice in a file', async () => {
    const account = await store.findAccount('rd');
    assert.equal((await importPath(store, account!.id, join(dir, 'in.mbox'), options())).skipped, 3);
    const twice = join(dir, 'twice.mbox');
    const one = 'From x@example.org Thu Feb  1 00:00:00 2024\nSubject: same\n\nsame\n\n';
    await writeFile(twice, one + one);
    const other = await store.createAccount('twice', 'x');
    assert.equal((await importPath(store, other.id, twice, options())).messages, 2);
    const again = await importPath(store, other.id, twice, options());
    assert.deepEqual([again.messages, again.skipped], [0, 2]);
  });

  it('mboxo removes one ">" from ">From " lines only, and quotes only "From " lines on export', async () => {
    const file = join(dir, 'o.mbox');
    await writeFile(file, 'From a@example.org Fri Mar  1 12:00:00 2024\nSubject: o\n\n>From quoted\n>>From left alone\n\n');
    const account = await store.createAccount('o', 'x');
    await importPath(store, account.id, file, options({ mboxFormat: 'mboxo' }));
    const [m] = (await accountView(store, account.id)).INBOX!.messages;
    assert.equal(m!.sha256, sha('Subject: o\r\n\r\nFrom quoted\r\n>>From left alone\r\n'));
    const out = join(dir, 'o-out.mbox');
    await exportAccount(store, account.id, out, { format: 'mbox', mailbox: 'INBOX', mboxFormat: 'mboxo', progress: NO_PROGRESS, warn: assert.fail });
    assert.equal((await readFile(out, 'latin1')).split('\n\n')[1], '>From quoted\n>>From left alone');
  });

  it('splits at a dated From_ line without an empty line before it, and leaves out messages over the size limit', async () => {
    const file = join(dir, 'mixed.mbox');
    const big = 'x'.repeat(2000);
    await writeFile(
      file,
      `From a@b Sat Mar  2 00:00:00 2024\nSubject: 1\n\none\nFrom a@b Sun Mar  3 00:00:00 2024 +0100\nSubject: 2\n\n${big}\n\nFrom a@b Mon Mar  4 00:00:00 2024\nSubject: 3\n\nthree\n`,
    );
    const account = await store.createAccount('mixed', 'x');
    const warnings: string[] = [];
    const summary = await importPath(store, account.id, file, options({ maxMessageSize: 1000, warn: (w) => warnings.push(w) }));
    assert.deepEqual([summary.messages, summary.rejected], [2, 1]);
    assert.match(warnings.join('\n'), /larger than the limit of 1000 bytes/);
    const view = (await accountView(store, account.id)).INBOX!.messages;
    assert.deepEqual(
      view.map((m) => m.sha256),
      [sha('Subject: 1\r\n\r\none\r\n'), sha('Subject: 3\r\n\r\nthree\r\n')],
    );
  });

  it('reads From_ line dates in their common forms', () => {
    assert.equal(parseFromLineDate('a@b Thu Jan  1 00:00:00 1970')?.toISOString(), '1970-01-01T00:00:00.000Z');
    assert.equal(parseFromLineDate('a@b Sun Mar  3 00:00:00 2024 +0100')?.toISOString(), '2024-03-02T23:00:00.000Z');
    assert.equal(parseFromLineDate('MAILER-DAEMON Fri Jul 8 12:08 2011')?.toISOString(), '2011-07-08T12:08:00.000Z');
    assert.equal(parseFromLineDate('a@b yesterday'), null);
  });

  it('converts only line ends: bare LF → CRLF and back, lone CR untouched', () => {
    const mixed = Buffer.from('a\nb\r\nc\rd\n');
    assert.equal(toCrlf(mixed).toString('latin1'), 'a\r\nb\r\nc\rd\r\n');
    assert.equal(toLf(toCrlf(mixed)).toString('latin1'), 'a\nb\nc\rd\n');
    const crlf = Buffer.from('x\r\n');
    assert.equal(toCrlf(crlf), crlf, 'no copy when there is nothing to convert');
  });
});

describe('mailkeep import / export (CLI)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-import-cli-'));
    await writeFile(join(dir, 'in.mbox'), MBOXRD);
    assert.equal(mailkeep(['user', 'add', 'carol', '--password-stdin', '--data-dir', join(dir, 'data')], 'pw\n').status, 0);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('imports, reports progress as plain lines when stderr is not a terminal, and round-trips', () => {
    const data = ['--data-dir', join(dir, 'data')];
    const r = mailkeep(['import', 'carol', join(dir, 'in.mbox'), ...data]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^imported 3 messages \(.*\) into 1 mailbox\n$/);
    assert.match(r.stderr, /^import: 3\/3 messages, .* B\n$/);
    const again = mailkeep(['import', 'carol', join(dir, 'in.mbox'), ...data]);
    assert.match(again.stdout, /imported 0 messages .*; 3 already there/);
    const out = mailkeep(['export', 'carol', join(dir, 'out'), '--format', 'mbox', ...data]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^exported 3 messages/);
  });

  it('refuses to export over existing files, to unknown users and without a format', async () => {
    const data = ['--data-dir', join(dir, 'data')];
    await writeFile(join(dir, 'taken'), 'x');
    const taken = mailkeep(['export', 'carol', join(dir, 'taken'), '--format', 'maildir', ...data]);
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /already exists/);
    const nobody = mailkeep(['import', 'nobody', join(dir, 'in.mbox'), ...data]);
    assert.equal(nobody.status, 1);
    assert.match(nobody.stderr, /no such user: nobody/);
    assert.equal(mailkeep(['export', 'carol', join(dir, 'x'), ...data]).status, 2);
  });
});
