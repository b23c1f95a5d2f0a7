/**
 * Issue 18, findings 11 and 22: an account cannot grow its mailboxes, a
 * mailbox its messages or its keywords without bound. With small configured
 * limits, two sessions race to go over each one; the store's write
 * transaction lets exactly the allowed number through, and the rest get the
 * RFC 5530 LIMIT code (LMTP: 552 5.2.2, RFC 3463 "mailbox full"). Runs on
 * the configured test store (MAILKEEP_TEST_STORE=postgres for PostgreSQL).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dotStuff, LmtpClient } from '../helpers/lmtp-client.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAX_MAILBOXES = 10;
const MAX_MESSAGES = 6;
const MAX_KEYWORDS = 4;
/** INBOX and the five default special-use mailboxes every account starts with. */
const INITIAL_MAILBOXES = 6;

let srv: TestServer;
let users = 0;

before(async () => {
  srv = await startTestServer({
    limits: { maxMailboxesPerAccount: MAX_MAILBOXES, maxMessagesPerMailbox: MAX_MESSAGES, maxKeywordsPerMailbox: MAX_KEYWORDS },
  });
});
after(async () => srv.stop());

/** A fresh account and two logged-in sessions of it. */
async function twoSessions(): Promise<{ user: string; a: RawClient; b: RawClient }> {
  const user = `limits${++users}`;
  await srv.addUser(user, 'pw');
  const [a, b] = await Promise.all([RawClient.login(srv.imapsPort, user, 'pw'), RawClient.login(srv.imapsPort, user, 'pw')]);
  return { user, a: a!, b: b! };
}

/** Sends every command in one write and returns the tagged reply of each, by tag (bounded by count and time). */
async function pipeline(c: RawClient, commands: ReadonlyArray<readonly [tag: string, command: string | Buffer]>): Promise<Map<string, string>> {
  c.send(Buffer.concat(commands.flatMap(([tag, cmd]) => [Buffer.from(`${tag} `), Buffer.from(cmd), Buffer.from('\r\n')])));
  const tags = new Set(commands.map(([tag]) => tag));
  const replies = new Map<string, string>();
  const deadline = Date.now() + 60_000;
  for (let lines = 0; replies.size < tags.size; lines++) {
    assert.ok(lines < 10_000 && Date.now() < deadline, 'no end to the replies');
    const line = await c.readLine(Math.max(1, deadline - Date.now()));
    const tag = line.slice(0, line.indexOf(' '));
    if (tags.has(tag)) replies.set(tag, line);
  }
  return replies;
}

/** Counts replies that are OK, and checks every other one is `NO [LIMIT]`. */
function okCount(replies: Iterable<string>): number {
  let ok = 0;
  for (const r of replies) {
    if (/^\S+ OK/.test(r)) ok++;
    else assert.match(r, /^\S+ NO \[LIMIT\] /);
  }
  return ok;
}

function appendCommand(subject: string, flags = ''): Buffer {
  const msg = Buffer.from(`Subject: ${subject}\r\n\r\nbody of ${subject}\r\n`);
  return Buffer.concat([Buffer.from(`APPEND INBOX (${flags}) {${msg.length}+}\r\n`), msg]);
}

async function status(c: RawClient, mailbox: string, item: string): Promise<number> {
  const r = await c.command('st', `STATUS ${mailbox} (${item})`);
  assert.match(r.tagged, /^st OK/);
  const m = new RegExp(`${item} (\\d+)`).exec(r.lines.join('\n'));
  assert.ok(m, r.lines.join('\n'));
  return Number(m[1]);
}

describe('issue 18: per-account and per-mailbox counts are bounded', () => {
  test('finding 11: two sessions racing CREATE stop exactly at the mailbox limit with NO [LIMIT]', async () => {
    const { a, b } = await twoSessions();
    const tries = MAX_MAILBOXES;
    const [fromA, fromB] = await Promise.all([
      pipeline(
        a,
        Array.from({ length: tries }, (_, i) => [`a${i}`, `CREATE boxA${i}`] as const),
      ),
      pipeline(
        b,
        Array.from({ length: tries }, (_, i) => [`b${i}`, `CREATE boxB${i}`] as const),
      ),
    ]);
    assert.equal(okCount([...fromA.values(), ...fromB.values()]), MAX_MAILBOXES - INITIAL_MAILBOXES);
    const list = await a.command('l', 'LIST "" "*"');
    assert.equal(list.lines.filter((l) => l.startsWith('* LIST ')).length, MAX_MAILBOXES);
    // An existing name is still ALREADYEXISTS, and DELETE makes room again.
    assert.match((await a.command('x', 'CREATE INBOX')).tagged, /^x NO \[ALREADYEXISTS\]/);
    assert.match((await a.command('d', 'DELETE Junk')).tagged, /^d OK/);
    assert.match((await b.command('c', 'CREATE again')).tagged, /^c OK/);
    assert.match((await b.command('c2', 'CREATE again2')).tagged, /^c2 NO \[LIMIT\]/);
    // RENAME INBOX creates a mailbox (RFC 9051 §6.3.6): refused when full too, and INBOX keeps its messages.
    assert.match((await b.command('r', 'RENAME INBOX Old')).tagged, /^r NO \[LIMIT\]/);
    a.close();
    b.close();
  });

  test('finding 11: two sessions racing APPEND stop exactly at the message limit; COPY, MOVE and LMTP are refused too', async () => {
    const { user, a, b } = await twoSessions();
    const [fromA, fromB] = await Promise.all([
      pipeline(
        a,
        Array.from({ length: MAX_MESSAGES }, (_, i) => [`a${i}`, appendCommand(`a${i}`)] as const),
      ),
      pipeline(
        b,
        Array.from({ length: MAX_MESSAGES }, (_, i) => [`b${i}`, appendCommand(`b${i}`)] as const),
      ),
    ]);
    assert.equal(okCount([...fromA.values(), ...fromB.values()]), MAX_MESSAGES);
    assert.equal(await status(a, 'INBOX', 'MESSAGES'), MAX_MESSAGES);

    // COPY into a full mailbox, and MOVE: all or nothing.
    assert.match((await a.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    assert.match((await a.command('c1', `COPY 1:${MAX_MESSAGES} Archive`)).tagged, /^c1 OK/);
    assert.match((await a.command('c2', 'COPY 1 Archive')).tagged, /^c2 NO \[LIMIT\]/);
    assert.match((await a.command('m', 'MOVE 1 Archive')).tagged, /^m NO \[LIMIT\]/);
    // Within the full mailbox, MOVE and REPLACE (RFC 8508) leave the count as it was: allowed.
    assert.match((await a.command('m2', 'MOVE 1 INBOX')).tagged, /^m2 OK/);
    const draft = Buffer.from('Subject: draft v2\r\n\r\nnewer\r\n');
    const replace = Buffer.concat([Buffer.from(`REPLACE 1 INBOX {${draft.length}+}\r\n`), draft]);
    assert.match((await a.command('rp', replace)).tagged, /^rp OK/);
    assert.equal(await status(b, 'Archive', 'MESSAGES'), MAX_MESSAGES);
    assert.equal(await status(b, 'INBOX', 'MESSAGES'), MAX_MESSAGES);

    // RFC 3463 X.2.2: delivery into a full mailbox is "mailbox full", permanent.
    const { client: lmtp } = await LmtpClient.connect(srv.lmtpPort);
    lmtp.send(`LHLO test\r\nMAIL FROM:<x@example.org>\r\nRCPT TO:<${user}@example.com>\r\nDATA\r\n`);
    const head = await lmtp.replies(4);
    assert.equal(head[3]!.code, 354, head.map((r) => r.last).join('\n'));
    lmtp.send(dotStuff(Buffer.from('Subject: one too many\r\n\r\nhi\r\n')));
    assert.match((await lmtp.reply()).last, /^552 5\.2\.2 /);
    lmtp.close();
    assert.equal(await status(b, 'INBOX', 'MESSAGES'), MAX_MESSAGES);

    // EXPUNGE makes room again.
    assert.match((await a.command('f', 'STORE 1 +FLAGS.SILENT (\\Deleted)')).tagged, /^f OK/);
    assert.match((await a.command('e', 'EXPUNGE')).tagged, /^e OK/);
    assert.match((await b.command('ap', appendCommand('room again'))).tagged, /^ap OK/);
    a.close();
    b.close();
  });

  test('finding 22: two sessions racing new keywords stop at the keyword limit; PERMANENTFLAGS then lacks \\*', async () => {
    const { a, b } = await twoSessions();
    assert.match((await a.command('ap', appendCommand('flagged'))).tagged, /^ap OK/);
    const select = await a.command('s', 'SELECT INBOX');
    assert.ok(
      select.lines.some((l) => /^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]/.test(l)),
      select.lines.join('\n'),
    );
    assert.match((await b.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    const [fromA, fromB] = await Promise.all([
      pipeline(
        a,
        Array.from({ length: MAX_KEYWORDS }, (_, i) => [`a${i}`, `STORE 1 +FLAGS.SILENT (kwA${i})`] as const),
      ),
      pipeline(
        b,
        Array.from({ length: MAX_KEYWORDS }, (_, i) => [`b${i}`, `STORE 1 +FLAGS.SILENT (kwB${i})`] as const),
      ),
    ]);
    assert.equal(okCount([...fromA.values(), ...fromB.values()]), MAX_KEYWORDS);

    // RFC 9051 §7.1: no \* once full; a new keyword by APPEND is refused, a known one (any case) is not.
    const full = await a.command('s2', 'SELECT INBOX');
    const permanent = full.lines.find((l) => l.startsWith('* OK [PERMANENTFLAGS '));
    assert.ok(permanent, full.lines.join('\n'));
    assert.doesNotMatch(permanent, /\\\*/);
    const flags = full.lines.find((l) => l.startsWith('* FLAGS '));
    assert.ok(flags);
    const known = /\b(kw[AB]\d)\b/.exec(flags)?.[1];
    assert.ok(known, flags);
    assert.match((await a.command('n', appendCommand('new kw', 'brandNew'))).tagged, /^n NO \[LIMIT\]/);
    assert.match((await a.command('k', appendCommand('known kw', known.toUpperCase()))).tagged, /^k OK/);
    assert.match((await b.command('n2', 'STORE 1 +FLAGS (brandNew)')).tagged, /^n2 NO \[LIMIT\]/);
    assert.equal(await status(b, 'INBOX', 'MESSAGES'), 2);

    // Keywords no message carries any more make room: remove them all, then a new one works.
    assert.match((await a.command('r', `STORE 1:* -FLAGS.SILENT (${flags.slice(flags.indexOf('(') + 1, flags.lastIndexOf(')'))})`)).tagged, /^r OK/);
    assert.match((await b.command('n3', 'STORE 1 +FLAGS.SILENT (brandNew)')).tagged, /^n3 OK/);
    a.close();
    b.close();
  });
});
