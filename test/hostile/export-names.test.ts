/**
 * Finding 15 (issue 18): `mailkeep export` must hold every mailbox name a
 * client can create. Names with '.', the levels '.' and '..', a backslash and
 * a level that looks like an mbox file are escaped (Dovecot's listescape
 * `\NN`), stay inside the export directory, and come back unchanged through
 * `mailkeep import`; a failure is one line on stderr, never a stack trace.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { mailkeep } from '../cli-helpers.js';
import { accountView, withoutUids } from '../import-helpers.js';
import { deliver, message } from '../store-fixtures.js';

/** Names a Maildir++ or mbox tree cannot hold as they are, with parents first. */
const NAMES = ['.', '..', '../x', 'v1.2', 'john.doe', 'a.b', 'a.b/c.d', 'back\\slash', 'esc\\2e', '~home', '.hidden', 'a', 'a.mbox', 'a.mbox/b', 'Entwürfe.v2'];

/** Every path under dir, relative to it. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** The error is one `mailkeep:` line (after any progress lines), with no stack trace. */
function assertOneErrorLine(stderr: string, pattern: RegExp): void {
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  const errors = stderr.split('\n').filter((l) => l.startsWith('mailkeep:'));
  assert.equal(errors.length, 1, stderr);
  assert.match(errors[0]!, pattern);
  assert.ok(stderr.trimEnd().endsWith(errors[0]!), `the error is the last line: ${stderr}`);
}

describe('finding 15: export and import of mailbox names a file layout cannot hold', () => {
  let dir: string;
  let dataDir: string;
  let expected: ReturnType<typeof withoutUids>;
  const data = (): string[] => ['--data-dir', dataDir];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailkeep-export-names-'));
    dataDir = join(dir, 'data');
    const store = await openStore({ dataDir, defaultMailboxes: [] });
    try {
      const alice = await store.createAccount('alice', 'x');
      for (const account of ['maildir', 'mboxrd', 'mboxo']) await store.createAccount(account, 'x');
      for (const [i, name] of NAMES.entries()) {
        const mb = await store.createMailbox(alice.id, name);
        await deliver(store, alice.id, mb.id, message(`message ${i} in ${name}`), i % 2 === 0 ? ['\\Seen'] : ['\\Flagged', '$Label']);
      }
      expected = withoutUids(await accountView(store, alice.id));
    } finally {
      await store.close();
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('Maildir++: every name round-trips with its messages, flags and dates, inside the export directory', async () => {
    const out = join(dir, 'maildir-out', 'inner');
    await mkdir(join(dir, 'maildir-out'));
    const exported = mailkeep(['export', 'alice', out, '--format', 'maildir', ...data()]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, new RegExp(`^exported ${NAMES.length} messages`));
    assert.deepEqual(await readdir(join(dir, 'maildir-out')), ['inner'], 'nothing written beside the export');
    const folders = (await readdir(out)).filter((n) => n.startsWith('.')).sort();
    assert.ok(folders.includes('.v1\\2e2') && folders.includes('.john\\2edoe') && folders.includes('.\\2e\\2e'), folders.join(' '));
    const imported = mailkeep(['import', 'maildir', out, '--format', 'maildir', ...data()]);
    assert.equal(imported.status, 0, imported.stderr);
    const store = await openStore({ dataDir, defaultMailboxes: [] });
    try {
      const account = await store.findAccount('maildir');
      assert.deepEqual(withoutUids(await accountView(store, account!.id)), expected);
    } finally {
      await store.close();
    }
  });

  for (const mboxFormat of ['mboxrd', 'mboxo']) {
    it(`mbox (${mboxFormat}): every name round-trips, and '.'/'..' never leave the export directory`, async () => {
      const out = join(dir, `${mboxFormat}-out`, 'inner');
      await mkdir(join(dir, `${mboxFormat}-out`));
      const exported = mailkeep(['export', 'alice', out, '--format', 'mbox', '--mbox-format', mboxFormat, ...data()]);
      assert.equal(exported.status, 0, exported.stderr);
      assert.deepEqual(await readdir(join(dir, `${mboxFormat}-out`)), ['inner'], 'nothing written beside the export');
      const files = await tree(out);
      assert.ok(
        files.every((f) => !f.split('/').some((level) => level.startsWith('.'))),
        `no hidden or dot-dot path: ${files.join(' ')}`,
      );
      const imported = mailkeep(['import', mboxFormat, out, '--format', 'mbox', '--mbox-format', mboxFormat, ...data()]);
      assert.equal(imported.status, 0, imported.stderr);
      const store = await openStore({ dataDir, defaultMailboxes: [] });
      try {
        const account = await store.findAccount(mboxFormat);
        const view = withoutUids(await accountView(store, account!.id));
        // mbox carries no UIDs, and its Status headers become part of the bytes: compare names, counts and flags.
        const shape = (v: typeof view): Record<string, string[][]> => Object.fromEntries(Object.entries(v).map(([name, ms]) => [name, ms.map((m) => m.flags)]));
        assert.deepEqual(shape(view), shape(expected));
      } finally {
        await store.close();
      }
    });
  }

  it('a name the file system refuses (a level over 255 bytes) fails with one line and exit 1, no stack trace', async () => {
    const store = await openStore({ dataDir, defaultMailboxes: [] });
    try {
      const carol = await store.createAccount('carol', 'x');
      await store.createMailbox(carol.id, 'x'.repeat(300));
    } finally {
      await store.close();
    }
    for (const format of ['maildir', 'mbox']) {
      const r = mailkeep(['export', 'carol', join(dir, `long-${format}`), '--format', format, ...data()]);
      assert.equal(r.status, 1, r.stderr);
      assertOneErrorLine(r.stderr, /^mailkeep: .*name too long/i);
    }
  });
});
