/**
 * NOTIFY (RFC 5465), transcripts adapted from the RFC's examples: STATUS for
 * non-selected mailboxes while idling and between commands, LIST for
 * MailboxName and SubscriptionChange, METADATA, NOTIFY NONE, the error
 * cases (BAD, NO [BADEVENT], NO [CLIENTBUG]), NOTIFICATIONOVERFLOW,
 * SELECTED vs SELECTED-DELAYED, and changes made through a second process
 * (SQLite: the same data directory; PostgreSQL: the same database).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { spawnServer, startTestServer, type ChildServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let users = 0;
const MAX_PENDING = 3;
/** Above what the other tests' accounts reach (6 default mailboxes plus a few). */
const MAX_MAILBOXES = 12;

before(async () => {
  srv = await startTestServer({ imap: { notifyMaxPending: MAX_PENDING, notifyMaxMailboxes: MAX_MAILBOXES } });
});
after(async () => srv.stop());

/** A fresh account (tests do not see each other's changes) and a login function for it. */
async function account(): Promise<(port?: number) => Promise<RawClient>> {
  const name = `notify${++users}`;
  await srv.addUser(name, 'pw');
  return async (port = srv.imapsPort) => {
    const { client } = await RawClient.connect(port, { tls: true });
    assert.match((await client.command('l', `LOGIN ${name} pw`)).tagged, /^l OK/);
    return client;
  };
}

async function ok(c: RawClient, tag: string, cmd: string): Promise<string[]> {
  const r = await c.command(tag, cmd);
  assert.match(r.tagged, new RegExp(`^${tag} OK`), `${cmd} → ${r.tagged}`);
  return r.lines;
}

async function append(c: RawClient, tag: string, mailbox: string, text = 'hello'): Promise<void> {
  const msg = `Subject: ${text}\r\nFrom: a@example.org\r\n\r\n${text}\r\n`;
  await ok(c, tag, `APPEND ${mailbox} {${msg.length}+}\r\n${msg}`);
}

/** Reads unsolicited lines until one matches (or times out). */
async function waitFor(c: RawClient, re: RegExp, timeoutMs = 3000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = await c.readLine(Math.max(1, deadline - Date.now())).catch(() => {
      throw new Error(`no line matching ${re} within ${timeoutMs} ms; saw:\n${seen.join('\n')}`);
    });
    seen.push(line);
    if (re.test(line)) return seen;
  }
}

/** Asserts that nothing arrives for a while. */
async function silent(c: RawClient, ms = 300): Promise<void> {
  const line = await c.readLine(ms).catch(() => null);
  assert.equal(line, null, `unexpected line: ${line}`);
}

const RFC_SET =
  'NOTIFY SET STATUS (selected (MessageNew (uid flags) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))';

describe('NOTIFY', () => {
  test('is advertised after login', async () => {
    const login = await account();
    const a = await login();
    const caps = (await ok(a, 'c', 'CAPABILITY'))[0]!;
    assert.match(caps, / NOTIFY( |$)/);
    a.close();
  });

  test('SET STATUS: initial STATUS, then STATUS for APPENDs elsewhere during IDLE and between commands; FETCH for new messages in the selected mailbox', async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    await ok(b, 'c1', 'CREATE news');
    await append(b, 'a0', 'news', 'first');

    const set = await ok(a, 'n', RFC_SET);
    assert.ok(
      set.some((l) => /^\* STATUS news \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/.test(l)),
      set.join('\n'),
    );
    assert.ok(
      set.some((l) => /^\* STATUS INBOX \(MESSAGES 0 UIDNEXT 1 /.test(l)),
      set.join('\n'),
    );
    await ok(a, 's', 'SELECT INBOX');

    // While idling (RFC 5465 §4).
    a.send('i IDLE\r\n');
    assert.equal(await a.readLine(), '+ idling');
    await append(b, 'a1', 'news');
    await waitFor(a, /^\* STATUS news \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 2\)$/);
    a.send('DONE\r\n');
    assert.match((await a.readTagged('i')).tagged, /^i OK/);

    // Not idling: sent at once, without a command (§3: the client listens all the time).
    await append(b, 'a2', 'news');
    await waitFor(a, /^\* STATUS news \(MESSAGES 3 UIDNEXT 4 /);

    // The selected mailbox: EXISTS, then FETCH with the requested attributes (§5.2).
    await append(b, 'a3', 'INBOX');
    const lines = await waitFor(a, /^\* 1 FETCH \(UID 1 FLAGS \(\\Recent\)\)$/);
    assert.ok(lines.includes('* 1 EXISTS'), lines.join('\n'));
    assert.ok(!lines.some((l) => l.startsWith('* STATUS INBOX')), 'the selected mailbox gets no STATUS');

    // A flag change elsewhere shows as UNSEEN only when FlagChange is asked for there: personal did not ask.
    await ok(b, 'x', 'SELECT news');
    await ok(b, 'st', 'STORE 1 +FLAGS (\\Seen)');
    await silent(a);
    // By the time a NOOP completes.
    await append(b, 'a4', 'news');
    const noop = await a.command('no', 'NOOP');
    assert.ok(
      noop.lines.some((l) => /^\* STATUS news \(MESSAGES 4 UIDNEXT 5 UIDVALIDITY \d+ UNSEEN 3\)$/.test(l)),
      noop.lines.join('\n'),
    );
    // A change while a command runs (APPEND waiting for its literal) is delivered at the command's end.
    a.send('w APPEND Trash {7}\r\n');
    assert.match(await a.readLine(), /^\+ /);
    await append(b, 'a5', 'news');
    await silent(a);
    a.send('x: y\r\n\r\n');
    const w = await a.readTagged('w');
    assert.ok(
      w.lines.some((l) => /^\* STATUS news \(MESSAGES 5 UIDNEXT 6 /.test(l)),
      w.lines.join('\n'),
    );
    a.close();
    b.close();
  });

  test('MailboxName and SubscriptionChange: LIST for CREATE, RENAME (OLDNAME), SUBSCRIBE, DELETE by another session', async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    await ok(a, 'n', 'NOTIFY SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))');

    await ok(b, 'c', 'CREATE proj/alpha');
    const created = await waitFor(a, /^\* LIST \(\\HasNoChildren\) "\/" proj\/alpha$/);
    // §5.4: the parent is affected too (created here by CREATE's parent rule).
    assert.ok(
      [...created, ...(await drain(a))].some((l) => /^\* LIST \(\\HasChildren\) "\/" proj$/.test(l)),
      created.join('\n'),
    );

    await ok(b, 'r', 'RENAME proj proj2');
    const renamed = await waitFor(a, /^\* LIST \(\\HasChildren\) "\/" proj2 \("OLDNAME" \(proj\)\)$/);
    // No separate response for the child that moved with it.
    assert.ok(![...renamed, ...(await drain(a))].some((l) => /alpha/.test(l)));

    await ok(b, 'sub', 'SUBSCRIBE proj2/alpha');
    await waitFor(a, /^\* LIST \(\\HasNoChildren \\Subscribed\) "\/" proj2\/alpha$/);
    await ok(b, 'uns', 'UNSUBSCRIBE proj2/alpha');
    await waitFor(a, /^\* LIST \(\\HasNoChildren\) "\/" proj2\/alpha$/);

    await ok(b, 'd', 'DELETE proj2/alpha');
    await waitFor(a, /^\* LIST \(\\NonExistent \\HasNoChildren\) "\/" proj2\/alpha$/);

    // A mailbox created after NOTIFY SET is watched too (personal tracks creates).
    await ok(b, 'c2', 'CREATE later');
    await waitFor(a, /^\* LIST \(\\HasNoChildren\) "\/" later$/);
    await append(b, 'ap', 'later');
    await waitFor(a, /^\* STATUS later \(MESSAGES 1 UIDNEXT 2 /);

    // NOTIFY NONE stops everything.
    await ok(a, 'none', 'NOTIFY NONE');
    await append(b, 'ap2', 'later');
    await ok(b, 'c3', 'CREATE quiet');
    await silent(a);
    const noop = await a.command('no', 'NOOP');
    assert.deepEqual(noop.lines, []);
    a.close();
    b.close();
  });

  test('SUBTREE and MAILBOXES limit what is watched; METADATA changes are reported', async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    await ok(b, 'c1', 'CREATE lists/imap');
    await ok(b, 'c2', 'CREATE misc');
    await ok(b, 'c3', 'CREATE other');
    const set = await ok(
      a,
      'n',
      'NOTIFY SET STATUS (subtree lists (MessageNew MessageExpunge)) (mailboxes misc (MessageNew MessageExpunge MailboxMetadataChange)) (personal (ServerMetadataChange))',
    );
    const statusNames = set
      .filter((l) => l.startsWith('* STATUS'))
      .map((l) => l.split(' ')[2])
      .sort();
    assert.deepEqual(statusNames, ['lists', 'lists/imap', 'misc']);

    await append(b, 'a1', 'other');
    await silent(a);
    await append(b, 'a2', 'lists/imap');
    await waitFor(a, /^\* STATUS lists\/imap \(MESSAGES 1 /);

    await ok(b, 'm1', 'SETMETADATA misc (/private/comment "hi")');
    await waitFor(a, /^\* METADATA misc \/private\/comment$/);
    await ok(b, 'm2', 'SETMETADATA "" (/shared/comment "server")');
    await waitFor(a, /^\* METADATA "" \/shared\/comment$/);
    await ok(b, 'm3', 'SETMETADATA misc (/private/comment NIL)');
    await waitFor(a, /^\* METADATA misc \/private\/comment$/);
    a.close();
    b.close();
  });

  test('§5.2: a message arriving right after SELECT gets its FETCH', async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    await ok(a, 'n', 'NOTIFY SET (selected (MessageNew (uid) MessageExpunge))');
    await ok(a, 's', 'SELECT INBOX');
    await append(b, 'b1', 'INBOX');
    const lines = await waitFor(a, /^\* 1 FETCH \(UID 1\)$/);
    assert.ok(lines.includes('* 1 EXISTS'), lines.join('\n'));
    a.close();
    b.close();
  });

  test("§5: the client's own changes are not reported back to it; another session's still are", async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    await ok(a, 's', 'SELECT INBOX');
    await ok(
      a,
      'n',
      'NOTIFY SET (selected (MessageNew (uid) MessageExpunge)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange))',
    );
    const quiet = (lines: string[], what: string): void => {
      assert.ok(!lines.some((l) => /^\* (STATUS|LIST|METADATA|\d+ FETCH)/.test(l)), `${what}:\n${lines.join('\n')}`);
    };

    // Into a watched mailbox, and into the selected one: EXISTS, but no STATUS and no MessageNew FETCH.
    const msg = 'Subject: own\r\n\r\nown\r\n';
    quiet(await ok(a, 'a1', `APPEND Sent {${msg.length}+}\r\n${msg}`), 'APPEND elsewhere');
    const intoSelected = await ok(a, 'a2', `APPEND INBOX {${msg.length}+}\r\n${msg}`);
    assert.ok(intoSelected.includes('* 1 EXISTS'), intoSelected.join('\n'));
    quiet(intoSelected, 'APPEND to the selected mailbox');
    quiet(await ok(a, 'cp', 'COPY 1 Trash'), 'COPY');
    quiet(await ok(a, 'c', 'CREATE own/box'), 'CREATE');
    quiet(await ok(a, 'r', 'RENAME own/box own/renamed'), 'RENAME');
    quiet(await ok(a, 'sub', 'SUBSCRIBE own/renamed'), 'SUBSCRIBE');
    quiet(await ok(a, 'm1', 'SETMETADATA Sent (/private/comment "mine")'), 'SETMETADATA on a mailbox');
    quiet(await ok(a, 'm2', 'SETMETADATA "" (/private/comment "mine")'), 'SETMETADATA on the server');
    quiet(await ok(a, 'd', 'DELETE own/renamed'), 'DELETE');
    quiet(await ok(a, 'no', 'NOOP'), 'NOOP after');

    // The same changes from another session are reported.
    await append(b, 'b1', 'Sent');
    await waitFor(a, /^\* STATUS Sent \(MESSAGES 2 /);
    await append(b, 'b2', 'INBOX');
    await waitFor(a, /^\* 2 FETCH \(UID 2\)$/);
    await ok(b, 'bc', 'CREATE theirs');
    await waitFor(a, /^\* LIST \(\\HasNoChildren\) "\/" theirs$/);
    await ok(b, 'bm', 'SETMETADATA Sent (/private/comment "theirs")');
    await waitFor(a, /^\* METADATA Sent \/private\/comment$/);
    a.close();
    b.close();
  });

  test('errors: BAD for syntax and §5 pairing rules, NO [BADEVENT] listing supported events, NO [CLIENTBUG]', async () => {
    const login = await account();
    const a = await login();
    const bad = [
      'NOTIFY',
      'NOTIFY SET',
      'NOTIFY SET (selected (MailboxName))',
      'NOTIFY SET (personal (MessageNew))',
      'NOTIFY SET (personal (FlagChange))',
      'NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))',
      'NOTIFY SET (personal (MessageNew (uid) MessageExpunge))',
      'NOTIFY SET (everything (MessageNew MessageExpunge))',
      'NOTIFY SET STATUS',
      'NOTIFY MAYBE',
    ];
    for (const [i, cmd] of bad.entries()) assert.match((await a.command(`b${i}`, cmd)).tagged, new RegExp(`^b${i} BAD`), cmd);
    const badEvent = await a.command('e1', 'NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))');
    assert.match(
      badEvent.tagged,
      /^e1 NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange\)\]/,
    );
    assert.match((await a.command('e2', 'NOTIFY SET (personal (Gossip))')).tagged, /^e2 NO \[BADEVENT /);
    assert.match((await a.command('e3', 'NOTIFY SET (selected (MessageNew (uid body[]) MessageExpunge))')).tagged, /^e3 NO \[CLIENTBUG\]/);
    // NONE events and names that do not exist are accepted (§3.1: ignored).
    await ok(a, 'k1', 'NOTIFY SET (mailboxes nosuch (MessageNew MessageExpunge)) (personal NONE)');
    await ok(a, 'k2', 'nOtIfY sEt (InBoXeS (messagenew messageexpunge))');
    a.close();
  });

  test('NOTIFICATIONOVERFLOW when more changes pile up than allowed, then NOTIFY NONE behaviour', async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    const names = Array.from({ length: MAX_PENDING + 1 }, (_, i) => `ov${i}`);
    for (const n of names) await ok(b, `c${n}`, `CREATE ${n}`);
    await ok(a, 'n', 'NOTIFY SET (personal (MessageNew MessageExpunge))');
    // A command in progress (APPEND waiting for its literal): notifications wait for its end.
    a.send('w APPEND INBOX {7}\r\n');
    assert.match(await a.readLine(), /^\+ /);
    for (const n of names) await append(b, `a${n}`, n);
    a.send('x: y\r\n\r\n');
    const r = await a.readTagged('w');
    assert.match(r.tagged, /^w OK/);
    assert.ok(
      r.lines.some((l) => /^\* OK \[NOTIFICATIONOVERFLOW\]/.test(l)),
      r.lines.join('\n'),
    );
    assert.ok(!r.lines.some((l) => l.startsWith('* STATUS')), r.lines.join('\n'));
    await append(b, 'again', 'ov0');
    await silent(a);
    a.close();
    b.close();
  });

  test('the watched set is bounded: too many mailboxes at SET is NO [NOTIFICATIONOVERFLOW], growing past it later overflows', async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    const existing = (await ok(a, 'l', 'LIST "" *')).length;
    for (let i = existing; i < MAX_MAILBOXES; i++) await ok(b, `c${i}`, `CREATE m${i}`);
    // Exactly at the limit: accepted, and FlagChange's initial STATUS carries HIGHESTMODSEQ (§3.1).
    const set = await ok(a, 'n1', 'NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange MailboxName))');
    assert.equal(set.filter((l) => /^\* STATUS \S+ \(MESSAGES \d+ UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN \d+ HIGHESTMODSEQ \d+\)$/.test(l)).length, MAX_MAILBOXES);
    await ok(b, 'over', 'CREATE one-too-many');
    await waitFor(a, /^\* OK \[NOTIFICATIONOVERFLOW\]/);
    await append(b, 'ap', 'INBOX');
    await silent(a);
    assert.match((await a.command('n2', 'NOTIFY SET (personal (MessageNew MessageExpunge))')).tagged, /^n2 NO \[NOTIFICATIONOVERFLOW\]/);
    // Watching fewer is fine.
    await ok(a, 'n3', 'NOTIFY SET (mailboxes INBOX (MessageNew MessageExpunge))');
    a.close();
    b.close();
  });

  test('SELECTED sends expunges at once; SELECTED-DELAYED holds them until a command allows them', async () => {
    const login = await account();
    const [a, b] = [await login(), await login()];
    await ok(b, 'c', 'CREATE box');
    for (let i = 1; i <= 3; i++) await append(b, `a${i}`, 'box', `m${i}`);
    await ok(b, 's', 'SELECT box');
    await ok(a, 's', 'SELECT box');

    await ok(a, 'n1', 'NOTIFY SET (selected (MessageNew MessageExpunge))');
    await ok(b, 'd1', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await ok(b, 'e1', 'EXPUNGE');
    await waitFor(a, /^\* 1 EXPUNGE$/);

    await ok(a, 'n2', 'NOTIFY SET (selected-delayed (MessageNew MessageExpunge))');
    await ok(b, 'd2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await ok(b, 'e2', 'EXPUNGE');
    // The flag change may come at once; the expunge may not.
    const held = await drain(a, 300);
    assert.ok(!held.some((l) => /EXPUNGE/.test(l)), held.join('\n'));
    await append(b, 'a4', 'box', 'm4');
    // New messages may come at once (§6.1.2); the expunge still waits, so two messages are still counted.
    await waitFor(a, /^\* 3 EXISTS$/);
    const f = await a.command('f', 'FETCH 1:3 (UID)');
    assert.ok(!f.lines.some((l) => /EXPUNGE/.test(l)), f.lines.join('\n'));
    const noop = await a.command('no', 'NOOP');
    assert.ok(noop.lines.includes('* 1 EXPUNGE'), noop.lines.join('\n'));
    a.close();
    b.close();
  });
});

describe('NOTIFY across processes', () => {
  let child: ChildServer;
  let childDir: string | null = null;

  before(async () => {
    // PostgreSQL: a second node on the same database; SQLite: a second process on the same data directory.
    const url = srv.config.store.url;
    if (url) {
      childDir = await mkdtemp(join(tmpdir(), 'mailkeep-notify-'));
      child = await spawnServer(childDir, ['--store', url]);
    } else {
      child = await spawnServer(srv.dataDir);
    }
  });
  after(async () => {
    child.child.kill('SIGTERM');
    await child.exited;
    if (childDir) await rm(childDir, { recursive: true, force: true });
  });

  test('an APPEND, CREATE and SUBSCRIBE made through another process reach a NOTIFY session', async (t) => {
    const login = await account();
    const a = await login();
    const b = await login(child.imapsPort);
    await ok(b, 'c', 'CREATE remote');
    await ok(a, 'n', 'NOTIFY SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))');
    await ok(a, 's', 'SELECT INBOX');
    a.send('i IDLE\r\n');
    assert.equal(await a.readLine(), '+ idling');
    let started = Date.now();
    await append(b, 'a1', 'remote');
    await waitFor(a, /^\* STATUS remote \(MESSAGES 1 UIDNEXT 2 /);
    const statusMs = Date.now() - started;
    a.send('DONE\r\n');
    await a.readTagged('i');
    // Not idling, account-level changes.
    started = Date.now();
    await ok(b, 'c2', 'CREATE elsewhere');
    await waitFor(a, /^\* LIST \(\\HasNoChildren\) "\/" elsewhere$/);
    t.diagnostic(`cross-process latency (command sent → notification read): STATUS ${statusMs} ms, LIST ${Date.now() - started} ms`);
    await ok(b, 'sub', 'SUBSCRIBE elsewhere');
    await waitFor(a, /^\* LIST \(\\HasNoChildren \\Subscribed\) "\/" elsewhere$/);
    a.close();
    b.close();
  });
});

/** Lines that arrive within a short while. */
async function drain(c: RawClient, ms = 200): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const line = await c.readLine(ms).catch(() => null);
    if (line === null) return out;
    out.push(line);
  }
}
