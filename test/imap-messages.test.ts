/**
 * FETCH, STORE, COPY/MOVE and EXPUNGE over real sockets, and byte-exactness of
 * stored messages across a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { openStore } from '../src/store/open.js';
import { RawClient } from './helpers/raw-client.js';
import { spawnServer, startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;

/** A multipart/mixed message with a text part, a base64 attachment and a nested message/rfc822. */
const ATTACHMENT = Buffer.from('binary\x00data\xff\xfe with a NUL', 'latin1');
const MIXED = Buffer.from(
  [
    'From: "Ann Example" <ann@example.com>',
    'To: bob@example.com',
    'Subject: =?UTF-8?B?SMOpbGxv?= report',
    'Date: Tue, 3 Mar 2026 10:00:00 +0100',
    'Message-ID: <mixed-1@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XYZ"',
    '',
    'preamble',
    '--XYZ',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello Bob,',
    'the report.',
    '--XYZ',
    'Content-Type: application/octet-stream; name="r.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="r.bin"',
    '',
    ATTACHMENT.toString('base64'),
    '--XYZ',
    'Content-Type: message/rfc822',
    '',
    'From: inner@example.com',
    'Subject: inner',
    '',
    'inner body',
    '--XYZ--',
    '',
  ].join('\r\n'),
  'latin1',
);

before(async () => {
  srv = await startTestServer();
  await srv.addUser('fetch', 'pw');
});
after(async () => srv.stop());

const session = (): Promise<RawClient> => RawClient.login(srv.imapsPort, 'fetch', 'pw');

/** The bytes of the first literal in a response line. */
function literalOf(line: string): Buffer {
  const m = /\{(\d+)\}\r\n/.exec(line);
  assert.ok(m, line);
  const start = m.index + m[0].length;
  return Buffer.from(line.slice(start, start + Number(m[1])), 'latin1');
}

let boxes = 0;
async function mailboxWith(c: RawClient, ...messages: Buffer[]): Promise<string> {
  const name = `m${++boxes}`;
  await c.command('c', `CREATE ${name}`);
  for (const m of messages) {
    const r = await c.command('a', Buffer.concat([Buffer.from(`APPEND ${name} {${m.length}+}\r\n`), m]));
    assert.match(r.tagged, /OK \[APPENDUID/);
  }
  assert.match((await c.command('s', `SELECT ${name}`)).tagged, /OK/);
  return name;
}

describe('FETCH', () => {
  test('body sections, partials, header fields and BINARY', async () => {
    const c = await session();
    await mailboxWith(c, MIXED);
    const one = async (item: string): Promise<string> => {
      const r = await c.command('f', `FETCH 1 (${item})`);
      assert.match(r.tagged, /^f OK/, `${item}: ${r.tagged}`);
      return r.lines.find((l) => / FETCH /.test(l))!;
    };
    assert.deepEqual(literalOf(await one('BODY.PEEK[]')), MIXED);
    assert.deepEqual(literalOf(await one('BODY.PEEK[1]')), Buffer.from('Hello Bob,\r\nthe report.'));
    assert.deepEqual(
      literalOf(await one('BODY.PEEK[2.MIME]')).toString(),
      'Content-Type: application/octet-stream; name="r.bin"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="r.bin"\r\n\r\n',
    );
    assert.deepEqual(literalOf(await one('BODY.PEEK[3.HEADER]')).toString(), 'From: inner@example.com\r\nSubject: inner\r\n\r\n');
    assert.deepEqual(literalOf(await one('BODY.PEEK[3.TEXT]')).toString(), 'inner body');
    assert.deepEqual(literalOf(await one('BODY.PEEK[3.1]')).toString(), 'inner body');
    const header = MIXED.subarray(0, MIXED.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(literalOf(await one('BODY.PEEK[HEADER]')), header);
    assert.deepEqual(literalOf(await one('RFC822.HEADER')), header);
    assert.deepEqual(literalOf(await one('BODY.PEEK[TEXT]')), MIXED.subarray(header.length));
    const fields = await one('BODY.PEEK[HEADER.FIELDS (subject FROM)]');
    assert.match(fields, /BODY\[HEADER\.FIELDS \(SUBJECT FROM\)\] \{/);
    assert.equal(literalOf(fields).toString(), 'From: "Ann Example" <ann@example.com>\r\nSubject: =?UTF-8?B?SMOpbGxv?= report\r\n\r\n');
    const notFields = literalOf(await one('BODY.PEEK[HEADER.FIELDS.NOT (Content-Type Message-ID MIME-Version Date)]')).toString();
    assert.equal(notFields, 'From: "Ann Example" <ann@example.com>\r\nTo: bob@example.com\r\nSubject: =?UTF-8?B?SMOpbGxv?= report\r\n\r\n');
    const partial = await one('BODY.PEEK[]<6.10>');
    assert.match(partial, /BODY\[\]<6> \{10\}/);
    assert.deepEqual(literalOf(partial), MIXED.subarray(6, 16));
    assert.match(await one('BODY.PEEK[9]'), /BODY\[9\] NIL/);
    const bin = await one('BINARY.PEEK[2]');
    assert.match(bin, /BINARY\[2\] ~\{/);
    assert.deepEqual(literalOf(bin.replace('~{', '{')), ATTACHMENT);
    assert.match(await one('BINARY.SIZE[2]'), new RegExp(`BINARY.SIZE\\[2\\] ${ATTACHMENT.length}`));
    assert.match(await one('RFC822.SIZE'), new RegExp(`RFC822.SIZE ${MIXED.length}`));
    const env = await one('ENVELOPE');
    assert.match(env, /ENVELOPE \("Tue, 3 Mar 2026 10:00:00 \+0100" "=\?UTF-8\?B\?SMOpbGxv\?= report" \(\("Ann Example" NIL "ann" "example.com"\)\)/);
    assert.match(await one('BODYSTRUCTURE'), /BODYSTRUCTURE \(\("text" "plain" \("charset" "utf-8"\)/i);
    const all = await c.command('all', 'FETCH 1 ALL');
    assert.match(all.lines[0]!, /FLAGS \(.*\) INTERNALDATE ".*" RFC822.SIZE \d+ ENVELOPE \(/);
    c.close();
  });

  test('BODY[] sets \\Seen and reports it; PEEK and EXAMINE do not', async () => {
    const c = await session();
    const name = await mailboxWith(c, Buffer.from('Subject: a\r\n\r\nx\r\n'), Buffer.from('Subject: b\r\n\r\ny\r\n'));
    let r = await c.command('f1', 'FETCH 1 BODY.PEEK[]');
    assert.doesNotMatch(r.lines.join(''), /\\Seen/);
    r = await c.command('f2', 'FETCH 1 BODY[]');
    assert.match(r.lines[0]!, /^\* 1 FETCH \(BODY\[\] \{17\}\r\nSubject: a\r\n\r\nx\r\n FLAGS \(\\Seen( \\Recent)?\)\)$/);
    assert.equal(r.lines.length, 1, 'no second FETCH for the same change');
    r = await c.command('f3', 'UID FETCH 1:* (FLAGS)');
    assert.match(r.lines[0]!, /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen/);
    await c.command('e', `EXAMINE ${name}`);
    r = await c.command('f4', 'FETCH 2 RFC822');
    assert.doesNotMatch(r.lines.join(''), /\\Seen/);
    c.close();
  });

  test('a large message streams back byte for byte', async () => {
    const c = await session();
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(3 * 1024 * 1024, 'abcdefghij\r\n')]);
    await mailboxWith(c, big);
    const r = await c.command('f', 'FETCH 1 BODY.PEEK[]', 20000);
    assert.deepEqual(literalOf(r.lines[0]!), big);
    c.close();
  });
});

describe('STORE, COPY, MOVE, EXPUNGE', () => {
  test('STORE forms and UNCHANGEDSINCE', async () => {
    const c = await session();
    await mailboxWith(c, Buffer.from('Subject: 1\r\n\r\n.\r\n'), Buffer.from('Subject: 2\r\n\r\n.\r\n'));
    let r = await c.command('s1', 'STORE 1:2 FLAGS (\\Flagged $Work)');
    // RFC 9051 §7.3.5: a keyword new to the mailbox is announced in FLAGS before a FETCH shows it.
    assert.deepEqual(
      r.lines.map((l) => l.replace(/ \\Recent/, '')),
      [
        '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)',
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted',
        '* 1 FETCH (UID 1 FLAGS (\\Flagged $Work))',
        '* 2 FETCH (UID 2 FLAGS (\\Flagged $Work))',
      ],
    );
    r = await c.command('s1b', 'STORE 2 +FLAGS ($Work)');
    assert.deepEqual(
      r.lines.map((l) => l.replace(/ \\Recent/, '')),
      ['* 2 FETCH (UID 2 FLAGS (\\Flagged $Work))'],
      'announced once',
    );
    r = await c.command('s2', 'STORE 1 -FLAGS.SILENT ($Work)');
    assert.deepEqual(r.lines, []);
    r = await c.command('s3', 'UID STORE 2 +FLAGS \\Seen \\Answered');
    assert.match(r.lines[0]!, /^\* 2 FETCH \(UID 2 FLAGS \(.*\\Seen.*\)\)/);
    r = await c.command('s4', 'STORE 1:2 (UNCHANGEDSINCE 1) +FLAGS (\\Draft)');
    assert.match(r.tagged, /^s4 OK \[MODIFIED 1:2\]/);
    r = await c.command('f', 'FETCH 1 FLAGS');
    assert.match(r.lines[0]!, /FLAGS \(\\Flagged( \\Recent)?\)/);
    c.close();
  });

  test('COPY and MOVE answer COPYUID; MOVE expunges the source', async () => {
    const c = await session();
    const msgs = [1, 2, 3].map((i) => Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`));
    await mailboxWith(c, ...msgs);
    await c.command('c', 'CREATE target');
    const status = await c.command('st', 'STATUS target (UIDVALIDITY)');
    const validity = /UIDVALIDITY (\d+)/.exec(status.lines[0]!)![1];
    let r = await c.command('cp', 'COPY 1:2 target');
    assert.equal(r.tagged, `cp OK [COPYUID ${validity} 1:2 1:2] COPY completed`);
    r = await c.command('mv', 'UID MOVE 2:3 target');
    assert.equal(r.lines[0], `* OK [COPYUID ${validity} 2:3 3:4] Moved`);
    assert.deepEqual(r.lines.slice(1), ['* 3 EXPUNGE', '* 2 EXPUNGE']);
    r = await c.command('cp2', 'COPY 1 nothere');
    assert.match(r.tagged, /^cp2 NO \[TRYCREATE\]/);
    r = await c.command('st2', 'STATUS target (MESSAGES)');
    assert.deepEqual(r.lines, ['* STATUS target (MESSAGES 4)']);
    c.close();
  });

  test('EXPUNGE, UID EXPUNGE and CLOSE', async () => {
    const c = await session();
    const name = await mailboxWith(c, ...[1, 2, 3, 4].map((i) => Buffer.from(`Subject: ${i}\r\n\r\n.\r\n`)));
    await c.command('d', 'STORE 1:4 +FLAGS.SILENT (\\Deleted)');
    let r = await c.command('u', 'UID EXPUNGE 2');
    assert.deepEqual(r.lines, ['* 2 EXPUNGE']);
    r = await c.command('n', 'STORE 1 -FLAGS.SILENT (\\Deleted)');
    r = await c.command('x', 'EXPUNGE');
    assert.deepEqual(r.lines, ['* 3 EXPUNGE', '* 2 EXPUNGE']);
    await c.command('d2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    r = await c.command('cl', 'CLOSE');
    assert.deepEqual(r.lines, []);
    r = await c.command('st', `STATUS ${name} (MESSAGES)`);
    assert.deepEqual(r.lines, [`* STATUS ${name} (MESSAGES 0)`]);
    c.close();
  });
});

test('a message appended over 993 is byte-identical after a restart', { timeout: 60_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-restart-'));
  try {
    const store = await openStore({ dataDir });
    await store.createAccount('rs', await hashPassword('pw', CHEAP_HASHING));
    await store.close();
    let server = await spawnServer(dataDir);
    let { client } = await RawClient.connect(server.imapsPort, { tls: true });
    await client.command('l', 'LOGIN rs pw');
    const bare = Buffer.from('Subject: bare LF\n\nline one\nline two', 'latin1');
    await client.command('a', Buffer.concat([Buffer.from(`APPEND INBOX {${MIXED.length}+}\r\n`), MIXED]));
    await client.command('b', Buffer.concat([Buffer.from(`APPEND INBOX {${bare.length}+}\r\n`), bare]));
    client.close();
    server.child.kill('SIGTERM');
    await server.exited;

    server = await spawnServer(dataDir);
    ({ client } = await RawClient.connect(server.imapsPort, { tls: true }));
    await client.command('l', 'LOGIN rs pw');
    await client.command('s', 'SELECT INBOX');
    const get = async (item: string, n = 1): Promise<Buffer> => literalOf((await client.command('f', `FETCH ${n} (${item})`)).lines[0]!.replace('~{', '{'));
    assert.deepEqual(await get('BODY.PEEK[]'), MIXED);
    assert.deepEqual(await get('BINARY.PEEK[]'), MIXED);
    assert.deepEqual(await get('BINARY.PEEK[2]'), ATTACHMENT);
    assert.deepEqual(await get('BODY.PEEK[1]'), Buffer.from('Hello Bob,\r\nthe report.'));
    assert.deepEqual(await get('BODY.PEEK[2]'), Buffer.from(ATTACHMENT.toString('base64')));
    assert.deepEqual(await get('BODY.PEEK[3]'), Buffer.from('From: inner@example.com\r\nSubject: inner\r\n\r\ninner body'));
    assert.deepEqual(await get('BODY.PEEK[]', 2), bare);
    client.close();
    server.child.kill('SIGTERM');
    await server.exited;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a long FETCH sends INPROGRESS notes between messages (RFC 9585)', { timeout: 30_000 }, async () => {
  const slow = await startTestServer({ imap: { inProgressSeconds: 1 } });
  try {
    await slow.addUser('p', 'pw');
    const { client } = await RawClient.connect(slow.imapsPort, { tls: true });
    await client.command('l', 'LOGIN p pw');
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(2 * 1024 * 1024, 'x')]);
    for (let i = 0; i < 8; i++) await client.command('a', Buffer.concat([Buffer.from(`APPEND INBOX {${big.length}+}\r\n`), big]));
    await client.command('s', 'SELECT INBOX');
    // Stop reading: the server blocks on backpressure mid-FETCH and the command outlasts the interval.
    client.rawSocket().pause();
    client.send('f1 FETCH 1:* BODY.PEEK[]\r\n');
    await new Promise((r) => setTimeout(r, 1500));
    client.rawSocket().resume();
    const r = await client.readTagged('f1', 20_000);
    const notes = r.lines.filter((l) => l.startsWith('* OK [INPROGRESS'));
    assert.ok(notes.length >= 1, 'expected a progress note');
    assert.match(notes[0]!, /^\* OK \[INPROGRESS \("f1" [1-7] 8\)\] Processed \d+% of the items$/);
    assert.match(r.tagged, /^f1 OK/);
    client.close();
  } finally {
    await slow.stop();
  }
});

test('SEARCH BODY still sees long body text after FETCH cached the analysis without it', async () => {
  const c = await session();
  const long = Buffer.from(`Subject: long\r\n\r\n${'filler words '.repeat(400)}needle-at-the-end\r\n`);
  await mailboxWith(c, long, Buffer.from('Subject: short\r\n\r\nnothing here\r\n'));
  await c.command('f', 'FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
  const r = await c.command('s', 'SEARCH BODY needle-at-the-end');
  assert.deepEqual(r.lines, ['* SEARCH 1']);
  c.close();
});
