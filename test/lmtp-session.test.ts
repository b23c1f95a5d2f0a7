/**
 * LMTP over real sockets: hand-written transcripts (RFC 2033, RFC 5321,
 * RFC 3030 BDAT, RFC 2920 pipelining) against a running server, checked
 * against what the store holds afterwards.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DETAIL_DELIVERY_ENTRY } from '../src/mail/deliver.js';
import type { MailStore } from '../src/store/types.js';
import { dotStuff, LmtpClient, type LmtpReply } from './helpers/lmtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** The bytes of every message in a user's mailbox, by UID. */
async function stored(store: MailStore, user: string, mailbox = 'INBOX'): Promise<Buffer[]> {
  const account = await store.findAccount(user);
  assert.ok(account, `account ${user}`);
  const mb = await store.getMailbox(account.id, mailbox);
  assert.ok(mb, `mailbox ${mailbox}`);
  const uids = (await store.listSummaries(account.id, mb.id)).map((s) => s.uid);
  const records = await store.getRecords(account.id, mb.id, uids);
  return Promise.all(records.map((r) => store.blobs.read(r.blobId)));
}

const trace = (from: string, to: string): string => `Return-Path: <${from}>\r\nDelivered-To: ${to}\r\n`;

/** LHLO, then the capability lines. */
async function greet(client: LmtpClient): Promise<LmtpReply> {
  const r = await client.command('LHLO client.example');
  assert.equal(r.code, 250);
  return r;
}

describe('LMTP transcripts', () => {
  let srv: TestServer;
  let store: MailStore;
  const message = Buffer.from('From: a@example.org\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello.\r\n');

  before(async () => {
    srv = await startTestServer({ lmtp: { domains: ['example.com'] }, limits: { appendLimit: 100_000 } });
    store = srv.server.store;
    for (const name of ['alice', 'bob', 'full', 'carol@example.net']) await store.createAccount(name, 'x');
    const full = await store.findAccount('full');
    await store.setQuota(full!.id, { storage: 10, messages: null });
    const bob = await store.findAccount('bob');
    const lists = await store.createMailbox(bob!.id, 'Lists');
    // bob lets +detail deliveries into Lists (lmtp.detail-delivery = "opt-in").
    await store.setMetadata(bob!.id, lists.id, [[DETAIL_DELIVERY_ENTRY, Buffer.from('yes')]]);
  });
  after(() => srv.stop());

  it('greets, answers LHLO with the extensions, and refuses HELO/EHLO', async () => {
    const { client, greeting } = await LmtpClient.connect(srv.lmtpPort);
    assert.equal(greeting.code, 220);
    assert.match(greeting.last, /LMTP/);
    assert.equal((await client.command('HELO x')).code, 500, 'RFC 2033 §4.1: no HELO');
    assert.equal((await client.command('EHLO x')).code, 500, 'RFC 2033 §4.1: no EHLO');
    assert.equal((await client.command('MAIL FROM:<a@example.org>')).last, '503 5.5.1 Send LHLO first');
    const lhlo = await greet(client);
    for (const ext of ['PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8', 'CHUNKING', 'BINARYMIME', 'SIZE 100000']) {
      assert.ok(lhlo.lines.includes(ext), `LHLO lists ${ext}: ${lhlo.lines.join(', ')}`);
    }
    assert.equal((await client.command('NOOP')).last, '250 2.0.0 OK');
    assert.match((await client.command('VRFY alice')).last, /^252 2\.5\.2 /);
    assert.equal((await client.command('RCPT TO:<alice@example.com>')).last, '503 5.5.1 Send MAIL first');
    assert.equal((await client.command('DATA')).code, 503);
    assert.equal((await client.command('FROB')).last, '500 5.5.1 Command unrecognized');
    assert.equal((await client.command('QUIT')).code, 221);
    await client.waitClosed();
  });

  it('delivers to valid recipients, refuses unknown ones at RCPT and over-quota ones after DATA, in RCPT order', async () => {
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    await greet(client);
    assert.equal((await client.command('MAIL FROM:<sender@example.org>')).last, '250 2.1.0 Sender OK');
    assert.equal((await client.command('RCPT TO:<alice@example.com>')).last, '250 2.1.5 Recipient OK');
    assert.equal((await client.command('RCPT TO:<nobody@example.com>')).last, '550 5.1.1 <nobody@example.com> User unknown');
    assert.equal((await client.command('RCPT TO:<full@example.com>')).code, 250);
    assert.equal((await client.command('RCPT TO:<Bob@Example.COM>')).code, 250, 'case-insensitive names and domains');
    // A domain outside lmtp.domains names an account only by the whole address.
    assert.equal((await client.command('RCPT TO:<alice@elsewhere.org>')).code, 550);
    assert.equal((await client.command('RCPT TO:<carol@example.net>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.send(dotStuff(message));
    const replies = await client.replies(4);
    assert.deepEqual(
      replies.map((r) => r.last.split(' ').slice(0, 3).join(' ')),
      ['250 2.0.0 <alice@example.com>', '552 5.2.2 <full@example.com>', '250 2.0.0 <Bob@Example.COM>', '250 2.0.0 <carol@example.net>'],
    );
    // Byte-exact, with the per-recipient trace lines in front.
    assert.deepEqual(await stored(store, 'alice'), [Buffer.concat([Buffer.from(trace('sender@example.org', 'alice@example.com')), message])]);
    assert.deepEqual(await stored(store, 'bob'), [Buffer.concat([Buffer.from(trace('sender@example.org', 'Bob@Example.COM')), message])]);
    assert.deepEqual(await stored(store, 'full'), []);
    assert.equal((await stored(store, 'carol@example.net')).length, 1);
    // The session is ready for the next transaction.
    assert.equal((await client.command('MAIL FROM:<>')).code, 250, 'null reverse-path');
    assert.equal((await client.command('RSET')).last, '250 2.0.0 OK');
    client.close();
  });

  it('answers a pipelined transaction in order and unstuffs dots, keeping 8-bit and bare-LF bytes', async () => {
    const body = Buffer.concat([
      Buffer.from('Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r'),
      Buffer.from([0x0a, 0xc3, 0xa9, 0x80, 0xff, 0x0a]),
      Buffer.from('bare LF then dot\n.still data\r\nlast\r\n'),
    ]);
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    client.send('LHLO x\r\nMAIL FROM:<s@example.org> BODY=8BITMIME\r\nRCPT TO:<alice+nothing@example.com>\r\nRCPT TO:<bob+Lists@example.com>\r\nDATA\r\n');
    const replies = await client.replies(5);
    assert.deepEqual(
      replies.map((r) => r.code),
      [250, 250, 250, 250, 354],
    );
    // The data, then QUIT pipelined right behind the end-of-data line.
    client.send(Buffer.concat([dotStuff(body), Buffer.from('QUIT\r\n')]));
    const after = await client.replies(3);
    assert.deepEqual(
      after.map((r) => r.code),
      [250, 250, 221],
    );
    await client.waitClosed();
    const aliceMail = await stored(store, 'alice');
    assert.deepEqual(aliceMail.at(-1), Buffer.concat([Buffer.from(trace('s@example.org', 'alice+nothing@example.com')), body]), 'no such mailbox: INBOX');
    const lists = await stored(store, 'bob', 'Lists');
    assert.deepEqual(lists, [Buffer.concat([Buffer.from(trace('s@example.org', 'bob+Lists@example.com')), body])], '+detail → mailbox');
  });

  it('takes BDAT chunks (BINARYMIME) as raw bytes and answers each chunk and each recipient', async () => {
    const part1 = Buffer.from('Subject: chunks\r\nContent-Transfer-Encoding: binary\r\n\r\n\r\n.\r\n');
    const part2 = Buffer.from([0x00, 0x01, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0xff]);
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    await greet(client);
    client.send('MAIL FROM:<s@example.org> BODY=BINARYMIME\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<carol@example.net>\r\n');
    assert.deepEqual(
      (await client.replies(3)).map((r) => r.code),
      [250, 250, 250],
    );
    assert.equal((await client.command('DATA')).code, 503, 'RFC 3030 §3: BINARYMIME only by BDAT');
    client.send(Buffer.concat([Buffer.from(`BDAT ${part1.length}\r\n`), part1, Buffer.from(`BDAT ${part2.length} LAST\r\n`), part2]));
    const replies = await client.replies(3);
    assert.equal(replies[0]!.last, `250 2.0.0 ${part1.length} octets received`);
    assert.deepEqual(
      replies.slice(1).map((r) => r.code),
      [250, 250],
    );
    const whole = Buffer.concat([part1, part2]);
    assert.deepEqual((await stored(store, 'alice')).at(-1), Buffer.concat([Buffer.from(trace('s@example.org', 'alice@example.com')), whole]));
    // BDAT without a transaction: its octets are swallowed, then 503; the session goes on.
    client.send('BDAT 5 LAST\r\nHELLOQUIT\r\n');
    assert.deepEqual(
      (await client.replies(2)).map((r) => r.code),
      [503, 221],
    );
    client.close();
  });

  it('enforces the size limit before and after the data', async () => {
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    await greet(client);
    assert.match((await client.command('MAIL FROM:<s@example.org> SIZE=100001')).last, /^552 5\.3\.4 /);
    assert.equal((await client.command('MAIL FROM:<s@example.org> SIZE=10')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250);
    assert.equal((await client.command('RCPT TO:<bob@example.com>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    const before = (await stored(store, 'alice')).length;
    client.send(dotStuff(Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(150_000)}\r\n`)));
    const replies = await client.replies(2);
    assert.deepEqual(
      replies.map((r) => r.last.slice(0, 9)),
      ['552 5.3.4', '552 5.3.4'],
    );
    assert.equal((await stored(store, 'alice')).length, before);
    assert.equal((await client.command('NOOP')).code, 250, 'still in sync after the refused data');
    client.close();
  });

  it('checks syntax, parameters and the recipient limit', async () => {
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    await greet(client);
    assert.match((await client.command('MAIL FROM:a@example.org')).last, /^501 5\.1\.7 /);
    assert.match((await client.command('MAIL FROM:<a@example.org> AUTH=<>')).last, /^555 5\.5\.4 /);
    assert.match((await client.command('MAIL FROM:<a@example.org> BODY=9BIT')).last, /^501 /);
    assert.match((await client.command('MAIL FROM:<jörg@example.org>')).last, /^553 5\.6\.7 /, 'RFC 6531: non-ASCII needs SMTPUTF8');
    assert.equal((await client.command('MAIL FROM:<@relay.example:a@example.org> SMTPUTF8')).code, 250, 'source route ignored');
    assert.equal((await client.command('MAIL FROM:<a@example.org>')).last, '503 5.5.1 Nested MAIL command');
    assert.match((await client.command('RCPT TO:<alice@example.com> NOTIFY=NEVER')).last, /^555 /);
    assert.match((await client.command('RCPT TO:<a\u0001b@example.com>')).last, /^501 5\.1\.3 /);
    for (let i = 0; i < 1000; i++) client.send('RCPT TO:<alice@example.com>\r\n');
    const replies = await client.replies(1000);
    assert.ok(replies.every((r) => r.code === 250));
    assert.equal((await client.command('RCPT TO:<alice@example.com>')).last, '452 4.5.3 Too many recipients');
    assert.equal((await client.command('X'.repeat(5000))).last, '500 5.5.2 Line too long');
    assert.equal((await client.command('RSET')).code, 250);
    client.close();
  });

  it('closes after too many bad commands', async () => {
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    client.send('BOGUS\r\n'.repeat(25));
    const replies = await client.replies(21);
    assert.equal(replies[19]!.code, 500);
    assert.match(replies[20]!.last, /^421 4\.7\.0 /);
    await client.waitClosed();
  });
});

describe('LMTP listeners', () => {
  it('listens on a unix socket when lmtp.socket is set, and removes it on stop', async () => {
    const { mkdtemp, rm, stat } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'mailkeep-lmtp-sock-'));
    const socket = join(dir, 'lmtp.sock');
    const srv = await startTestServer({ lmtpPort: 0, lmtp: { socket } });
    try {
      assert.equal(srv.lmtpPort, 0);
      await srv.server.store.createAccount('dora', 'x');
      const { client, greeting } = await LmtpClient.connect(socket);
      assert.equal(greeting.code, 220);
      await greet(client);
      client.send('MAIL FROM:<s@example.org>\r\nRCPT TO:<dora@example.com>\r\nDATA\r\n');
      assert.deepEqual(
        (await client.replies(3)).map((r) => r.code),
        [250, 250, 354],
      );
      client.send(dotStuff(Buffer.from('Subject: via socket\r\n\r\nhi\r\n')));
      assert.equal((await client.reply()).code, 250);
      client.close();
      assert.equal((await stored(srv.server.store, 'dora')).length, 1);
    } finally {
      await srv.stop();
    }
    await assert.rejects(stat(socket), 'socket file removed');
    await rm(dir, { recursive: true, force: true });
  });
});
