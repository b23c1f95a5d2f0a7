/**
 * Maildir import and export against a Maildir made by Dovecot 2.3
 * (test/fixtures/maildir/, recorded by record.mjs there): mailkeep's import
 * must show exactly what Dovecot's IMAP showed (UIDs, UIDVALIDITY, flags,
 * INTERNALDATEs, BODY[] bytes), and export → import must reproduce it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportAccount } from '../src/mail/export/export-account.js';
import { flagsFromMaildirInfo, maildirInfo } from '../src/mail/import/flag-codes.js';
import { importPath, type ImportOptions } from '../src/mail/import/import-path.js';
import { maildirFolderDir, maildirFolderName, mboxFilePath } from '../src/mail/import/mailbox-names.js';
import { parseDovecotUidlist } from '../src/mail/import/maildir-reader.js';
import { NO_PROGRESS, type ProgressSink } from '../src/mail/import/types.js';
import { openStore } from '../src/store/open.js';
import type { OpenedStore } from '../src/store/open.js';
import { accountView, copyMaildirFixture, dovecotExpectation, withoutUids } from './import-helpers.js';

function options(over: Partial<ImportOptions> = {}): ImportOptions {
  return { format: 'auto', mailbox: 'INBOX', mboxFormat: 'mboxrd', maxMessageSize: 50 * 1024 * 1024, progress: NO_PROGRESS, warn: () => {}, ...over };
}

describe('import: a Maildir++ tree made by Dovecot', () => {
  let dir: string;
  let store: OpenedStore;
  const expected = dovecotExpectation();
  const total = Object.values(expected).reduce((s, m) => s + m.messages.length, 0);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-import-maildir-'));
    copyMaildirFixture(join(dir, 'Maildir'));
    store = await openStore({ dataDir: join(dir, 'data'), defaultMailboxes: [] });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("shows exactly Dovecot's view: UIDs, UIDVALIDITY, flags, INTERNALDATEs and BODY[] bytes", async () => {
    const account = await store.createAccount('alice', 'x');
    const warnings: string[] = [];
    const summary = await importPath(store, account.id, join(dir, 'Maildir'), options({ warn: (m) => warnings.push(m) }));
    assert.deepEqual(warnings, []);
    assert.equal(summary.messages, total);
    assert.equal(summary.mailboxes, Object.keys(expected).length);
    assert.deepEqual(await accountView(store, account.id), expected);
    // Dovecot's subscriptions file: everything it listed (INBOX is always there).
    assert.deepEqual((await store.listSubscriptions(account.id)).sort(), ['Archive', 'Archive/2023', 'Entwürfe', 'INBOX', 'Sent']);
  });

  it('adds nothing when run again', async () => {
    const account = await store.findAccount('alice');
    const summary = await importPath(store, account!.id, join(dir, 'Maildir'), options());
    assert.equal(summary.messages, 0);
    assert.equal(summary.skipped, total);
    assert.deepEqual(await accountView(store, account!.id), expected);
  });

  it('resumes an interrupted import without duplicates, keeping UIDs', async () => {
    const account = await store.createAccount('resume', 'x');
    const controller = new AbortController();
    let reported = 0;
    // Ctrl-C as the CLI does it: the signal fires while a batch is under way.
    const progress: ProgressSink = {
      begin() {},
      advance: (n) => {
        reported += n;
        if (reported >= 2) controller.abort();
      },
    };
    const first = await importPath(store, account.id, join(dir, 'Maildir'), options({ batchSize: 2, progress, signal: controller.signal }));
    assert.equal(first.interrupted, true);
    assert.equal(first.messages, 2, 'exactly the batch that was being committed');
    const second = await importPath(store, account.id, join(dir, 'Maildir'), options({ batchSize: 2 }));
    assert.equal(second.interrupted, false);
    assert.equal(second.messages, total - 2);
    assert.equal(second.skipped, 2);
    assert.deepEqual(await accountView(store, account.id), expected);
  });

  it('export as Maildir → import into a fresh account gives identical messages, flags, dates and UIDs', async () => {
    const source = await store.findAccount('alice');
    const out = join(dir, 'export-maildir');
    const exported = await exportAccount(store, source!.id, out, {
      format: 'maildir',
      mailbox: null,
      mboxFormat: 'mboxrd',
      progress: NO_PROGRESS,
      warn: assert.fail,
    });
    assert.equal(exported.messages, total);
    const fresh = await openStore({ dataDir: join(dir, 'data-fresh'), defaultMailboxes: [] });
    try {
      const account = await fresh.createAccount('alice', 'x');
      const summary = await importPath(fresh, account.id, out, options({ warn: assert.fail }));
      assert.equal(summary.messages, total);
      assert.deepEqual(await accountView(fresh, account.id), expected);
      assert.deepEqual((await fresh.listSubscriptions(account.id)).sort(), ['Archive', 'Archive/2023', 'Entwürfe', 'INBOX', 'Sent']);
    } finally {
      await fresh.close();
    }
  });

  it('export as mbox → import into a fresh account gives identical messages, flags and dates', async () => {
    const source = await store.findAccount('alice');
    const out = join(dir, 'export-mbox');
    await exportAccount(store, source!.id, out, { format: 'mbox', mailbox: null, mboxFormat: 'mboxrd', progress: NO_PROGRESS, warn: assert.fail });
    const account = await store.createAccount('from-mbox', 'x');
    const summary = await importPath(store, account.id, out, options({ warn: assert.fail }));
    assert.equal(summary.messages, total);
    // mbox keeps no UIDs; the order, bytes, flags and dates survive. The flag headers the export
    // writes are part of the message now, so compare the flags/dates and the bytes minus those headers.
    const got = withoutUids(await accountView(store, account.id));
    const want = withoutUids(expected);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
    for (const [name, messages] of Object.entries(want)) {
      assert.deepEqual(
        got[name]!.map((m) => [m.flags, m.internalDate]),
        messages.map((m) => [m.flags, m.internalDate]),
        name,
      );
      // Without flags nothing is added, and the bytes come back exactly.
      messages.forEach((m, i) => m.flags.length === 0 && assert.equal(got[name]![i]!.sha256, m.sha256, `${name} #${i + 1}`));
    }
  });
});

describe('import: Maildir names and flags', () => {
  it('maps Maildir++ folder names both ways and escapes what a layout cannot hold', () => {
    assert.equal(maildirFolderName('.Archive.2023'), 'Archive/2023');
    assert.equal(maildirFolderName('.Entw&APw-rfe'), 'Entwürfe');
    assert.equal(maildirFolderName('.inbox.sub'), 'INBOX/sub');
    assert.equal(maildirFolderName('.bad&-utf7&'), null);
    assert.equal(maildirFolderDir('Archive/2023'), '.Archive.2023');
    assert.equal(maildirFolderDir('Entwürfe'), '.Entw&APw-rfe');
    assert.equal(maildirFolderDir('INBOX'), '');
    assert.equal(maildirFolderDir('v1.2'), '.v1\\2e2');
    assert.equal(maildirFolderName('.v1\\2e2'), 'v1.2');
    assert.equal(mboxFilePath('a/b'), 'a/b.mbox');
    assert.equal(mboxFilePath('../etc'), '\\2e./etc.mbox');
  });

  it('reads info letters and dovecot-keywords; P (passed) is $Forwarded', () => {
    const keywords = new Map([
      [0, '$Label1'],
      [2, 'Project-X'],
    ]);
    assert.deepEqual(flagsFromMaildirInfo('DFPRSTac', keywords), [
      '\\Draft',
      '\\Flagged',
      '$Forwarded',
      '\\Answered',
      '\\Seen',
      '\\Deleted',
      '$Label1',
      'Project-X',
    ]);
    // Export writes letters in ASCII order and keeps $Forwarded a keyword (Dovecot ignores P).
    const index = (k: string): number | undefined => (({ $forwarded: 0, work: 1 }) as Record<string, number>)[k.toLowerCase()];
    assert.deepEqual(maildirInfo(['\\Seen', '$Forwarded', '\\Draft', 'work', 'other'], index), { info: 'DSab', lost: ['other'] });
  });

  it('parses dovecot-uidlist versions 1 and 3', () => {
    const v3 = parseDovecotUidlist('3 V1700000000 N9 G0123\n1 :a.host,S=10\n7 W12 S10 :b.host,S=10\nbroken\n');
    assert.equal(v3.uidValidity, 1700000000);
    assert.deepEqual(
      [...v3.uids],
      [
        ['a.host,S=10', 1],
        ['b.host,S=10', 7],
      ],
    );
    const v1 = parseDovecotUidlist('1 1234 3\n2 c.host:2,S\n');
    assert.deepEqual([v1.uidValidity, [...v1.uids]], [1234, [['c.host', 2]]]);
  });
});
