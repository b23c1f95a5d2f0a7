/**
 * SEARCH end to end over real sockets: messages APPENDed with encoded-word
 * headers, a base64 UTF-8 body and different flags and dates, then searched
 * with each kind of key, UID SEARCH, ESEARCH result options, SAVE with `$`,
 * CHARSET with a literal, BADCHARSET and IMAP4rev2's ESEARCH-only answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import iconv from 'iconv-lite';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const crlf = (lines: string[]): string => `${lines.join('\r\n')}\r\n`;

const MESSAGES: Array<{ flags: string; date: string; text: string }> = [
  {
    flags: '(\\Seen)',
    date: '01-Feb-1994 10:00:00 +0000',
    text: crlf([
      'From: =?ISO-8859-1?Q?J=F6hn_Smith?= <smith@example.com>',
      'To: alice@example.org',
      'Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?= report',
      'Date: Mon, 31 Jan 1994 23:30:00 +0000',
      'X-Spam: yes',
      '',
      'Numbers attached.',
    ]),
  },
  {
    flags: '(\\Flagged $Junk)',
    date: '02-Feb-1994 00:00:00 +0000',
    text: crlf([
      'From: Bob <bob@example.net>',
      'To: Alice <alice@example.org>',
      'Cc: carol@example.com',
      'Subject: lunch?',
      'Date: Wed, 2 Feb 1994 08:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Отпуск в июле, meet for lunch', 'utf8').toString('base64'),
    ]),
  },
  {
    flags: '(\\Answered \\Deleted)',
    date: '03-Feb-1994 23:59:59 +0000',
    text: crlf(['From: carol@example.com', 'Bcc: secret@example.com', 'Subject: Re: lunch?', '', 'Sure.']),
  },
  {
    flags: '()',
    date: '04-Feb-1994 12:00:00 +0000',
    text: crlf(['From: alice@example.org', 'Subject: big one', 'Date: Fri, 4 Feb 1994 12:00:00 +0000', '', 'x'.repeat(3000)]),
  },
];

let srv: TestServer;
let c: RawClient;

/** The numbers of the one untagged SEARCH response. */
function searchNumbers(lines: string[]): number[] {
  const found = lines.filter((l) => l.startsWith('* SEARCH'));
  assert.equal(found.length, 1, lines.join('\n'));
  return found[0]!.split(' ').slice(2).map(Number);
}

/** `tag SEARCH args` must succeed; returns the numbers. */
async function search(args: string | Buffer, prefix = 'SEARCH'): Promise<number[]> {
  const r = await c.command('s', Buffer.concat([Buffer.from(`${prefix} `), Buffer.from(args)]));
  assert.match(r.tagged, /^s OK/, `${args}: ${r.tagged}`);
  return searchNumbers(r.lines);
}

before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'wonderland');
  ({ client: c } = await RawClient.connect(srv.imapsPort, { tls: true }));
  assert.match((await c.command('l', 'LOGIN alice wonderland')).tagged, /^l OK/);
  for (const m of MESSAGES) {
    const r = await c.command('a', `APPEND INBOX ${m.flags} "${m.date}" {${Buffer.byteLength(m.text)}+}\r\n${m.text}`);
    assert.match(r.tagged, /^a OK/);
  }
  assert.match((await c.command('x', 'SELECT INBOX')).tagged, /^x OK/);
});
after(async () => {
  c.close();
  await srv.stop();
});

describe('keys over the wire', () => {
  const cases: Array<[string, number[]]> = [
    ['ALL', [1, 2, 3, 4]],
    ['SEEN', [1]],
    ['UNSEEN', [2, 3, 4]],
    ['FLAGGED', [2]],
    ['ANSWERED', [3]],
    ['DELETED', [3]],
    ['UNDELETED', [1, 2, 4]],
    ['DRAFT', []],
    ['UNDRAFT', [1, 2, 3, 4]],
    ['KEYWORD $Junk', [2]],
    ['UNKEYWORD $junk', [1, 3, 4]],
    ['LARGER 2000', [4]],
    ['SMALLER 120', [3]],
    ['BEFORE 2-Feb-1994', [1]],
    ['ON 3-Feb-1994', [3]],
    ['SINCE 3-Feb-1994', [3, 4]],
    // Message 3 has no Date header: no SENT* key matches it (RFC 9051 §6.4.4).
    ['SENTON 31-Jan-1994', [1]],
    ['SENTBEFORE 2-Feb-1994', [1]],
    ['SENTON 3-Feb-1994', []],
    ['SENTSINCE 2-Feb-1994', [2, 4]],
    ['FROM smith', [1]],
    ['FROM "jöhn"', [1]],
    ['TO ALICE', [1, 2]],
    ['CC carol', [2]],
    ['BCC secret', [3]],
    ['SUBJECT lunch', [2, 3]],
    ['SUBJECT "CRÈME"', [1]],
    ['HEADER X-Spam ""', [1]],
    ['HEADER x-spam yes', [1]],
    ['HEADER MIME-Version 1.0', [2]],
    ['BODY attached', [1]],
    ['BODY "отпуск"', [2]],
    ['BODY smith', []],
    ['TEXT smith', [1]],
    ['TEXT lunch', [2, 3]],
    ['TEXT sure', [3]],
    ['2:3', [2, 3]],
    ['3:*', [3, 4]],
    ['4:99', [4]],
    ['UID 2:3', [2, 3]],
    ['UID 3:*', [3, 4]],
    ['OR SEEN FLAGGED', [1, 2]],
    ['NOT OR SEEN FLAGGED', [3, 4]],
    ['(SUBJECT lunch) NOT DELETED', [2]],
    ['OR FROM bob BODY attached', [1, 2]],
    // This session's SELECT claimed every message as \Recent (RFC 3501 §2.3.2).
    ['RECENT', [1, 2, 3, 4]],
    ['NEW', [2, 3, 4]],
    ['OLD', []],
    // RFC 5032: the 1994 dates are older than a second and than a day, and younger than 4e9 seconds.
    ['OLDER 1', [1, 2, 3, 4]],
    ['YOUNGER 86400', []],
    ['YOUNGER 4000000000', [1, 2, 3, 4]],
    ['UNSEEN OLDER 86400', [2, 3, 4]],
  ];
  for (const [args, want] of cases) {
    test(args, async () => {
      assert.deepEqual(await search(args), want);
    });
  }

  test('MODSEQ appends the highest modseq', async () => {
    const r = await c.command('m', 'SEARCH MODSEQ 0');
    // The first CONDSTORE-enabling command tells the selected client its HIGHESTMODSEQ (RFC 7162 §3.1).
    assert.match(r.lines[0]!, /^\* OK \[HIGHESTMODSEQ \d+\]/);
    assert.match(r.lines[1]!, /^\* SEARCH 1 2 3 4 \(MODSEQ \d+\)$/);
  });

  test('WITHIN: OLDER and YOUNGER compare INTERNALDATE with the time of the search (RFC 5032 §2)', async () => {
    assert.match((await c.command('w0', 'CREATE Within')).tagged, /^w0 OK/);
    const hourAgo = new Date(Date.now() - 3600_000);
    const pad = (n: number): string => String(n).padStart(2, '0');
    const month = hourAgo.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
    const date = `${pad(hourAgo.getUTCDate())}-${month}-${hourAgo.getUTCFullYear()} ${pad(hourAgo.getUTCHours())}:${pad(hourAgo.getUTCMinutes())}:${pad(hourAgo.getUTCSeconds())} +0000`;
    assert.match((await c.command('w1', `APPEND Within "${date}" {11+}\r\nSubject: w\r\n`)).tagged, /^w1 OK/);
    assert.match((await c.command('w2', `APPEND Within {11+}\r\nSubject: n\r\n`)).tagged, /^w2 OK/);
    assert.match((await c.command('w3', 'SELECT Within')).tagged, /^w3 OK/);
    try {
      assert.deepEqual(await search('YOUNGER 3500'), [2]);
      assert.deepEqual(await search('YOUNGER 3700'), [1, 2]);
      assert.deepEqual(await search('OLDER 3500'), [1]);
      assert.deepEqual(await search('OLDER 3700'), []);
      const r = await c.command('w4', 'SEARCH OLDER 0');
      assert.match(r.tagged, /^w4 BAD/);
      assert.match((await c.command('k', 'CAPABILITY')).lines.join(' '), / WITHIN /);
    } finally {
      assert.match((await c.command('w5', 'SELECT INBOX')).tagged, /^w5 OK/);
    }
  });

  test('UID SEARCH answers UIDs', async () => {
    const uids = await search('ALL', 'UID SEARCH');
    assert.equal(uids.length, 4);
    assert.deepEqual(await search('FLAGGED', 'UID SEARCH'), [uids[1]]);
    assert.deepEqual(await search(`UID ${uids[2]}`, 'UID SEARCH'), [uids[2]]);
  });

  test('CHARSET UTF-8 and ISO-8859-1 with literals', async () => {
    const utf8 = Buffer.from('отпуск');
    assert.deepEqual(await search(Buffer.concat([Buffer.from(`CHARSET UTF-8 BODY {${utf8.length}+}\r\n`), utf8])), [2]);
    const latin1 = iconv.encode('Café', 'latin1');
    assert.deepEqual(await search(Buffer.concat([Buffer.from(`CHARSET ISO-8859-1 SUBJECT {${latin1.length}+}\r\n`), latin1])), [1]);
  });
});

describe('ESEARCH and SAVE', () => {
  test('RETURN (MIN MAX COUNT ALL)', async () => {
    const r = await c.command('e1', 'SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN');
    assert.deepEqual(r.lines, ['* ESEARCH (TAG "e1") MIN 2 MAX 4 COUNT 3 ALL 2:4']);
    const none = await c.command('e2', 'SEARCH RETURN (MIN MAX COUNT ALL) DRAFT');
    assert.deepEqual(none.lines, ['* ESEARCH (TAG "e2") COUNT 0']);
    const uids = await search('ALL', 'UID SEARCH');
    const u = await c.command('e3', 'UID SEARCH RETURN (MIN) UNSEEN');
    assert.deepEqual(u.lines, [`* ESEARCH (TAG "e3") UID MIN ${uids[1]}`]);
  });

  test('SAVE then FETCH $ and SEARCH $', async () => {
    const r = await c.command('v1', 'SEARCH RETURN (SAVE) OR FLAGGED ANSWERED');
    assert.deepEqual(r.lines, []);
    assert.match(r.tagged, /^v1 OK/);
    const f = await c.command('v2', 'FETCH $ FLAGS');
    assert.match(f.tagged, /^v2 OK/);
    assert.deepEqual(
      f.lines.map((l) => /^\* (\d+) FETCH/.exec(l)?.[1]),
      ['2', '3'],
    );
    assert.match(f.lines[0]!, /\\Flagged/);
    assert.deepEqual(await search('$ NOT DELETED'), [2]);
    // Pipelined: the saved result is ready for the very next command (RFC 5182 §2.1).
    c.send('p1 SEARCH RETURN (SAVE MIN) UNSEEN\r\np2 UID FETCH $ (UID)\r\n');
    const p1 = await c.readTagged('p1');
    assert.deepEqual(p1.lines, ['* ESEARCH (TAG "p1") MIN 2']);
    const p2 = await c.readTagged('p2');
    assert.equal(p2.lines.length, 1);
    assert.match(p2.lines[0]!, /^\* 2 FETCH/);
  });

  test('BADCHARSET; with SAVE it empties $', async () => {
    await c.command('w1', 'SEARCH RETURN (SAVE) ALL');
    const r = await c.command('w2', 'SEARCH RETURN (SAVE) CHARSET KOI8-X (OR $ 1) TEXT {4+}\r\nXXXX');
    assert.match(r.tagged, /^w2 NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    assert.deepEqual(await search('$'), []);
  });

  test('bad syntax is BAD and keeps $', async () => {
    await c.command('y1', 'SEARCH RETURN (SAVE) SEEN');
    for (const args of ['FOO', 'RETURN (BOGUS) ALL', 'BEFORE 32-Jan-2020', 'OR SEEN', '(SEEN', 'NOT']) {
      const r = await c.command('y2', `SEARCH ${args}`);
      assert.match(r.tagged, /^y2 BAD/, args);
    }
    assert.deepEqual(await search('$'), [1]);
  });
});

describe('IMAP4rev2', () => {
  test('SEARCH answers ESEARCH; CHARSET other than UTF-8 is BADCHARSET', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      await client.command('l', 'LOGIN alice wonderland');
      assert.match((await client.command('e', 'ENABLE IMAP4rev2')).tagged, /^e OK/);
      await client.command('s', 'SELECT INBOX');
      const r = await client.command('r1', 'SEARCH UNSEEN');
      assert.deepEqual(r.lines, ['* ESEARCH (TAG "r1") ALL 2:4']);
      const u = await client.command('r2', 'UID SEARCH DRAFT');
      assert.deepEqual(u.lines, ['* ESEARCH (TAG "r2") UID']);
      const latin1 = iconv.encode('Café', 'latin1');
      const b = await client.command('r3', Buffer.concat([Buffer.from(`SEARCH CHARSET ISO-8859-1 SUBJECT {${latin1.length}+}\r\n`), latin1]));
      assert.match(b.tagged, /^r3 NO \[BADCHARSET/);
    } finally {
      client.close();
    }
  });
});
