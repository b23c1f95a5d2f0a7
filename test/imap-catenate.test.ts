/**
 * CATENATE (RFC 4469) and URL-PARTIAL (RFC 5550 §4) over real sockets: the
 * RFC's forwarding example adapted to our data, byte-exact results, every
 * BADURL case, TOOBIG before the whole source is read, MULTIAPPEND and
 * synchronizing literals, and isolation between accounts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseImapUrl } from '../src/imap/imap-url.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const APPEND_LIMIT = 50_000;
let srv: TestServer;
let users = 0;

before(async () => {
  srv = await startTestServer({ limits: { appendLimit: APPEND_LIMIT } });
});
after(async () => srv.stop());

const ORIGINAL = Buffer.from(
  [
    'From: Fred Foobar <foobar@example.org>',
    'To: mooch@example.org',
    'Subject: afternoon meeting',
    'Message-Id: <B27397-0100000@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XX"',
    '',
    '--XX',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hello Joe, do you think we can meet at 3:30 tomorrow? \u00e9t\u00e9',
    '--XX',
    'Content-Type: application/octet-stream; name="a.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAwQFBgcICQ==',
    '--XX--',
    '',
  ].join('\r\n'),
  'utf8',
);

async function login(): Promise<{ c: RawClient; user: string; uidValidity: number; uid: number }> {
  const user = `cat${++users}`;
  await srv.addUser(user, 'pw');
  const { client: c } = await RawClient.connect(srv.imapsPort, { tls: true });
  assert.match((await c.command('l', `LOGIN ${user} pw`)).tagged, /^l OK/);
  const r = await c.command('a', Buffer.concat([Buffer.from(`APPEND INBOX {${ORIGINAL.length}+}\r\n`), ORIGINAL]));
  const m = /^a OK \[APPENDUID (\d+) (\d+)\]/.exec(r.tagged);
  assert.ok(m, r.tagged);
  return { c, user, uidValidity: Number(m[1]), uid: Number(m[2]) };
}

/** The bytes of `UID FETCH uid BODY.PEEK[]` in the mailbox. */
async function fetchBody(c: RawClient, mailbox: string, uid: number): Promise<Buffer> {
  await c.command('e', `EXAMINE ${mailbox}`);
  const r = await c.command('f', `UID FETCH ${uid} BODY.PEEK[]`);
  const m = /BODY\[\] \{(\d+)\}\r\n/.exec(r.raw.toString('latin1'));
  assert.ok(m, r.raw.toString('latin1'));
  const start = m.index + m[0].length;
  return r.raw.subarray(start, start + Number(m[1]));
}

/** Sends `APPEND mailbox CATENATE (...)` with non-synchronizing TEXT literals. */
async function catenate(c: RawClient, mailbox: string, parts: Array<string | Buffer>): Promise<string> {
  const wire: Buffer[] = [Buffer.from(`APPEND ${mailbox} CATENATE (`)];
  parts.forEach((p, i) => {
    if (i > 0) wire.push(Buffer.from(' '));
    if (typeof p === 'string') wire.push(Buffer.from(`URL "${p}"`));
    else wire.push(Buffer.from(`TEXT {${p.length}+}\r\n`), p);
  });
  wire.push(Buffer.from(')'));
  return (await c.command('c', Buffer.concat(wire))).tagged;
}

function section(bytes: Buffer, from: string, to?: string): Buffer {
  const s = bytes.indexOf(from);
  const e = to === undefined ? bytes.length : bytes.indexOf(to, s + from.length);
  assert.ok(s >= 0 && e >= s);
  return bytes.subarray(s, e);
}

test('CATENATE is advertised with URL-PARTIAL after login', async () => {
  const { c } = await login();
  const caps = (await c.command('k', 'CAPABILITY')).lines.join(' ');
  assert.match(caps, / CATENATE( |$)/);
  assert.match(caps, / URL-PARTIAL( |$)/);
  c.close();
});

test('forwarding a message built from text and parts of another (RFC 4469 §6 example 1)', async () => {
  const { c, uidValidity, uid } = await login();
  const base = `/INBOX;UIDVALIDITY=${uidValidity}/;UID=${uid}`;
  const head = Buffer.from(
    'From: Joe <joe@example.org>\r\nSubject: Fwd: afternoon meeting\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="YY"\r\n\r\n--YY\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--YY\r\n',
  );
  const tail = Buffer.from('\r\n--YY--\r\n');
  const tagged = await catenate(c, 'Drafts', [
    head,
    `${base}/;SECTION=1.MIME`,
    `${base}/;SECTION=1`,
    Buffer.from('\r\n--YY\r\n'),
    `${base}/;section=2.mime`,
    `${base}/;SECTION=2`,
    tail,
  ]);
  const m = /^c OK \[APPENDUID (\d+) (\d+)\]/.exec(tagged);
  assert.ok(m, tagged);

  const part1Mime = section(ORIGINAL, 'Content-Type: text/plain', '\r\n\r\n');
  const expected = Buffer.concat([
    head,
    Buffer.concat([part1Mime, Buffer.from('\r\n\r\n')]),
    section(ORIGINAL, 'Hello Joe', '\r\n--XX\r\nContent-Type: application'),
    Buffer.from('\r\n--YY\r\n'),
    Buffer.concat([section(ORIGINAL, 'Content-Type: application', '\r\n\r\n'), Buffer.from('\r\n\r\n')]),
    section(ORIGINAL, 'AAECAwQFBgcICQ==', '\r\n--XX--'),
    tail,
  ]);
  assert.deepEqual(await fetchBody(c, 'Drafts', Number(m[2])), expected);
  // The result is analysed like any APPEND: two parts.
  const bs = await c.command('b', `UID FETCH ${m[2]} BODYSTRUCTURE`);
  assert.match(bs.lines.join('\n'), /"mixed" \("boundary" "YY"\)/i);
  // RFC 4469 §3: reading the source sets no \Seen.
  await c.command('s', 'EXAMINE INBOX');
  const flags = await c.command('g', `UID FETCH ${uid} FLAGS`);
  assert.doesNotMatch(flags.lines.join('\n'), /\\Seen/);
  c.close();
});

test('whole-message URLs, absolute URLs of the same user, HEADER.FIELDS and PARTIAL ranges', async () => {
  const { c, user, uid } = await login();
  const whole = await catenate(c, 'INBOX', [`imap://${user}@localhost/INBOX/;UID=${uid}`]);
  const w = /^c OK \[APPENDUID \d+ (\d+)\]/.exec(whole);
  assert.ok(w, whole);
  assert.deepEqual(await fetchBody(c, 'INBOX', Number(w[1])), ORIGINAL);

  const parts = await catenate(c, 'INBOX', [
    `/INBOX/;UID=${uid}/;SECTION=HEADER.FIELDS%20(SUBJECT%20TO)`,
    `/INBOX/;UID=${uid}/;PARTIAL=6.11`,
    `/INBOX/;UID=${uid}/;SECTION=TEXT/;PARTIAL=2.2`,
    `/INBOX/;UID=${uid}/;PARTIAL=${ORIGINAL.length - 4}`,
  ]);
  const p = /^c OK \[APPENDUID \d+ (\d+)\]/.exec(parts);
  assert.ok(p, parts);
  const textStart = ORIGINAL.indexOf('\r\n\r\n') + 4;
  assert.deepEqual(
    await fetchBody(c, 'INBOX', Number(p[1])),
    Buffer.concat([
      Buffer.from('To: mooch@example.org\r\nSubject: afternoon meeting\r\n\r\n'),
      ORIGINAL.subarray(6, 17),
      ORIGINAL.subarray(textStart + 2, textStart + 4),
      ORIGINAL.subarray(ORIGINAL.length - 4),
    ]),
  );
  c.close();
});

test('every unusable URL is a NO [BADURL url] and appends nothing', async () => {
  const { c, uidValidity, uid } = await login();
  const other = await login();
  const bad = [
    `/INBOX;UIDVALIDITY=${uidValidity + 1000}/;UID=${uid}`,
    `/INBOX/;UID=${uid + 50}`,
    `/Nope/;UID=${uid}`,
    `/INBOX/;UID=${uid}/;SECTION=7`,
    `/INBOX/;UID=${uid}/;SECTION=BOGUS`,
    `/INBOX/;UID=${uid}/;URLAUTH=anonymous:internal:0123456789abcdef`,
    `imap://${other.user}@localhost/INBOX/;UID=${other.uid}`,
    `http://example.org/`,
    `/INBOX/;UID=0`,
    `/INBOX/;UID=${uid}/;PARTIAL=1.0`,
  ];
  for (const url of bad) {
    const tagged = await catenate(c, 'INBOX', [Buffer.from('Subject: x\r\n\r\n'), url]);
    assert.equal(tagged, `c NO [BADURL ${url}] ${tagged.slice(tagged.indexOf('] ') + 2)}`, url);
  }
  const st = await c.command('s', 'STATUS INBOX (MESSAGES)');
  assert.match(st.lines.join('\n'), /MESSAGES 1\)/);
  c.close();
  other.c.close();
});

test('a result over APPENDLIMIT is NO [TOOBIG] without reading every part', async () => {
  const { c, uid } = await login();
  const url = `/INBOX/;UID=${uid}`;
  const copies = Math.ceil(APPEND_LIMIT / ORIGINAL.length);
  assert.ok(2 * copies <= 256, 'within the parts limit');
  const started = Date.now();
  const tagged = await catenate(
    c,
    'INBOX',
    Array.from({ length: 2 * copies }, () => url),
  );
  assert.match(tagged, /^c NO \[TOOBIG\]/);
  assert.ok(Date.now() - started < 5000);
  const st = await c.command('s', 'STATUS INBOX (MESSAGES)');
  assert.match(st.lines.join('\n'), /MESSAGES 1\)/);
  assert.match((await c.command('n', 'NOOP')).tagged, /^n OK/);
  c.close();
});

test('MULTIAPPEND mixes CATENATE and plain messages; synchronizing TEXT literals get continuations', async () => {
  const { c, uid } = await login();
  const text = Buffer.from('Subject: sync\r\n\r\nbody\r\n');
  c.send(`m APPEND INBOX (\\Flagged) CATENATE (TEXT {${text.length}}\r\n`);
  assert.match(await c.readLine(), /^\+ /);
  c.send(Buffer.concat([text, Buffer.from(` URL "/INBOX/;UID=${uid}/;SECTION=TEXT") {${text.length}}\r\n`)]));
  assert.match(await c.readLine(), /^\+ /);
  c.send(Buffer.concat([text, Buffer.from('\r\n')]));
  const r = await c.readTagged('m');
  const m = /^m OK \[APPENDUID \d+ (\d+):(\d+)\]/.exec(r.tagged);
  assert.ok(m, r.tagged);
  const textStart = ORIGINAL.indexOf('\r\n\r\n') + 4;
  assert.deepEqual(await fetchBody(c, 'INBOX', Number(m[1])), Buffer.concat([text, ORIGINAL.subarray(textStart)]));
  assert.deepEqual(await fetchBody(c, 'INBOX', Number(m[2])), text);
  const flags = await c.command('g', `UID FETCH ${m[1]} FLAGS`);
  assert.match(flags.lines.join('\n'), /\\Flagged/);
  c.close();
});

test('malformed CATENATE syntax is BAD and the connection stays usable', async () => {
  const { c } = await login();
  assert.match((await c.command('x', 'APPEND INBOX CATENATE ()')).tagged, /^x BAD/);
  assert.match((await c.command('y', 'APPEND INBOX CATENATE (FOO "x")')).tagged, /^y BAD/);
  assert.match((await c.command('z', 'NOOP')).tagged, /^z OK/);
  c.close();
});

test('URL parser: RFC 5092 forms and rejects', () => {
  assert.deepEqual(parseImapUrl('/Sent%20Items;UIDVALIDITY=9/;UID=20/;SECTION=1.2.MIME/;PARTIAL=5.10'), {
    user: null,
    mailbox: 'Sent Items',
    uidValidity: 9,
    uid: 20,
    section: '1.2.MIME',
    partial: { offset: 5, length: 10 },
  });
  assert.equal(parseImapUrl('/a%2Fb/c%C3%A9/;UID=1')?.mailbox, 'a/b/c\u00e9');
  assert.equal(parseImapUrl('imap://fred;AUTH=*@host:143/INBOX/;UID=1')?.user, 'fred');
  for (const bad of [
    'INBOX/;UID=1',
    '/INBOX',
    '/INBOX/;UID=x',
    '/%ZZ/;UID=1',
    '/%FF/;UID=1',
    'imap://host/INBOX/;UID=1',
    '/INBOX/;UID=1/;PARTIAL=1.2.3',
    '/INBOX/;UID=99999999999',
  ])
    assert.equal(parseImapUrl(bad), null, bad);
});
