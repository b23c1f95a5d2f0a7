/**
 * SELECT resolves names from the process's name cache: a known name costs
 * no store query, and a CREATE, RENAME or DELETE, made here or by another
 * process on the same data directory, is seen at the next lookup.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { MailboxNameCache } from '../src/imap/session/mailbox-names.js';
import { openStore } from '../src/store/open.js';

test('names come from memory until a namespace change, here or in another process', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-names-'));
  const here = await openStore({ dataDir });
  // A second store on the same directory is what another mailkeep process is.
  const other = await openStore({ dataDir });
  try {
    const account = await here.createAccount('names', await hashPassword('pw'));
    let reads = 0;
    const getMailbox = here.getMailbox.bind(here);
    here.getMailbox = (...args) => {
      reads++;
      return getMailbox(...args);
    };
    const names = new MailboxNameCache(here);

    const inbox = await names.lookup(account.id, 'INBOX');
    assert.equal(inbox?.ref.name, 'INBOX');
    // SQLite's one settle covers the mailbox as well as the name.
    assert.deepEqual(await names.lookup(account.id, 'inbox'), { ref: inbox?.ref, settled: true }, 'INBOX in any case');
    assert.equal(reads, 1, 'the second lookup is answered from memory');

    assert.equal(await names.lookup(account.id, 'Work'), null);
    const work = await other.createMailbox(account.id, 'Work');
    assert.deepEqual((await names.lookup(account.id, 'Work'))?.ref, { id: work.id, name: 'Work', objectId: work.objectId }, 'created by another process');
    const before = reads;
    await names.lookup(account.id, 'Work');
    assert.equal(reads, before, 'known now');

    await other.renameMailbox(account.id, 'Work', 'Play');
    assert.equal(await names.lookup(account.id, 'Work'), null, 'renamed away by another process');
    assert.deepEqual((await names.lookup(account.id, 'Play'))?.ref, { id: work.id, name: 'Play', objectId: work.objectId });

    await here.deleteMailbox(account.id, work.id);
    assert.equal(await names.lookup(account.id, 'Play'), null, 'deleted here');
  } finally {
    await other.close();
    await here.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
