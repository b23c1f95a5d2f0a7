/**
 * REPLACE and UID REPLACE (RFC 8508) over real sockets: the RFC's transcripts,
 * atomicity as other sessions see it, streaming of the message literal like
 * APPEND's, quota on the net change, and every error path leaving the mailbox
 * as it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AccountId } from '../src/ids.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Below the test message sizes, so a message literal only fits if it is streamed. */
const MAX_LITERAL = 4096;
const APPEND_LIMIT = 200_000;

let srv: TestServer;
let users = 0;

before(async () => {
  srv = await startTestServer({ limits: { maxLiteralSize: MAX_LITERAL, appendLimit: APPEND_LIMIT } });
});
after(async () => srv.stop());

/** RFC 8508 §3.2's example message, CRLF line ends. */
function draft(body: string, id = 1): Buffer {
  return Buffer.from(
    [
      'Date: Thu, 1 Jan 2015 00:05:00 -0500 (EST)',
      'From: Fritz Schmidt <fritz.ze@example.org>',
      'Subject: happy new year !!',
      'To: miss.mitzy@example.org',
      `Message-Id: <B238822388-010000${id}@example.org>`,
      'MIME-Version: 1.0',
      'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

/** A fresh user, logged in on a new connection; returns the client and the user's name. */
async function login(name?: string): Promise<{ c: RawClient; user: string }> {
  const user = name ?? `replace${++users}`;
  if (!name) await srv.addUser(user, 'pw');
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  assert.match((await client.command('l', `LOGIN ${user} pw`)).tagged, /^l OK/);
  return { c: client, user };
}

async function append(c: RawClient, mailbox: string, msg: Buffer, flags = ''): Promise<number> {
  const r = await c.command('a', Buffer.concat([Buffer.from(`APPEND ${mailbox} ${flags}{${msg.length}+}\r\n`), msg]));
  const m = /^a OK \[APPENDUID \d+ (\d+)\]/.exec(r.tagged);
  assert.ok(m, r.tagged);
  return Number(m[1]);
}

/** Sends a command whose last argument is a synchronizing literal, waiting for the continuation first. */
async function withLiteral(c: RawClient, tag: string, head: string, msg: Buffer): Promise<{ lines: string[]; tagged: string }> {
  c.send(`${tag} ${head} {${msg.length}}\r\n`);
  assert.match(await c.readLine(), /^\+ /);
  c.send(Buffer.concat([msg, Buffer.from('\r\n')]));
  return c.readTagged(tag);
}

async function uidsOf(c: RawClient, mailbox: string): Promise<number[]> {
  await c.command('x', `EXAMINE ${mailbox}`);
  const r = await c.command('s', 'UID SEARCH ALL');
  const line = r.lines.find((l) => l.startsWith('* SEARCH'));
  assert.ok(line, r.lines.join('\n'));
  return line.slice('* SEARCH'.length).trim().split(' ').filter(Boolean).map(Number);
}

async function accountId(user: string): Promise<AccountId> {
  const account = await srv.server.store.findAccount(user);
  assert.ok(account);
  return account.id;
}

describe('REPLACE (RFC 8508)', () => {
  test('is advertised', async () => {
    const { c } = await login();
    const caps = (await c.command('c', 'CAPABILITY')).lines.join(' ').split(' ');
    assert.ok(caps.includes('REPLACE'), caps.join(' '));
    c.close();
  });

  test('§3.2 example: REPLACE 4 Drafts replaces the fourth message, flags from the command only', async () => {
    const { c, user } = await login();
    const old: number[] = [];
    for (let i = 1; i <= 4; i++) old.push(await append(c, 'Drafts', draft(`draft ${i}`, i), i === 4 ? '(\\Flagged $Old) ' : ''));
    assert.match((await c.command('s', 'SELECT Drafts')).tagged, /OK \[READ-WRITE\]/);
    const fresh = draft('Just saw the best fireworks show. Wish you were here.', 9);
    const r = await withLiteral(c, 'A003', 'REPLACE 4 Drafts (\\Seen \\Draft)', fresh);
    assert.match(r.tagged, /^A003 OK /);
    const mb = await srv.server.store.getMailbox(await accountId(user), 'Drafts');
    assert.ok(mb);
    const newUid = old[3]! + 1;
    // §4.3: APPENDUID in an untagged OK, before the EXPUNGE.
    const appendUid = r.lines.findIndex((l) => l.startsWith(`* OK [APPENDUID ${mb.uidValidity} ${newUid}] `));
    const expunge = r.lines.indexOf('* 4 EXPUNGE');
    assert.ok(appendUid >= 0 && expunge > appendUid, r.lines.join('\n'));
    assert.ok(r.lines.includes('* 4 EXISTS') || r.lines.includes('* 5 EXISTS'), r.lines.join('\n'));

    const f = await c.command('f', 'FETCH 1:* (UID FLAGS BODY.PEEK[])');
    assert.equal(f.lines.length, 4, f.lines.join('\n'));
    const last = f.lines[3]!;
    assert.match(last, new RegExp(`^\\* 4 FETCH \\(UID ${newUid} FLAGS \\(\\\\Seen \\\\Draft( \\\\Recent)?\\) `));
    // §1: nothing is inherited from the replaced message (\Flagged, $Old).
    assert.doesNotMatch(last, /Flagged|\$Old/);
    assert.ok(last.includes(fresh.toString('latin1')), last);
    assert.deepEqual(await uidsOf(c, 'Drafts'), [...old.slice(0, 3), newUid]);
    c.close();
  });

  test('§3.3 example: UID REPLACE into another mailbox; the other mailbox gains, the selected one loses', async () => {
    const { c } = await login();
    const uid = await append(c, 'Drafts', draft('v1'));
    const keep = await append(c, 'Drafts', draft('other', 2));
    await c.command('s', 'SELECT Drafts');
    const fresh = draft('Just saw the best fireworks show. Wish you were here.\r\nHopefully next year you can join us.', 3);
    const r = await withLiteral(c, 'A004', `UID REPLACE ${uid} Sent (\\Seen)`, fresh);
    assert.match(r.tagged, /^A004 OK /);
    assert.ok(
      r.lines.some((l) => /^\* OK \[APPENDUID \d+ 1\] /.test(l)),
      r.lines.join('\n'),
    );
    assert.ok(r.lines.includes('* 1 EXPUNGE'), r.lines.join('\n'));
    assert.deepEqual(await uidsOf(c, 'Drafts'), [keep]);
    assert.deepEqual(await uidsOf(c, 'Sent'), [1]);
    const body = await c.command('f', 'UID FETCH 1 BODY.PEEK[]');
    assert.ok(body.lines[0]!.includes(fresh.toString('latin1')));
    c.close();
  });

  test('another session sees the append and the expunge together (one transaction)', async () => {
    const { c, user } = await login();
    const uid = await append(c, 'INBOX', draft('one'));
    const { c: watcher } = await login(user);
    await watcher.command('s', 'SELECT INBOX');
    await c.command('s', 'SELECT INBOX');
    assert.match((await withLiteral(c, 'r', `UID REPLACE ${uid} INBOX`, draft('two'))).tagged, /^r OK/);
    const n = await watcher.command('n', 'NOOP');
    assert.ok(n.lines.includes('* 1 EXPUNGE'), n.lines.join('\n'));
    assert.ok(
      n.lines.some((l) => /^\* \d EXISTS$/.test(l)),
      n.lines.join('\n'),
    );
    const f = await watcher.command('f', 'FETCH 1:* UID');
    assert.deepEqual(f.lines, [`* 1 FETCH (UID ${uid + 1})`]);
    c.close();
    watcher.close();
  });

  test('the message literal is streamed like APPEND: far above the literal limit, and the mailbox may be a literal', async () => {
    const { c } = await login();
    const uid = await append(c, 'INBOX', draft('small'));
    await c.command('s', 'SELECT INBOX');
    const big = draft('x'.repeat(76) + '\r\n'.repeat(1) + 'y'.repeat(20 * MAX_LITERAL));
    assert.ok(big.length > 10 * MAX_LITERAL);
    // LITERAL+ for both the mailbox name and the message.
    c.send(Buffer.concat([Buffer.from(`r UID REPLACE ${uid} {5+}\r\nINBOX (\\Seen) {${big.length}+}\r\n`), big, Buffer.from('\r\n')]));
    const r = await c.readTagged('r');
    assert.match(r.tagged, /^r OK /);
    const f = await c.command('f', `UID FETCH ${uid + 1} (RFC822.SIZE BODY.PEEK[])`);
    assert.ok(f.lines[0]!.includes(`RFC822.SIZE ${big.length}`), f.lines[0]!.slice(0, 200));
    assert.ok(f.lines[0]!.includes(big.toString('latin1')));
    // Over APPENDLIMIT the literal is refused before it is sent (no continuation), and nothing changes.
    c.send(`t UID REPLACE ${uid + 1} INBOX {${APPEND_LIMIT + 1}}\r\n`);
    assert.match(await c.readLine(), /^t NO \[TOOBIG\]/);
    assert.deepEqual(await uidsOf(c, 'INBOX'), [uid + 1]);
    c.close();
  });

  test('message data is what the command declares: after the number ("*" too) and a quoted mailbox, never the mailbox itself', async () => {
    const { c } = await login();
    assert.match((await c.command('c', 'CREATE "My Box"')).tagged, /^c OK/);
    await append(c, 'INBOX', draft('small'));
    await c.command('s', 'SELECT INBOX');
    const big = draft('z'.repeat(10 * MAX_LITERAL));
    c.send(Buffer.concat([Buffer.from(`r REPLACE * "My Box" {${big.length}+}\r\n`), big, Buffer.from('\r\n')]));
    assert.match((await c.readTagged('r')).tagged, /^r OK /);
    assert.equal((await uidsOf(c, '"My Box"')).length, 1);
    // A mailbox name is no message data: over the literal limit it is refused before it is sent.
    await c.command('s', 'SELECT INBOX');
    c.send(`m REPLACE 1 {${MAX_LITERAL + 1}}\r\n`);
    assert.match(await c.readLine(), /^m BAD \[TOOBIG\] Literal too big/);
    c.close();
  });

  test('error paths change nothing', async () => {
    const { c, user } = await login();
    const uid = await append(c, 'INBOX', draft('keep me'));
    const msg = draft('replacement');
    const send = (tag: string, head: string): Promise<{ lines: string[]; tagged: string }> => {
      c.send(Buffer.concat([Buffer.from(`${tag} ${head} {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
      return c.readTagged(tag);
    };
    // §3.5: selected state only.
    assert.match((await send('a1', `REPLACE 1 INBOX`)).tagged, /^a1 BAD/);
    await c.command('e', 'EXAMINE INBOX');
    assert.match((await send('a2', `UID REPLACE ${uid} INBOX`)).tagged, /^a2 NO \[READ-ONLY\]/);
    await c.command('s', 'SELECT INBOX');
    assert.match((await send('a3', `UID REPLACE ${uid} Nowhere`)).tagged, /^a3 NO \[TRYCREATE\]/);
    assert.match((await send('a4', `UID REPLACE ${uid + 100} INBOX`)).tagged, /^a4 NO /);
    assert.match((await send('a5', `REPLACE 2 INBOX`)).tagged, /^a5 BAD/);
    assert.match((await send('a6', `REPLACE 1:2 INBOX`)).tagged, /^a6 BAD/);
    assert.match((await send('a7', `REPLACE $ INBOX`)).tagged, /^a7 BAD/);
    const empty = await c.command('a8', `UID REPLACE ${uid} INBOX {0+}\r\n`);
    assert.match(empty.tagged, /^a8 NO /);
    // A message expunged by another session, not yet reported here.
    const { c: other } = await login(user);
    await other.command('s', 'SELECT INBOX');
    await other.command('st', `UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
    await other.command('x', 'EXPUNGE');
    // Known to this session (a FETCH by number learns of it but may not report it yet).
    await c.command('f', 'FETCH 1 FLAGS');
    assert.match((await send('a9', `UID REPLACE ${uid} INBOX`)).tagged, /^a9 NO \[EXPUNGEISSUED\]/);
    // Not yet known here: the store refuses inside its transaction.
    const second = uid + 1;
    assert.match((await other.command('a', Buffer.concat([Buffer.from(`APPEND INBOX {${msg.length}+}\r\n`), msg]))).tagged, /^a OK/);
    await c.command('n', 'NOOP');
    await other.command('st', `UID STORE ${second} +FLAGS.SILENT (\\Deleted)`);
    await other.command('x', 'EXPUNGE');
    assert.match((await send('a10', `UID REPLACE ${second} INBOX`)).tagged, /^a10 NO \[NONEXISTENT\]/);
    // Nothing was appended by any of these.
    const status = await other.command('st', 'STATUS INBOX (MESSAGES UIDNEXT)');
    assert.ok(status.lines.includes(`* STATUS INBOX (MESSAGES 0 UIDNEXT ${second + 1})`), status.lines.join('\n'));
    c.close();
    other.close();
  });

  test('§3.4 quota: only the net change counts', async () => {
    const { c, user } = await login();
    const small = draft('small');
    const uid = await append(c, 'INBOX', small);
    const id = await accountId(user);
    await srv.server.store.setQuota(id, { storage: small.length + 10, messages: 1 });
    await c.command('s', 'SELECT INBOX');
    // At the message limit: one in, one out.
    const same = draft('smell');
    assert.match((await withLiteral(c, 'r1', `UID REPLACE ${uid} INBOX`, same)).tagged, /^r1 OK/);
    // Growing past the storage limit fails and keeps the old message.
    const grown = draft('s'.repeat(40));
    const r = await withLiteral(c, 'r2', `UID REPLACE ${uid + 1} INBOX`, grown);
    assert.match(r.tagged, /^r2 NO \[OVERQUOTA\]/);
    assert.deepEqual(await uidsOf(c, 'INBOX'), [uid + 1]);
    // Over a lowered limit, a smaller replacement still works.
    await srv.server.store.setQuota(id, { storage: 10, messages: 1 });
    await c.command('s', 'SELECT INBOX');
    assert.match((await withLiteral(c, 'r3', `UID REPLACE ${uid + 1} INBOX`, draft('s'))).tagged, /^r3 OK/);
    c.close();
  });

  test('§4.5 QRESYNC: the old message VANISHes and the tagged OK carries HIGHESTMODSEQ; §4.6 a new EMAILID', async () => {
    const { c } = await login();
    const uid = await append(c, 'INBOX', draft('v1'));
    await c.command('e', 'ENABLE QRESYNC');
    await c.command('s', 'SELECT INBOX');
    const before = await c.command('f', `UID FETCH ${uid} EMAILID`);
    const r = await withLiteral(c, 'r', `UID REPLACE ${uid} INBOX`, draft('v2'));
    assert.ok(r.lines.includes(`* VANISHED ${uid}`), r.lines.join('\n'));
    const m = /^r OK \[HIGHESTMODSEQ (\d+)\]/.exec(r.tagged);
    assert.ok(m, r.tagged);
    const status = await c.command('st', 'STATUS INBOX (HIGHESTMODSEQ)');
    assert.ok(
      status.lines.some((l) => l.endsWith(`(HIGHESTMODSEQ ${m[1]})`)),
      status.lines.join('\n'),
    );
    const afterFetch = await c.command('f', `UID FETCH ${uid + 1} EMAILID`);
    const id = (line: string): string => /EMAILID \(([^)]+)\)/.exec(line)![1]!;
    assert.notEqual(id(afterFetch.lines[0]!), id(before.lines[0]!));
    c.close();
  });
});
