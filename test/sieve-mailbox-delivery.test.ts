/**
 * The mailbox-state questions a script asks at delivery, answered from the
 * store over real LMTP: special-use mailboxes (RFC 8579 specialuse_exists,
 * fileinto :specialuse, with RFC 5490 :create giving the new mailbox the
 * attribute) and annotations (RFC 5490 metadata, metadataexists,
 * servermetadata, servermetadataexists; RFC 5464 entries set as IMAP
 * SETMETADATA would, each account seeing only its own /private ones).
 * Runs on SQLite and, with MAILKEEP_TEST_STORE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { putScript } from '../src/mail/sieve-scripts.js';
import type { MailStore } from '../src/store/types.js';
import { dotStuff, LmtpClient } from './helpers/lmtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SPECIAL = `require ["special-use", "fileinto", "mailbox", "imap4flags"];
if header :contains "subject" "junk" {
  if specialuse_exists "\\\\Junk" { fileinto :specialuse "\\\\Junk" "Spam"; stop; }
}
if header :contains "subject" "archive" { fileinto :specialuse "\\\\Archive" :create "Old mail"; stop; }
if specialuse_exists "Junk" ["\\\\Junk"] { addflag "$junk-ready"; }
if specialuse_exists ["\\\\Junk", "\\\\Flagged"] { addflag "$never"; }
`;

const METADATA = `require ["mboxmetadata", "servermetadata", "fileinto", "mailbox", "imap4flags"];
if metadataexists "Archive" "/shared/comment" { addflag "$archive-noted"; }
if servermetadata :contains "/private/vendor/test/mode" "holiday" { addflag "$holiday"; }
if servermetadataexists ["/private/vendor/test/mode", "/private/vendor/test/none"] { addflag "$never"; }
if metadata :is "INBOX" "/private/vendor/test/sort" "yes" { fileinto :create "Sorted"; }
`;

/** Delivers one message to one recipient over LMTP; the reply code. */
async function deliver(port: number, to: string, subject: string): Promise<number> {
  const { client } = await LmtpClient.connect(port);
  try {
    client.send(`LHLO test\r\nMAIL FROM:<ann@example.org>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
    await client.replies(4);
    client.send(dotStuff(Buffer.from(`From: ann@example.org\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nbody\r\n`)));
    return (await client.replies(1))[0]!.code;
  } finally {
    client.close();
  }
}

/** The subjects and flags of a mailbox's messages; null when the mailbox does not exist. */
async function contents(store: MailStore, user: string, mailbox: string): Promise<Array<{ subject: string; flags: string[] }> | null> {
  const account = (await store.findAccount(user))!;
  const mb = await store.getMailbox(account.id, mailbox);
  if (!mb) return null;
  const uids = (await store.listSummaries(account.id, mb.id)).map((s) => s.uid);
  const records = await store.getRecords(account.id, mb.id, uids);
  return Promise.all(
    records.map(async (r) => ({ subject: /^Subject: (.*)$/m.exec((await store.blobs.read(r.blobId)).toString())![1]!.trim(), flags: r.flags })),
  );
}

describe('special-use and metadata tests at delivery', () => {
  let srv: TestServer;
  let store: MailStore;

  before(async () => {
    srv = await startTestServer({ domains: ['example.com'] });
    store = srv.server.store;
    for (const [user, script] of [
      ['frank', SPECIAL],
      ['gina', SPECIAL],
      ['hank', METADATA],
      ['ivy', METADATA],
    ] as const) {
      await srv.addUser(user, 'pw');
      const account = (await store.findAccount(user))!;
      assert.deepEqual(await putScript(store, srv.config.sieve, account.id, 'main', script, true), []);
    }
    // gina has no \Junk or \Archive mailbox; her Junk is renamed away from the attribute's name.
    const gina = (await store.findAccount('gina'))!;
    for (const name of ['Junk', 'Archive']) await store.deleteMailbox(gina.id, (await store.getMailbox(gina.id, name))!.id);
    await store.createMailbox(gina.id, 'Junk');
    // hank's annotations (ivy has none: /private entries are per user, RFC 5490 §3.3).
    const hank = (await store.findAccount('hank'))!;
    await store.setMetadata(hank.id, (await store.getMailbox(hank.id, 'INBOX'))!.id, [['/private/vendor/test/sort', Buffer.from('YES')]]);
    await store.setMetadata(hank.id, (await store.getMailbox(hank.id, 'Archive'))!.id, [['/shared/comment', Buffer.from('old things')]]);
    await store.setMetadata(hank.id, null, [['/private/vendor/test/mode', Buffer.from('on holiday')]]);
  });
  after(async () => {
    await srv?.stop();
  });

  it('files into the mailbox that has the special-use attribute, whatever its name', async () => {
    assert.equal(await deliver(srv.lmtpPort, 'frank@example.com', 'junk offer'), 250);
    assert.deepEqual(await contents(store, 'frank', 'Junk'), [{ subject: 'junk offer', flags: [] }]);
    assert.equal(await contents(store, 'frank', 'Spam'), null, 'the named mailbox is not used');
  });

  it('without such a mailbox: specialuse_exists is false, and :create makes the named mailbox with the attribute', async () => {
    assert.equal(await deliver(srv.lmtpPort, 'gina@example.com', 'junk offer'), 250);
    assert.deepEqual(await contents(store, 'gina', 'INBOX'), [{ subject: 'junk offer', flags: [] }]);
    assert.equal(await deliver(srv.lmtpPort, 'gina@example.com', 'archive this'), 250);
    const gina = (await store.findAccount('gina'))!;
    assert.equal((await store.getMailbox(gina.id, 'Old mail'))?.specialUse, '\\Archive');
    assert.deepEqual(await contents(store, 'gina', 'Old mail'), [{ subject: 'archive this', flags: [] }]);
    // Now the attribute exists: frank's second rule files there by it too.
    assert.equal(await deliver(srv.lmtpPort, 'frank@example.com', 'archive this'), 250);
    assert.deepEqual(await contents(store, 'frank', 'Archive'), [{ subject: 'archive this', flags: [] }]);
  });

  it('specialuse_exists with a mailbox checks that one mailbox', async () => {
    assert.equal(await deliver(srv.lmtpPort, 'frank@example.com', 'plain'), 250);
    assert.deepEqual(await contents(store, 'frank', 'INBOX'), [{ subject: 'plain', flags: ['$junk-ready'] }]);
    assert.equal(await deliver(srv.lmtpPort, 'gina@example.com', 'plain'), 250);
    assert.deepEqual((await contents(store, 'gina', 'INBOX'))?.at(-1), { subject: 'plain', flags: [] }, "gina's Junk has no attribute");
  });

  it("tests the user's own mailbox and server annotations", async () => {
    assert.equal(await deliver(srv.lmtpPort, 'hank@example.com', 'hello'), 250);
    assert.deepEqual(await contents(store, 'hank', 'Sorted'), [{ subject: 'hello', flags: ['$archive-noted', '$holiday'] }]);
    assert.equal(await deliver(srv.lmtpPort, 'ivy@example.com', 'hello'), 250);
    assert.deepEqual(await contents(store, 'ivy', 'INBOX'), [{ subject: 'hello', flags: [] }]);
    assert.equal(await contents(store, 'ivy', 'Sorted'), null);
  });
});
