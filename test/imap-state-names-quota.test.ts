/**
 * Issue 16 over real sockets: commands refused for their state name the
 * states they need (RFC 9051 §3); names that are not valid modified UTF-7
 * (RFC 3501 §5.1.3) name no mailbox rather than being BAD; EXAMINE reports
 * the recent messages without claiming them (RFC 3501 §2.3.2, §6.3.2); and
 * GETQUOTAROOT on a name no mailbox can have (RFC 9208 §4.1.2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let users = 0;

before(async () => {
  srv = await startTestServer();
});
after(async () => srv.stop());

/** A fresh user's session over implicit TLS, logged in. */
async function login(): Promise<RawClient> {
  const user = `issue16u${++users}`;
  await srv.addUser(user, 'pw');
  return loginAs(user);
}

async function loginAs(user: string): Promise<RawClient> {
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  assert.match((await client.command('l', `LOGIN ${user} pw`)).tagged, /^l OK/);
  return client;
}

/** APPEND with LITERAL+; returns the tagged line. */
async function append(c: RawClient, mailbox: string, subject: string): Promise<string> {
  const msg = `Subject: ${subject}\r\n\r\nbody\r\n`;
  return (await c.command('a', `APPEND ${mailbox} {${msg.length}+}\r\n${msg}`)).tagged;
}

/** The exact completion for a command with no untagged responses. */
async function answer(c: RawClient, command: string): Promise<string> {
  const r = await c.command('t', command);
  assert.deepEqual(r.lines, [], `${command}: ${r.lines.join('\n')}`);
  return r.tagged;
}

describe('RFC 9051 §3: a command in the wrong state is BAD and names the states', () => {
  test('not authenticated, authenticated and selected refusals say what is needed and where the session is', async () => {
    const { client: c } = await RawClient.connect(srv.imapsPort, { tls: true });
    assert.equal(await answer(c, 'SELECT INBOX'), 't BAD SELECT is allowed only in the authenticated or selected states (this session is not authenticated)');
    assert.equal(await answer(c, 'UID FETCH 1 FLAGS'), 't BAD FETCH is allowed only in the selected state (this session is not authenticated)');
    c.close();

    const a = await login();
    assert.equal(await answer(a, 'LOGIN someone pw'), 't BAD LOGIN is allowed only in the not authenticated state (this session is authenticated)');
    assert.equal(await answer(a, 'STARTTLS'), 't BAD STARTTLS is allowed only in the not authenticated state (this session is authenticated)');
    assert.equal(await answer(a, 'FETCH 1 FLAGS'), 't BAD FETCH is allowed only in the selected state (this session is authenticated)');
    assert.equal(await answer(a, 'UNSELECT'), 't BAD UNSELECT is allowed only in the selected state (this session is authenticated)');
    assert.match((await a.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    // Parsed first, then checked: a well-formed command, so the state is what is wrong.
    assert.equal(
      (await a.command('t', 'AUTHENTICATE PLAIN')).tagged,
      't BAD AUTHENTICATE is allowed only in the not authenticated state (this session is selected)',
    );
    a.close();
  });
});

describe('RFC 3501 §5.1.3: names that are not valid modified UTF-7 (IMAP4rev1)', () => {
  // "&Jjo" lacks its "-"; "&AGEAYgBj-" encodes printable "abc", which must represent itself.
  const invalid = ['"&Jjo"', '"&AGEAYgBj-"', '"a&AGE-&AGE-"'];

  test('SELECT, EXAMINE, STATUS, DELETE, RENAME from, GETQUOTAROOT and METADATA: NO [NONEXISTENT] (RFC 5530)', async () => {
    const c = await login();
    for (const name of invalid) {
      for (const cmd of [
        `SELECT ${name}`,
        `EXAMINE ${name}`,
        `STATUS ${name} (MESSAGES)`,
        `DELETE ${name}`,
        `RENAME ${name} elsewhere`,
        `GETQUOTAROOT ${name}`,
        `GETMETADATA ${name} (/private/comment)`,
        `SETMETADATA ${name} (/private/comment "x")`,
      ]) {
        assert.match(await answer(c, cmd), /^t NO \[NONEXISTENT\] /, cmd);
      }
    }
    c.close();
  });

  test('APPEND, COPY and MOVE: NO [NONEXISTENT], not [TRYCREATE], since CREATE would refuse the name', async () => {
    const c = await login();
    assert.match(await append(c, '"&Jjo"', 'x'), /^a NO \[NONEXISTENT\] /);
    // A valid name that does not exist still invites CREATE (RFC 9051 §6.3.12).
    assert.match(await append(c, 'nothere', 'x'), /^a NO \[TRYCREATE\] /);
    assert.match(await append(c, 'INBOX', 'x'), /^a OK/);
    assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    assert.match(await answer(c, 'COPY 1 "&AGEAYgBj-"'), /^t NO \[NONEXISTENT\] /);
    assert.match(await answer(c, 'UID MOVE 1:* "&Jjo"'), /^t NO \[NONEXISTENT\] /);
    assert.match(await answer(c, 'COPY 1 nothere'), /^t NO \[TRYCREATE\] /);
    c.close();
  });

  test('CREATE, RENAME to and SUBSCRIBE: NO [CANNOT]; UNSUBSCRIBE: OK, as for any name not subscribed', async () => {
    const c = await login();
    for (const name of invalid) {
      assert.equal(await answer(c, `CREATE ${name}`), 't NO [CANNOT] Mailbox name is not valid modified UTF-7');
      assert.equal(await answer(c, `RENAME Sent ${name}`), 't NO [CANNOT] Mailbox name is not valid modified UTF-7');
      assert.equal(await answer(c, `SUBSCRIBE ${name}`), 't NO [CANNOT] Mailbox name is not valid modified UTF-7');
      assert.match(await answer(c, `UNSUBSCRIBE ${name}`), /^t OK/);
    }
    c.close();
  });

  test('LIST and LSUB with such a pattern or reference: OK, no matches', async () => {
    const c = await login();
    assert.match((await c.command('c', 'CREATE "&ZeVnLIqe-"')).tagged, /^c OK/);
    assert.match((await c.command('s', 'SUBSCRIBE "&ZeVnLIqe-"')).tagged, /^s OK/);
    for (const cmd of ['LIST "" "&Jjo"', 'LIST "" "*&Jjo*"', 'LIST "&Jjo" "*"', 'LIST "" ("&AGEAYgBj-" "%&Jjo")', 'LSUB "" "&Jjo*"', 'LSUB "&Jjo" "%"']) {
      assert.match(await answer(c, cmd), /^t OK/, cmd);
    }
    // Valid modified UTF-7 (日本語) still names its mailbox.
    assert.deepEqual((await c.command('l', 'LIST "" "&ZeVnLIqe-*"')).lines, ['* LIST (\\HasNoChildren) "/" &ZeVnLIqe-']);
    assert.deepEqual((await c.command('l', 'LSUB "" "&ZeVnLIqe-"')).lines, ['* LSUB () "/" &ZeVnLIqe-']);
    assert.match((await c.command('s', 'SELECT "&ZeVnLIqe-"')).tagged, /^s OK/);
    c.close();
  });

  test('with UTF8=ACCEPT (RFC 6855 §3) names are UTF-8, so "&Jjo" is a plain name that can exist', async () => {
    const user = `issue16u${++users}`;
    await srv.addUser(user, 'pw');
    const u = await loginAs(user);
    assert.deepEqual((await u.command('e', 'ENABLE UTF8=ACCEPT')).lines, ['* ENABLED UTF8=ACCEPT']);
    assert.match(await answer(u, 'SELECT "&Jjo"'), /^t NO \[NONEXISTENT\] /);
    assert.match((await u.command('c', 'CREATE "&Jjo"')).tagged, /^c OK/);
    assert.match((await u.command('s', 'SELECT "&Jjo"')).tagged, /^s OK \[READ-WRITE\]/);
    assert.deepEqual((await u.command('l', 'LIST "" "&*"')).lines, ['* LIST (\\HasNoChildren) "/" &Jjo']);
    u.close();
    // An IMAP4rev1 session sees and selects it as "&-Jjo" ("&" is "&-"); "&Jjo" still names nothing.
    const r1 = await loginAs(user);
    assert.deepEqual((await r1.command('l', 'LIST "" "&-*"')).lines, ['* LIST (\\HasNoChildren) "/" &-Jjo']);
    assert.match((await r1.command('e', 'EXAMINE "&-Jjo"')).tagged, /^e OK \[READ-ONLY\]/);
    assert.match(await answer(r1, 'EXAMINE "&Jjo"'), /^t NO \[NONEXISTENT\] /);
    r1.close();
  });
});

describe('RFC 3501 §2.3.2, §6.3.2: EXAMINE sees \\Recent and leaves it for SELECT', () => {
  test('EXAMINE twice shows the same RECENT and \\Recent flags; the next SELECT claims them', async () => {
    const user = `issue16u${++users}`;
    await srv.addUser(user, 'pw');
    const writer = await loginAs(user);
    assert.match((await writer.command('c', 'CREATE fresh')).tagged, /^c OK/);
    assert.match(await append(writer, 'fresh', 'one'), /^a OK/);
    assert.match(await append(writer, 'fresh', 'two'), /^a OK/);

    const reader = await loginAs(user);
    for (const tag of ['e1', 'e2']) {
      const r = await reader.command(tag, 'EXAMINE fresh');
      assert.match(r.tagged, new RegExp(`^${tag} OK \\[READ-ONLY\\]`));
      assert.ok(r.lines.includes('* 2 EXISTS'), r.lines.join('\n'));
      assert.ok(r.lines.includes('* 2 RECENT'), r.lines.join('\n'));
      // This read-only session is one that is told of them first: they are \Recent here too.
      assert.deepEqual((await reader.command('f', 'FETCH 1:* FLAGS')).lines, ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Recent))']);
      assert.deepEqual((await reader.command('s', 'SEARCH RECENT')).lines, ['* SEARCH 1 2']);
    }
    assert.deepEqual((await writer.command('st', 'STATUS fresh (RECENT)')).lines, ['* STATUS fresh (RECENT 2)']);

    // The first read-write session claims them ...
    const sel = await writer.command('s', 'SELECT fresh');
    assert.ok(sel.lines.includes('* 2 RECENT'), sel.lines.join('\n'));
    assert.deepEqual((await writer.command('f', 'FETCH 1:* FLAGS')).lines, ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Recent))']);
    // ... so later sessions, read-only or not, no longer see them as recent.
    const again = await reader.command('e3', 'EXAMINE fresh');
    assert.ok(again.lines.includes('* 0 RECENT'), again.lines.join('\n'));
    assert.deepEqual((await reader.command('f', 'FETCH 1:* FLAGS')).lines, ['* 1 FETCH (FLAGS ())', '* 2 FETCH (FLAGS ())']);
    const other = await loginAs(user);
    assert.ok((await other.command('s', 'SELECT fresh')).lines.includes('* 0 RECENT'));
    other.close();
    reader.close();
    writer.close();
  });
});
