/**
 * Sieve at delivery over real sockets: LMTP delivers to accounts with
 * scripts that file into folders (seen by an IMAP client in IDLE), set
 * flags, create mailboxes, reject one recipient while another gets 250,
 * edit headers per recipient, redirect and reply with vacation through a
 * real SMTP relay (Postfix's smtp-sink); script errors keep the message.
 * Runs on SQLite and, with MAILKEEP_TEST_STORE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Outgoing } from '../src/mail/outgoing.js';
import { putScript } from '../src/mail/sieve-scripts.js';
import type { MailStore } from '../src/store/types.js';
import { lmtpTransaction } from './helpers/lmtp-client.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { SMTP_SINK, type SmtpSink, startSmtpSink } from './helpers/smtp-sink.js';

const mail = (subject: string, extra = ''): string =>
  `From: Ann <ann@example.org>\r\nTo: alice@example.com, bob@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n${extra}\r\nbody of ${subject}\r\n`;

const ALICE = `require ["fileinto", "imap4flags", "mailbox", "reject", "copy", "vacation", "editheader", "duplicate"];
if header :contains "subject" "list" { fileinto :flags "\\\\Flagged" "Lists"; stop; }
if header :contains "subject" "fresh" { fileinto :create "Projects/New"; stop; }
if header :contains "subject" "spam" { reject "We do not want this."; stop; }
if header :contains "subject" "nowhere" { fileinto "Missing"; stop; }
if header :contains "subject" "forward" { redirect :copy "archive@elsewhere.test"; stop; }
if header :contains "subject" "drop" { discard; stop; }
if header :contains "subject" "edit" { addheader "X-Sieve" "edited"; keep; stop; }
if duplicate { fileinto :create "Dups"; stop; }
vacation :days 1 :subject "Away" :addresses ["alice@example.com"] "I am away until Monday.";
`;

/** Bytes of every message of a mailbox, by UID. */
async function messages(store: MailStore, user: string, name: string): Promise<Array<{ text: string; flags: string[]; blobId: string }>> {
  const account = (await store.findAccount(user))!;
  const mb = await store.getMailbox(account.id, name);
  if (!mb) return [];
  const uids = (await store.listSummaries(account.id, mb.id)).map((s) => s.uid);
  const records = await store.getRecords(account.id, mb.id, uids);
  return Promise.all(records.map(async (r) => ({ text: (await store.blobs.read(r.blobId)).toString('latin1'), flags: r.flags, blobId: r.blobId })));
}

describe('Sieve at delivery', { skip: existsSync(SMTP_SINK) ? false : 'Postfix smtp-sink is not installed' }, () => {
  let srv: TestServer;
  let store: MailStore;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    srv = await startTestServer({ domains: ['example.com'], relay: { host: '127.0.0.1', port: sink.port, timeout: 10 } });
    store = srv.server.store;
    for (const u of ['alice', 'bob', 'carol', 'dave']) await srv.addUser(u, 'pw');
    const alice = (await store.findAccount('alice'))!;
    await store.createMailbox(alice.id, 'Lists');
    const settings = srv.config.sieve;
    assert.deepEqual(await putScript(store, settings, alice.id, 'main', ALICE, true), []);
    // A run-time error (reject after fileinto, RFC 5429 §2.4) and a script that does not compile: both keep.
    const carol = (await store.findAccount('carol'))!;
    assert.deepEqual(await putScript(store, settings, carol.id, 'bad', 'require ["fileinto", "reject"]; fileinto "X"; reject "no";', true), []);
    const dave = (await store.findAccount('dave'))!;
    await store.putSieveScript(dave.id, 'broken', 'if true { keep', { maxScripts: 10, maxTotalSize: 100_000 }, true);
  });
  after(async () => {
    await srv?.stop();
    await sink?.stop();
  });

  it('files into a folder with flags, seen at once by an IMAP client in IDLE on it', async () => {
    const imap = await RawClient.login(srv.imapsPort, 'alice', 'pw');
    assert.match((await imap.command('s', 'SELECT Lists')).tagged, /OK/);
    imap.send('i IDLE\r\n');
    assert.match(await imap.readLine(), /^\+ /);
    const replies = await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('my list post'));
    assert.deepEqual(
      replies.map((r) => r.code),
      [250],
    );
    assert.equal(await imap.readLine(5000), '* 1 EXISTS');
    imap.send('DONE\r\n');
    await imap.readTagged('i');
    const f = await imap.command('f', 'FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.match(f.lines[0]!, /\\Flagged/);
    assert.match(f.lines[0]!, /my list post/);
    imap.close();
    assert.equal((await messages(store, 'alice', 'INBOX')).length, 0, 'fileinto cancels the implicit keep');
  });

  it('creates a mailbox for fileinto :create; a missing one without it keeps in INBOX', async () => {
    assert.deepEqual(
      (await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('fresh start'))).map((r) => r.code),
      [250],
    );
    assert.equal((await messages(store, 'alice', 'Projects/New')).length, 1);
    assert.deepEqual(
      (await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('to nowhere'))).map((r) => r.code),
      [250],
    );
    assert.equal(await store.getMailbox((await store.findAccount('alice'))!.id, 'Missing'), null);
    assert.match((await messages(store, 'alice', 'INBOX')).at(-1)!.text, /Subject: to nowhere/);
  });

  it('rejects for one recipient with 550 5.7.1 and the reason while the other gets 250', async () => {
    const replies = await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com', 'bob@example.com'], mail('spam offer'));
    assert.equal(replies[0]!.code, 550);
    assert.match(replies[0]!.last, /^550 5\.7\.1 <alice@example\.com> We do not want this\.$/);
    assert.equal(replies[1]!.code, 250);
    assert.ok(!(await messages(store, 'alice', 'INBOX')).some((m) => m.text.includes('spam offer')));
    assert.ok((await messages(store, 'bob', 'INBOX')).some((m) => m.text.includes('spam offer')));
  });

  it('discards: 250 and nothing stored', async () => {
    const before = (await messages(store, 'alice', 'INBOX')).length;
    assert.deepEqual(
      (await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('drop me'))).map((r) => r.code),
      [250],
    );
    assert.equal((await messages(store, 'alice', 'INBOX')).length, before);
  });

  it('editheader: the stored bytes differ per recipient, the body is the same', async () => {
    await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com', 'bob@example.com'], mail('edit this'));
    const a = (await messages(store, 'alice', 'INBOX')).find((m) => m.text.includes('edit this'))!;
    const b = (await messages(store, 'bob', 'INBOX')).find((m) => m.text.includes('edit this'))!;
    assert.match(a.text, /^Return-Path: <ann@example\.org>\r\nDelivered-To: alice@example\.com\r\nX-Sieve: edited\r\nFrom: Ann/);
    assert.doesNotMatch(b.text, /X-Sieve/);
    assert.notEqual(a.blobId, b.blobId);
    assert.equal(a.text.slice(a.text.indexOf('\r\n\r\n')), b.text.slice(b.text.indexOf('\r\n\r\n')));
  });

  it('redirects through the relay with the original sender and bytes, keeping a copy (:copy)', async () => {
    const before = (await sink.messages()).length;
    assert.deepEqual(
      (await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('forward me'))).map((r) => r.code),
      [250],
    );
    const sent = (await sink.waitFor(before + 1)).slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.from, 'ann@example.org');
    assert.deepEqual(sent[0]!.to, ['archive@elsewhere.test']);
    assert.ok(sent[0]!.data.includes(mail('forward me').replace(/\r\n/g, '\n')), 'the original bytes follow our loop line');
    assert.ok((await messages(store, 'alice', 'INBOX')).some((m) => m.text.includes('forward me')));
    // A message that already went through this redirect is not redirected again.
    await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], `X-Mailkeep-Redirected: alice@example.com\r\n${mail('forward again')}`);
    await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], `Delivered-To: alice@example.com\r\n${mail('forward looped')}`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await sink.messages()).length, before + 1);
  });

  it('replies with vacation once per period per sender, never to lists or Auto-Submitted mail', async () => {
    const before = (await sink.messages()).length;
    await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('hello alice'));
    const sent = (await sink.waitFor(before + 1)).slice(before);
    assert.equal(sent.length, 1);
    const reply = sent[0]!;
    assert.equal(reply.from, '', 'replies go from the null sender (RFC 5230 §5.1)');
    assert.deepEqual(reply.to, ['ann@example.org']);
    assert.match(reply.data, /^Subject: Away$/m);
    assert.match(reply.data, /^Auto-Submitted: auto-replied/m);
    assert.match(reply.data, /^In-Reply-To: <helloalice@example\.org>$/m);
    assert.match(reply.data, /^To: <ann@example\.org>$/m);
    assert.match(reply.data, /I am away until Monday\./);
    await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('hello again'));
    await lmtpTransaction(srv.lmtpPort, 'list@example.net', ['alice@example.com'], mail('weekly digest', 'List-Id: <news.example.net>\r\n'));
    await lmtpTransaction(srv.lmtpPort, 'robot@example.net', ['alice@example.com'], mail('robot note', 'Auto-Submitted: auto-generated\r\n'));
    await lmtpTransaction(srv.lmtpPort, 'zed@example.org', ['alice@example.com'], mail('hello from zed'));
    await sink.waitFor(before + 2);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      (await sink.messages()).slice(before).map((m) => m.to[0]),
      ['ann@example.org', 'zed@example.org'],
    );
    const inbox = await messages(store, 'alice', 'INBOX');
    for (const s of ['hello alice', 'hello again', 'weekly digest', 'robot note', 'hello from zed'])
      assert.ok(
        inbox.some((m) => m.text.includes(s)),
        s,
      );
  });

  it('caps what one account sends per hour', async () => {
    const relay = {
      host: '127.0.0.1',
      port: sink.port,
      security: 'none' as const,
      username: null,
      password: null,
      verifyCertificate: true,
      timeoutMs: 10_000,
      heloName: 'test',
    };
    const outgoing = new Outgoing(relay, 2);
    const before = (await sink.messages()).length;
    const alice = (await store.findAccount('alice'))!.id;
    const bob = (await store.findAccount('bob'))!.id;
    const data = Buffer.from('Subject: budget\r\n\r\n.leading dot\r\n');
    await outgoing.send(alice, 'a@example.com', 'x@elsewhere.test', data);
    await outgoing.send(alice, 'a@example.com', 'x@elsewhere.test', data);
    await assert.rejects(outgoing.send(alice, 'a@example.com', 'x@elsewhere.test', data), /max-outgoing-per-hour/);
    await outgoing.send(bob, 'b@example.com', 'x@elsewhere.test', data);
    const sent = (await sink.waitFor(before + 3)).slice(before);
    assert.equal(sent.length, 3);
    assert.match(sent[0]!.data, /^\.leading dot$/m, 'dot-stuffing is undone by the receiver');
  });

  it('duplicate: the same Message-ID twice goes to Dups the second time', async () => {
    await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('same id'));
    await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['alice@example.com'], mail('same id'));
    assert.equal((await messages(store, 'alice', 'Dups')).length, 1);
  });

  // The recipients of one transaction are delivered concurrently, but one account's in RCPT order (lmtp/commands/data.ts).
  it("one account's two recipients in one transaction: the second copy, in RCPT order, is the duplicate", async () => {
    const to = ['alice@example.com', 'bob@example.com', 'alice+again@example.com'];
    assert.deepEqual(
      (await lmtpTransaction(srv.lmtpPort, 'ann@example.org', to, mail('twice at once'))).map((r) => r.code),
      [250, 250, 250],
    );
    const copies = async (name: string): Promise<string[]> =>
      (await messages(store, 'alice', name)).map((m) => m.text).filter((t) => t.includes('twice at once'));
    const [kept, dup] = [await copies('INBOX'), await copies('Dups')];
    assert.equal(kept.length, 1);
    assert.equal(dup.length, 1);
    assert.match(kept[0]!, /^Return-Path: <ann@example\.org>\r\nDelivered-To: alice@example\.com\r\n/);
    assert.match(dup[0]!, /^Return-Path: <ann@example\.org>\r\nDelivered-To: alice\+again@example\.com\r\n/);
    assert.equal((await messages(store, 'bob', 'INBOX')).filter((m) => m.text.includes('twice at once')).length, 1);
  });

  it('a run-time error or a script that does not compile keeps the message in INBOX', async () => {
    const replies = await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['carol@example.com', 'dave@example.com'], mail('still here'));
    assert.deepEqual(
      replies.map((r) => r.code),
      [250, 250],
    );
    assert.equal((await messages(store, 'carol', 'INBOX')).length, 1);
    assert.equal((await messages(store, 'dave', 'INBOX')).length, 1);
    assert.equal(await store.getMailbox((await store.findAccount('carol'))!.id, 'X'), null);
  });
});

// RFC 5228 §2.10.6: a redirect that cannot be sent is an action that cannot be done, so the implicit keep stands.
describe('Sieve redirect when the relay is down or not configured', () => {
  const REDIRECT =
    'require "copy";\nif header :contains "subject" "copy" { redirect :copy "archive@elsewhere.test"; stop; }\nredirect "away@elsewhere.test";\n';

  for (const relayDown of [true, false]) {
    it(relayDown ? 'a relay refusing connections: the message is kept in INBOX, once' : 'no [relay]: the message is kept in INBOX, once', async () => {
      // A free port with nothing listening: the connection is refused.
      const relay = relayDown ? { relay: { host: '127.0.0.1', port: await freePort(), timeout: 5 } } : {};
      const srv = await startTestServer({ domains: ['example.com'], ...relay });
      try {
        await srv.addUser('erin', 'pw');
        const store = srv.server.store;
        const erin = (await store.findAccount('erin'))!;
        assert.deepEqual(await putScript(store, srv.config.sieve, erin.id, 'away', REDIRECT, true), []);
        for (const subject of ['gone', 'copy kept']) {
          assert.deepEqual(
            (await lmtpTransaction(srv.lmtpPort, 'ann@example.org', ['erin@example.com'], mail(subject))).map((r) => r.code),
            [250],
          );
        }
        const inbox = await messages(store, 'erin', 'INBOX');
        assert.equal(inbox.filter((m) => m.text.includes('Subject: gone')).length, 1, 'the redirected message was kept');
        assert.equal(inbox.filter((m) => m.text.includes('Subject: copy kept')).length, 1, ':copy keeps one copy, not two');
      } finally {
        await srv.stop();
      }
    });
  }
});
