/**
 * OBJECTID (RFC 8474) and SAVEDATE (RFC 8514) over real sockets: MAILBOXID
 * on CREATE, SELECT/EXAMINE and STATUS, stable across RENAME; EMAILID kept
 * by COPY and MOVE; THREADID NIL; the SEARCH keys of both extensions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { newEmailId } from '../src/store/shared/names.js';

let srv: TestServer;
let users = 0;

before(async () => {
  srv = await startTestServer();
});
after(async () => srv.stop());

/** RFC 8474 §7 objectid. */
const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;

async function login(): Promise<RawClient> {
  const user = `objid${++users}`;
  await srv.addUser(user, 'pw');
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  assert.match((await client.command('l', `LOGIN ${user} pw`)).tagged, /^l OK/);
  return client;
}

function message(subject: string, extra = ''): Buffer {
  return Buffer.from(`Subject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\r\n${extra}\r\nbody of ${subject}\r\n`);
}

async function append(c: RawClient, mailbox: string, msg: Buffer, date = ''): Promise<void> {
  const r = await c.command('a', Buffer.concat([Buffer.from(`APPEND ${mailbox} ${date}{${msg.length}+}\r\n`), msg]));
  assert.match(r.tagged, /^a OK/);
}

/** The MAILBOXID in a response code or STATUS item. */
function mailboxIdIn(text: string): string {
  const m = /MAILBOXID \(([^)]*)\)/.exec(text);
  assert.ok(m, text);
  assert.match(m[1]!, OBJECT_ID);
  assert.doesNotMatch(m[1]!, /^[0-9-]/);
  return m[1]!;
}

async function statusId(c: RawClient, mailbox: string): Promise<string> {
  const r = await c.command('st', `STATUS ${mailbox} (MAILBOXID)`);
  assert.match(r.tagged, /^st OK/);
  assert.equal(r.lines.length, 1);
  return mailboxIdIn(r.lines[0]!);
}

/** `* n FETCH (EMAILID (x) THREADID NIL)` lines → [EMAILID per message]. */
function emailIds(lines: string[]): string[] {
  return lines.map((l) => {
    const m = /^\* \d+ FETCH \(EMAILID \(([^)]+)\) THREADID NIL\)$/.exec(l);
    assert.ok(m, l);
    assert.match(m[1]!, OBJECT_ID);
    return m[1]!;
  });
}

describe('OBJECTID (RFC 8474)', () => {
  test('§3 capability', async () => {
    const c = await login();
    const caps = (await c.command('c', 'CAPABILITY')).lines[0]!.split(' ');
    for (const cap of ['OBJECTID', 'SAVEDATE', 'PREVIEW']) assert.ok(caps.includes(cap), cap);
    c.close();
  });

  test('§4.1–§4.3 transcript: CREATE, STATUS, RENAME keeps the id, SELECT and EXAMINE report it', async () => {
    const c = await login();
    const foo = await c.command('3', 'create foo');
    assert.match(foo.tagged, /^3 OK \[MAILBOXID \(/);
    const fooId = mailboxIdIn(foo.tagged);
    const bar = await c.command('4', 'create bar');
    const barId = mailboxIdIn(bar.tagged);
    assert.notEqual(fooId, barId);
    assert.match((await c.command('5', 'create foo')).tagged, /^5 NO/);
    const st = await c.command('6', 'status foo (mailboxid)');
    assert.deepEqual(st.lines, [`* STATUS foo (MAILBOXID (${fooId}))`]);
    assert.match((await c.command('8', 'rename foo renamed')).tagged, /^8 OK/);
    assert.equal(await statusId(c, 'renamed'), fooId);
    assert.equal(await statusId(c, 'bar'), barId);
    // Combined with other items, in the order asked.
    const both = await c.command('st', 'STATUS bar (MESSAGES MAILBOXID UIDNEXT)');
    assert.deepEqual(both.lines, [`* STATUS bar (MESSAGES 0 MAILBOXID (${barId}) UIDNEXT 1)`]);
    for (const verb of ['SELECT', 'EXAMINE']) {
      const sel = await c.command('27', `${verb} renamed`);
      const line = sel.lines.find((l) => l.startsWith('* OK [MAILBOXID'));
      assert.ok(line, sel.lines.join('\n'));
      assert.equal(mailboxIdIn(line), fooId);
    }
    // Inferiors keep theirs too; a recreated name gets a new one.
    const childId = mailboxIdIn((await c.command('c', 'CREATE renamed/child')).tagged);
    await c.command('u', 'UNSELECT');
    await c.command('r', 'RENAME renamed again');
    assert.equal(await statusId(c, 'again/child'), childId);
    assert.equal(await statusId(c, 'again'), fooId);
    await c.command('d', 'DELETE bar');
    assert.notEqual(mailboxIdIn((await c.command('c', 'CREATE bar')).tagged), barId);
    c.close();
  });

  test('§4 renaming INBOX makes a new mailbox (new id); INBOX keeps its own', async () => {
    const c = await login();
    const inbox = await statusId(c, 'INBOX');
    await append(c, 'INBOX', message('m1'));
    await c.command('r', 'RENAME INBOX old-inbox');
    assert.equal(await statusId(c, 'INBOX'), inbox);
    assert.notEqual(await statusId(c, 'old-inbox'), inbox);
    c.close();
  });

  test('§5 transcript: EMAILID distinct per APPEND, kept by MOVE and COPY; THREADID NIL', async () => {
    const c = await login();
    await c.command('c', 'CREATE foo');
    await append(c, 'inbox', message('Message A'), '"20-Mar-2018 03:07:37 +1100" ');
    await append(c, 'inbox', message('Re: Message A', 'References: <MessageA@example.com>\r\n'), '"20-Mar-2018 03:07:37 +1100" ');
    await append(c, 'inbox', message('Message C'), '"20-Mar-2018 03:07:37 +1100" ');
    await c.command('s', 'SELECT inbox');
    const ids = emailIds((await c.command('22', 'fetch 1:* (emailid threadid)')).lines);
    assert.equal(new Set(ids).size, 3);
    const move = await c.command('23', 'move 2 foo');
    assert.match(move.tagged, /^23 OK/);
    assert.deepEqual(emailIds((await c.command('24', 'fetch 1:* (emailid threadid)')).lines), [ids[0], ids[2]]);
    await c.command('cp', 'COPY 1 foo');
    await c.command('25', 'select "foo"');
    assert.deepEqual(emailIds((await c.command('26', 'fetch 1:* (emailid threadid)')).lines), [ids[1], ids[0]]);
    // UID FETCH of one item alone.
    assert.deepEqual((await c.command('u', 'UID FETCH 1 THREADID')).lines, ['* 1 FETCH (UID 1 THREADID NIL)']);
    c.close();
  });

  test('§5.1 email ids are objectids, distinct across many refills of their random pool', () => {
    const ids = Array.from({ length: 5000 }, () => newEmailId());
    for (const id of ids) assert.match(id, OBJECT_ID);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('§6 SEARCH EMAILID finds exactly that message; THREADID finds none; a malformed id is BAD', async () => {
    const c = await login();
    for (const s of ['one', 'two', 'three']) await append(c, 'INBOX', message(s));
    await c.command('s', 'SELECT INBOX');
    const ids = emailIds((await c.command('f', 'FETCH 1:* (EMAILID THREADID)')).lines);
    assert.deepEqual((await c.command('27', `search emailid ${ids[1]}`)).lines, ['* SEARCH 2']);
    assert.deepEqual((await c.command('o', `UID SEARCH OR EMAILID ${ids[0]} EMAILID ${ids[2]}`)).lines, ['* SEARCH 1 3']);
    // ObjectIDs are case-sensitive (§7).
    const swapped = ids[1]!.replace(/[a-z]/gi, (ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()));
    assert.deepEqual((await c.command('k', `SEARCH EMAILID ${swapped}`)).lines, ['* SEARCH']);
    assert.deepEqual((await c.command('n', `SEARCH NOT EMAILID ${ids[1]}`)).lines, ['* SEARCH 1 3']);
    assert.deepEqual((await c.command('28', 'search threadid T64b478a75b7ea9')).lines, ['* SEARCH']);
    assert.match((await c.command('b', 'SEARCH EMAILID "a b"')).tagged, /^b BAD/);
    assert.match((await c.command('b', 'SEARCH EMAILID')).tagged, /^b BAD/);
    assert.match((await c.command('b', `SEARCH THREADID ${'x'.repeat(256)}`)).tagged, /^b BAD/);
    c.close();
  });
});

describe('SAVEDATE (RFC 8514)', () => {
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const day = (d: Date): string => `${d.getUTCDate()}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()}`;

  test('§4.2 FETCH SAVEDATE is when the message was saved, not its internal date', async () => {
    const c = await login();
    const before = Math.floor(Date.now() / 1000) * 1000;
    await append(c, 'INBOX', message('old'), '"01-Jan-2015 18:50:53 +0100" ');
    await c.command('s', 'SELECT INBOX');
    const r = await c.command('A101', 'FETCH 1 (SAVEDATE INTERNALDATE)');
    const m = /^\* 1 FETCH \(SAVEDATE "([^"]+)" INTERNALDATE "01-Jan-2015 17:50:53 \+0000"\)$/.exec(r.lines[0] ?? '');
    assert.ok(m, r.lines.join('\n'));
    const saved = Date.parse(m[1]!.replace(/^(\d+)-(\w+)-(\d+) /, '$2 $1 $3 '));
    assert.ok(saved >= before && saved <= Date.now(), m[1]);
    c.close();
  });

  test('§4.3 SAVEDBEFORE, SAVEDON, SAVEDSINCE compare the save date; SAVEDATESUPPORTED matches all', async () => {
    const c = await login();
    await append(c, 'INBOX', message('a'), '"01-Jan-2015 12:00:00 +0000" ');
    await append(c, 'INBOX', message('b'));
    await c.command('s', 'SELECT INBOX');
    // The day the server saved them (read back, so a test run across midnight stays right).
    const saved = /SAVEDATE "(\d+)-(\w+)-(\d+) /.exec((await c.command('f', 'FETCH 2 SAVEDATE')).lines[0]!);
    assert.ok(saved);
    const today = new Date(Date.UTC(Number(saved[3]), MONTHS.indexOf(saved[2]!), Number(saved[1])));
    const search = async (q: string): Promise<string[]> => (await c.command('s', `SEARCH ${q}`)).lines;
    const tomorrow = new Date(today.getTime() + 86_400_000);
    assert.deepEqual(await search(`SAVEDON ${day(today)}`), ['* SEARCH 1 2']);
    assert.deepEqual(await search(`SAVEDSINCE ${day(today)}`), ['* SEARCH 1 2']);
    assert.deepEqual(await search(`SAVEDBEFORE ${day(today)}`), ['* SEARCH']);
    assert.deepEqual(await search(`SAVEDBEFORE ${day(tomorrow)}`), ['* SEARCH 1 2']);
    assert.deepEqual(await search(`SAVEDSINCE "${day(tomorrow)}"`), ['* SEARCH']);
    // The internal date keys still see 2015.
    assert.deepEqual(await search(`BEFORE ${day(today)}`), ['* SEARCH 1']);
    assert.deepEqual(await search(`SAVEDON 1-Jan-2015`), ['* SEARCH']);
    assert.deepEqual(await search('SAVEDATESUPPORTED'), ['* SEARCH 1 2']);
    assert.deepEqual(await search('NOT SAVEDATESUPPORTED'), ['* SEARCH']);
    assert.match((await c.command('b', 'SEARCH SAVEDON 32-Jan-2015')).tagged, /^b BAD/);
    assert.match((await c.command('b', 'SEARCH SAVEDSINCE')).tagged, /^b BAD/);
    c.close();
  });
});
