/**
 * Raw transcripts over real sockets: greeting, capabilities, STARTTLS,
 * authentication, state transitions and the authenticated-state commands.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'wonderland');
  await srv.addUser('bob', 'builder');
});
after(async () => srv.stop());

/** Connects over implicit TLS and logs in. */
async function loggedIn(user = 'alice', pass = 'wonderland'): Promise<RawClient> {
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  const r = await client.command('L', `LOGIN ${user} ${pass}`);
  assert.match(r.tagged, /^L OK/);
  return client;
}

describe('greeting and capabilities', () => {
  test('plain port advertises STARTTLS and LOGINDISABLED and refuses LOGIN', async () => {
    const { client, greeting } = await RawClient.connect(srv.imapPort);
    assert.match(greeting, /^\* OK \[CAPABILITY [^\]]*IMAP4rev1[^\]]*\]/);
    assert.match(greeting, /STARTTLS/);
    assert.match(greeting, /LOGINDISABLED/);
    assert.doesNotMatch(greeting, /AUTH=PLAIN/);
    const login = await client.command('a1', 'LOGIN alice wonderland');
    assert.match(login.tagged, /^a1 NO \[PRIVACYREQUIRED\]/);
    const auth = await client.command('a2', 'AUTHENTICATE PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=');
    assert.match(auth.tagged, /^a2 NO \[PRIVACYREQUIRED\]/);
    client.close();
  });

  test('STARTTLS discards pipelined commands, then LOGIN works', async () => {
    const { client } = await RawClient.connect(srv.imapPort);
    // Command injection (RFC 9051 §6.2.1): the NOOP after STARTTLS in the same packet must be dropped.
    client.send('s1 STARTTLS\r\nX1 NOOP\r\n');
    const r = await client.readTagged('s1');
    assert.match(r.tagged, /^s1 OK/);
    await client.startTls();
    const caps = await client.command('c1', 'CAPABILITY');
    assert.equal(caps.lines.length, 1);
    assert.match(caps.lines[0]!, /^\* CAPABILITY .*AUTH=PLAIN/);
    assert.doesNotMatch(caps.lines[0]!, /STARTTLS|LOGINDISABLED/);
    assert.doesNotMatch(caps.raw.toString(), /X1/);
    const login = await client.command('l1', 'LOGIN alice wonderland');
    assert.match(login.tagged, /^l1 OK \[CAPABILITY [^\]]*UIDPLUS/);
    const again = await client.command('s2', 'STARTTLS');
    assert.match(again.tagged, /^s2 BAD/);
    client.close();
  });

  test('trusted networks may log in without TLS', async () => {
    const trusted = await startTestServer({ plaintextAuth: { trustedNetworks: ['127.0.0.0/8'] } });
    try {
      await trusted.addUser('carol', 'pw');
      const { client, greeting } = await RawClient.connect(trusted.imapPort);
      assert.doesNotMatch(greeting, /LOGINDISABLED/);
      assert.match((await client.command('a', 'LOGIN carol pw')).tagged, /^a OK/);
      client.close();
    } finally {
      await trusted.stop();
    }
  });
});

describe('authentication', () => {
  test('LOGIN with quoted and literal arguments; wrong password fails', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    assert.match((await client.command('a', 'LOGIN alice wrong')).tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
    assert.match((await client.command('b', 'LOGIN nobody wonderland')).tagged, /^b NO \[AUTHENTICATIONFAILED\]/);
    client.send('c LOGIN {5}\r\n');
    assert.match(await client.readLine(), /^\+ /);
    client.send('alice "wonder land"\r\n');
    assert.match((await client.readTagged('c')).tagged, /^c NO/);
    assert.match((await client.command('d', 'LOGIN {5+}\r\nalice "wonderland"')).tagged, /^d OK/);
    assert.match((await client.command('e', 'LOGIN alice wonderland')).tagged, /^e BAD/);
    client.close();
  });

  test('AUTHENTICATE PLAIN with SASL-IR, with a continuation, and cancelled', async () => {
    const plain = Buffer.from('\0bob\0builder').toString('base64');
    const a = await RawClient.connect(srv.imapsPort, { tls: true });
    assert.match((await a.client.command('a', `AUTHENTICATE PLAIN ${plain}`)).tagged, /^a OK/);
    a.client.close();

    const b = await RawClient.connect(srv.imapsPort, { tls: true });
    b.client.send('b AUTHENTICATE PLAIN\r\n');
    assert.equal(await b.client.readLine(), '+ ');
    b.client.send(`${plain}\r\n`);
    assert.match((await b.client.readTagged('b')).tagged, /^b OK/);
    b.client.close();

    const c = await RawClient.connect(srv.imapsPort, { tls: true });
    c.client.send('c AUTHENTICATE PLAIN\r\n');
    await c.client.readLine();
    c.client.send('*\r\n');
    assert.match((await c.client.readTagged('c')).tagged, /^c BAD/);
    assert.match((await c.client.command('d', 'AUTHENTICATE CRAM-MD5')).tagged, /^d NO/);
    const wrongAuthz = Buffer.from('alice\0bob\0builder').toString('base64');
    assert.match((await c.client.command('e', `AUTHENTICATE PLAIN ${wrongAuthz}`)).tagged, /^e NO/);
    c.client.close();
  });
});

describe('logging', () => {
  test('the protocol trace shows commands but never passwords or message bodies', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const traced = await startTestServer({ log: { level: 'info', trace: true } }, sink);
    try {
      await traced.addUser('tracy', 'sup3r-secret');
      const { client } = await RawClient.connect(traced.imapsPort, { tls: true });
      await client.command('a', 'LOGIN tracy sup3r-secret');
      await client.command('b', 'APPEND INBOX {21+}\r\nSubject: private-body');
      await client.command('c', 'LOGIN tracy wrong-one');
      client.close();
    } finally {
      await traced.stop();
    }
    const log = lines.join('');
    assert.match(log, /a LOGIN tracy/);
    assert.match(log, /"msg":"connect"/);
    assert.match(log, /"msg":"command failed"/);
    assert.doesNotMatch(log, /sup3r-secret|private-body/);
  });
});

describe('states', () => {
  test('commands outside their state get BAD and the connection goes on', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    for (const cmd of ['SELECT INBOX', 'LIST "" *', 'FETCH 1 FLAGS', 'CLOSE', 'ENABLE IMAP4rev2', 'IDLE']) {
      assert.match((await client.command('x', cmd)).tagged, /^x BAD/, cmd);
    }
    assert.match((await client.command('n', 'NOOP')).tagged, /^n OK/);
    await client.command('l', 'LOGIN alice wonderland');
    assert.match((await client.command('y', 'FETCH 1 FLAGS')).tagged, /^y BAD/);
    assert.match((await client.command('z', 'CLOSE')).tagged, /^z BAD/);
    const out = await client.command('o', 'LOGOUT');
    assert.match(out.lines[0]!, /^\* BYE/);
    assert.match(out.tagged, /^o OK/);
    await assert.rejects(client.readLine(2000), /connection closed/);
    assert.ok(client.isClosed);
  });
});

describe('mailboxes', () => {
  test('new accounts have INBOX and the special-use mailboxes', async () => {
    const c = await loggedIn();
    const r = await c.command('a', 'LIST "" *');
    const names = r.lines.map((l) => l.replace(/^\* LIST \([^)]*\) "\/" /, ''));
    assert.deepEqual(names.slice(0, 1), ['INBOX']);
    for (const n of ['Drafts', 'Sent', 'Trash', 'Junk', 'Archive']) assert.ok(names.includes(n), n);
    assert.ok(r.lines.some((l) => /\\Sent/.test(l) && l.endsWith(' Sent')));
    const root = await c.command('b', 'LIST "" ""');
    assert.deepEqual(root.lines, ['* LIST (\\Noselect) "/" ""']);
    c.close();
  });

  test('CREATE with hierarchy, LIST wildcards, RENAME, DELETE', async () => {
    const c = await loggedIn('bob', 'builder');
    assert.match((await c.command('a', 'CREATE projects/2026/q1')).tagged, /^a OK/);
    assert.match((await c.command('b', 'CREATE projects')).tagged, /^b NO \[ALREADYEXISTS\]/);
    assert.match((await c.command('c', 'CREATE inbox')).tagged, /^c NO \[ALREADYEXISTS\]/);
    let r = await c.command('d', 'LIST "" projects/%');
    assert.deepEqual(r.lines, ['* LIST (\\HasChildren) "/" projects/2026']);
    r = await c.command('e', 'LIST projects *');
    assert.deepEqual(r.lines, ['* LIST (\\HasChildren) "/" projects/2026', '* LIST (\\HasNoChildren) "/" projects/2026/q1']);
    assert.match((await c.command('f', 'RENAME projects/2026 archive/old')).tagged, /^f OK/);
    r = await c.command('g', 'LIST "" archive*');
    assert.deepEqual(
      r.lines.map((l) => l.split(' ').pop()),
      ['archive', 'archive/old', 'archive/old/q1'],
    );
    assert.match((await c.command('h', 'RENAME nothere x')).tagged, /^h NO \[NONEXISTENT\]/);
    assert.match((await c.command('i', 'RENAME archive Sent')).tagged, /^i NO \[ALREADYEXISTS\]/);
    // Deleting a parent keeps its children; the name stays as a non-selectable node.
    assert.match((await c.command('j', 'DELETE archive/old')).tagged, /^j OK/);
    r = await c.command('k', 'LIST "" archive/%');
    assert.deepEqual(r.lines, ['* LIST (\\Noselect \\HasChildren) "/" archive/old']);
    assert.match((await c.command('l', 'DELETE INBOX')).tagged, /^l NO/);
    assert.match((await c.command('m', 'DELETE nothere')).tagged, /^m NO \[NONEXISTENT\]/);
    assert.match((await c.command('n', 'SELECT archive/old')).tagged, /^n NO \[NONEXISTENT\]/);
    c.close();
  });

  test('modified UTF-7 names for rev1, UTF-8 after ENABLE', async () => {
    const c = await loggedIn('bob', 'builder');
    assert.match((await c.command('a', 'CREATE "&ZeVnLIqe-"')).tagged, /^a OK/);
    let r = await c.command('b', 'LIST "" "&ZeVnLIqe-"');
    assert.deepEqual(r.lines, ['* LIST (\\HasNoChildren) "/" &ZeVnLIqe-']);
    // RFC 3501 §5.1.3: the name breaks the server's naming rule (RFC 5530 CANNOT); its syntax is fine.
    assert.match((await c.command('c', 'CREATE "&Jjo"')).tagged, /^c NO \[CANNOT\]/);
    r = await c.command('d', 'ENABLE UTF8=ACCEPT');
    assert.deepEqual(r.lines, ['* ENABLED UTF8=ACCEPT']);
    r = await c.command('e', Buffer.from('LIST "" "日本語"'));
    assert.equal(Buffer.from(r.lines[0]!, 'latin1').toString('utf8'), '* LIST (\\HasNoChildren) "/" "日本語"');
    c.close();
  });

  test('SUBSCRIBE, UNSUBSCRIBE and LSUB', async () => {
    const c = await loggedIn('bob', 'builder');
    await c.command('a', 'CREATE lists/rust');
    assert.match((await c.command('b', 'SUBSCRIBE lists/rust')).tagged, /^b OK/);
    let r = await c.command('c', 'LSUB "" lists/*');
    assert.deepEqual(r.lines, ['* LSUB () "/" lists/rust']);
    r = await c.command('d', 'LSUB "" %');
    assert.ok(r.lines.includes('* LSUB (\\Noselect) "/" lists'));
    await c.command('e', 'UNSUBSCRIBE lists/rust');
    r = await c.command('f', 'LSUB "" lists/*');
    assert.deepEqual(r.lines, []);
    c.close();
  });

  test('STATUS, SELECT, EXAMINE, APPEND, CLOSE, UNSELECT', async () => {
    const c = await loggedIn();
    await c.command('a0', 'CREATE status-test');
    const msg = 'From: a@example.com\r\nSubject: hi\r\n\r\nHello\r\n';
    let r = await c.command('a1', `APPEND status-test (\\Seen) " 5-Jan-2026 10:00:00 +0100" {${msg.length}+}\r\n${msg}`);
    assert.match(r.tagged, /^a1 OK \[APPENDUID \d+ 1\]/);
    r = await c.command('a2', `APPEND status-test {${msg.length}+}\r\n${msg}`);
    assert.match(r.tagged, /^a2 OK \[APPENDUID \d+ 2\]/);
    r = await c.command('a3', `APPEND nothere {${msg.length}+}\r\n${msg}`);
    assert.match(r.tagged, /^a3 NO \[TRYCREATE\]/);
    r = await c.command('s', 'STATUS status-test (MESSAGES UIDNEXT UNSEEN DELETED SIZE RECENT)');
    assert.deepEqual(r.lines, [`* STATUS status-test (MESSAGES 2 UIDNEXT 3 UNSEEN 1 DELETED 0 SIZE ${2 * msg.length} RECENT 2)`]);

    r = await c.command('e', 'EXAMINE status-test');
    assert.match(r.tagged, /^e OK \[READ-ONLY\]/);
    assert.ok(r.lines.includes('* 2 EXISTS'));
    r = await c.command('sel', 'SELECT status-test');
    assert.match(r.tagged, /^sel OK \[READ-WRITE\]/);
    assert.ok(r.lines.includes('* 2 EXISTS'));
    assert.ok(r.lines.includes('* 2 RECENT'));
    assert.ok(r.lines.includes('* OK [UNSEEN 2] First unseen'));
    assert.ok(r.lines.includes('* OK [UIDNEXT 3] Predicted next UID'));
    assert.ok(r.lines.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l)));
    assert.ok(r.lines.some((l) => /^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]/.test(l)));

    // A second session does not see them as recent: exactly one session does (RFC 3501 §2.3.2).
    const other = await loggedIn();
    r = await other.command('o', 'SELECT status-test');
    assert.ok(r.lines.includes('* 0 RECENT'));
    other.close();

    // APPEND to the selected mailbox shows up as EXISTS.
    r = await c.command('a4', `APPEND status-test {${msg.length}+}\r\n${msg}`);
    assert.ok(r.lines.includes('* 3 EXISTS'));
    assert.match((await c.command('ck', 'CHECK')).tagged, /^ck OK/);
    assert.match((await c.command('u', 'UNSELECT')).tagged, /^u OK/);
    assert.match((await c.command('u2', 'UNSELECT')).tagged, /^u2 BAD/);
    await c.command('sel2', 'SELECT status-test');
    assert.match((await c.command('cl', 'CLOSE')).tagged, /^cl OK/);
    c.close();
  });

  test('ID, NAMESPACE, ENABLE IMAP4rev2 changes SELECT responses', async () => {
    const c = await loggedIn();
    let r = await c.command('i', 'ID ("name" "test" "version" "1")');
    assert.match(r.lines[0]!, /^\* ID \("name" "mailkeep"/);
    r = await c.command('n', 'NAMESPACE');
    assert.deepEqual(r.lines, ['* NAMESPACE (("" "/")) NIL NIL']);
    r = await c.command('e', 'ENABLE IMAP4rev2 CONDSTORE-UNKNOWN');
    assert.deepEqual(r.lines, ['* ENABLED IMAP4rev2']);
    r = await c.command('s', 'SELECT INBOX');
    assert.ok(!r.lines.some((l) => / RECENT$/.test(l)));
    assert.ok(r.lines.includes('* LIST () "/" INBOX'));
    r = await c.command('s2', 'EXAMINE Sent');
    assert.equal(r.lines[0], '* OK [CLOSED] Previous mailbox closed');
    c.close();
  });
});

describe('COMPRESS=DEFLATE', () => {
  test('both directions switch to raw DEFLATE after the tagged OK', async () => {
    const c = await loggedIn();
    const r = await c.command('z', 'COMPRESS DEFLATE');
    assert.equal(r.tagged, 'z OK DEFLATE active');
    // From here on we speak DEFLATE: compress a command, inflate the answer.
    const deflate = createDeflateRaw();
    const inflate = createInflateRaw();
    const received: Buffer[] = [];
    inflate.on('data', (d: Buffer) => received.push(d));
    c.rawSocket().removeAllListeners('data');
    c.rawSocket().on('data', (d: Buffer) => inflate.write(d));
    deflate.on('data', (d: Buffer) => c.send(d));
    deflate.write('n1 NOOP\r\nn2 COMPRESS DEFLATE\r\nn3 SELECT INBOX\r\n');
    deflate.flush(zlibConstants.Z_SYNC_FLUSH);
    const deadline = Date.now() + 3000;
    while (!Buffer.concat(received).toString().includes('n3 OK') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    const text = Buffer.concat(received).toString();
    assert.match(text, /n1 OK/);
    assert.match(text, /n2 NO \[COMPRESSIONACTIVE\]/);
    assert.match(text, /n3 OK \[READ-WRITE\]/);
    c.close();
  });
});
