/**
 * What an LMTP delivery leaves behind: IMAP sees each copy as an ordinary
 * message (bytes, BODYSTRUCTURE, ENVELOPE, SEARCH) and is woken in IDLE at
 * once; 100 recipients share one copy of the bytes on disk, which the GC
 * removes with the last of them; aliases route addresses to accounts.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MailStore } from '../src/store/types.js';
import { dotStuff, LmtpClient } from './helpers/lmtp-client.js';
import { RawClient } from './helpers/raw-client.js';
import { parseScrape, sampleSum } from './helpers/prometheus.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

/** Total bytes of the files under a directory (the blob store). */
async function treeBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
    files++;
  }
  return { bytes, files };
}

/** One LMTP transaction; returns the reply codes after the data, in RCPT order. */
async function lmtpDeliver(port: number, from: string, to: readonly string[], message: Buffer): Promise<number[]> {
  const { client } = await LmtpClient.connect(port);
  try {
    client.send(`LHLO test\r\nMAIL FROM:<${from}>\r\n${to.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
    const head = await client.replies(2 + to.length + 1);
    assert.equal(head.at(-1)!.code, 354, head.map((r) => r.last).join('\n'));
    const accepted = head.slice(2, -1).filter((r) => r.code === 250).length;
    client.send(dotStuff(message));
    return (await client.replies(accepted)).map((r) => r.code);
  } finally {
    client.close();
  }
}

const message = Buffer.from(
  'From: "Ann" <ann@example.org>\r\nTo: idler@example.com\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n' +
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello there\r\n' +
    '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n',
);
const prefix = 'Return-Path: <ann@example.org>\r\nDelivered-To: idler@example.com\r\n';

describe('LMTP delivery', () => {
  let srv: TestServer;
  let store: MailStore;

  before(async () => {
    srv = await startTestServer({ adminPort: await freePort() });
    store = srv.server.store;
    await srv.addUser('idler', 'pw');
  });
  after(() => srv.stop());

  // The recipients' copies are stored concurrently (lmtp/commands/data.ts), so SQLite's write queue
  // commits them together: one fsync for the transaction, where one per recipient made row c of
  // bench/lmtp-delivery.ts wait for ten in a row.
  it('the copies of one message to ten accounts share their commits', { skip: process.env.MAILKEEP_TEST_STORE === 'postgres' }, async () => {
    const commits = async (): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${srv.server.ports.admin}/metrics`);
      return sampleSum(parseScrape(await res.text()), 'mailkeep_store_commit_duration_seconds_count', { store: 'sqlite' });
    };
    const names = Array.from({ length: 10 }, (_, i) => `group${i}`);
    for (const n of names) await store.createAccount(n, 'x');
    const before = await commits();
    const codes = await lmtpDeliver(
      srv.lmtpPort,
      'ann@example.org',
      names.map((n) => `${n}@example.com`),
      message,
    );
    assert.deepEqual(
      codes,
      names.map(() => 250),
    );
    const used = (await commits()) - before;
    // One per recipient before (10); the slack is for background commits (the 5 s node heartbeat, expunge release)
    // and a split across loop turns on a loaded machine, not for per-copy commits.
    assert.ok(used >= 1 && used <= 5, `${used} commits for ten copies`);
    for (const n of names) {
      const account = (await store.findAccount(n))!;
      const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
      assert.equal((await store.listSummaries(account.id, inbox.id)).length, 1, n);
    }
  });

  it('wakes an IDLE client within 100 ms and serves the copy like any message', async () => {
    const { client: imap } = await RawClient.connect(srv.imapsPort, { tls: true });
    assert.match((await imap.command('l', 'LOGIN idler pw')).tagged, /OK/);
    assert.match((await imap.command('s', 'SELECT INBOX')).tagged, /OK/);
    imap.send('i IDLE\r\n');
    assert.match(await imap.readLine(), /^\+ /);

    const { client } = await LmtpClient.connect(srv.lmtpPort);
    client.send('LHLO test\r\nMAIL FROM:<ann@example.org>\r\nRCPT TO:<idler@example.com>\r\nDATA\r\n');
    assert.equal((await client.replies(4)).at(-1)!.code, 354);
    let okAt = 0;
    const stored = client.reply().then((r) => {
      okAt = Date.now();
      return r.code;
    });
    client.send(dotStuff(message));
    assert.equal(await imap.readLine(2000), '* 1 EXISTS');
    const existsAt = Date.now();
    assert.equal(await stored, 250);
    assert.ok(existsAt - okAt < 2000, `EXISTS ${existsAt - okAt} ms after the 250`);
    client.close();
    imap.send('DONE\r\n');
    await imap.readTagged('i');

    // The same bytes appended plainly must look exactly alike through FETCH and SEARCH.
    const whole = Buffer.concat([Buffer.from(prefix), message]);
    assert.match((await imap.command('a', Buffer.concat([Buffer.from(`APPEND INBOX {${whole.length}+}\r\n`), whole]))).tagged, /OK/);
    const items = 'UID RFC822.SIZE BODY[] BODYSTRUCTURE ENVELOPE BODY[HEADER.FIELDS (DELIVERED-TO)] BODY[1] BINARY.SIZE[2]';
    const fetched = await imap.command('f', `FETCH 1:2 (${items})`);
    assert.equal(fetched.lines.length, 2);
    const [delivered, appended] = fetched.lines.map((l) => l.replace(/^\* \d+ FETCH \(UID \d+ /, ''));
    assert.equal(delivered, appended);
    assert.ok(fetched.lines[0]!.includes(whole.toString('latin1')), 'BODY[] is the composed bytes');
    assert.match(fetched.lines[0]!, new RegExp(`RFC822\\.SIZE ${whole.length} `));
    const search = await imap.command('se', 'SEARCH HEADER Delivered-To idler@example.com SUBJECT caf');
    assert.deepEqual(search.lines, ['* SEARCH 1 2']);
    imap.close();
  });

  it('resolves aliases (whole address, bare local part) before accounts', async () => {
    const idler = (await store.findAccount('idler'))!;
    await store.createAccount('other', 'x');
    await store.addAlias('Sales@Example.com', idler.id);
    await store.addAlias('postmaster', idler.id);
    await assert.rejects(store.addAlias('sales@example.com', idler.id), /exists/);
    await store.addAlias('other@example.com', idler.id);
    const before = (await store.mailboxCounts(idler.id, (await store.getMailbox(idler.id, 'INBOX'))!.id)).messages;
    const codes = await lmtpDeliver(
      srv.lmtpPort,
      'x@example.org',
      ['sales@example.com', 'postmaster@example.com', 'Other@example.com', 'nobody@example.com'],
      message,
    );
    assert.deepEqual(codes, [250, 250, 250]);
    const after = (await store.mailboxCounts(idler.id, (await store.getMailbox(idler.id, 'INBOX'))!.id)).messages;
    assert.equal(after - before, 3, 'an alias wins over an account of the same name');
    assert.deepEqual(
      (await store.listAliases()).map((a) => a.address),
      ['other@example.com', 'postmaster', 'Sales@Example.com'],
    );
    await store.deleteAlias('OTHER@example.com');
    assert.equal(await store.findAlias('other@example.com'), null);
    await assert.rejects(store.deleteAlias('other@example.com'), /no such alias/);
    // An account's aliases go with it.
    const temp = await store.createAccount('temp', 'x');
    await store.addAlias('temp-alias@example.com', temp.id);
    await store.deleteAccount(temp.id);
    assert.equal(await store.findAlias('temp-alias@example.com'), null);
    await assert.rejects(store.addAlias('x@example.com', temp.id), /no such account/);
  });

  // Measures the file blob store; the PostgreSQL run covers sharing in test/store-pg-delivery.test.ts.
  it('stores a 1 MB message for 100 recipients in about 1 MB, and frees it with the last copy', {
    skip: process.env.MAILKEEP_TEST_STORE === 'postgres',
  }, async () => {
    const blobDir = join(srv.dataDir, 'blobs');
    const names = Array.from({ length: 100 }, (_, i) => `r${i}`);
    for (const n of names) await store.createAccount(n, 'x');
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.from(`${'0123456789abcdef'.repeat(62)}\r\n`.repeat(1050))]);
    assert.ok(big.length > 1_000_000);
    const before = await treeBytes(blobDir);
    const t0 = Date.now();
    const codes = await lmtpDeliver(
      srv.lmtpPort,
      'bulk@example.org',
      names.map((n) => `${n}@example.com`),
      big,
    );
    const ms = Date.now() - t0;
    assert.deepEqual(
      codes,
      names.map(() => 250),
    );
    const grown = (await treeBytes(blobDir)).bytes - before.bytes;
    assert.ok(grown >= big.length && grown < big.length + 64 * 1024, `blob storage grew by ${grown} bytes for a ${big.length}-byte message`);
    // Every copy reads back as its own trace lines + the shared bytes, whole and by range.
    for (const n of names) {
      const account = (await store.findAccount(n))!;
      const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
      const [summary] = await store.listSummaries(account.id, inbox.id);
      const [rec] = await store.getRecords(account.id, inbox.id, [summary!.uid]);
      const expected = Buffer.concat([Buffer.from(`Return-Path: <bulk@example.org>\r\nDelivered-To: ${n}@example.com\r\n`), big]);
      assert.equal(rec!.size, expected.length);
      assert.deepEqual(await store.blobs.read(rec!.blobId), expected);
      const chunks: Buffer[] = [];
      for await (const c of store.blobs.createReadStream(rec!.blobId, 30, 100_000)) chunks.push(c as Buffer);
      assert.deepEqual(Buffer.concat(chunks), expected.subarray(30, 100_000));
    }
    process.stdout.write(`# 100 recipients × ${big.length} bytes: ${ms} ms, blob storage +${grown} bytes\n`);
    for (const n of names) await store.deleteAccount((await store.findAccount(n))!.id);
    assert.deepEqual(await treeBytes(blobDir), before, 'the base blob went with its last composite');
  });
});
