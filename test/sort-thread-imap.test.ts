/**
 * SORT, THREAD, ESORT and PARTIAL end to end over real sockets: messages are
 * APPENDed with encoded-word and 8-bit headers, time zones, missing Date
 * headers and a realistic mailing-list thread (missing parents, a duplicate
 * Message-ID, quoted IDs, a References loop, replies whose References were
 * lost); a first message is expunged so UIDs and sequence numbers differ.
 * Covers every sort key and REVERSE, UID forms, ESEARCH response shapes for
 * SORT RETURN and SEARCH/SORT PARTIAL, SAVE, MODSEQ, and the errors (BAD for
 * syntax, NO [BADCHARSET]).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import iconv from 'iconv-lite';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const crlf = (lines: string[]): string => `${lines.join('\r\n')}\r\n`;

interface Fixture {
  date: string;
  text: string;
}

const SORTED: Fixture[] = [
  {
    date: '05-Jan-2024 00:00:00 +0000',
    text: crlf(['From: "Zed Alpha" <bob@x.org>', 'To: carol@y.org', 'Subject: Re: apple', 'Date: Mon, 1 Jan 2024 10:00:00 +0000', '', 'one']),
  },
  {
    date: '03-Jan-2024 00:00:00 +0000',
    text: crlf([
      'From: =?UTF-8?Q?=C3=89mile?= <alice@x.org>',
      'To: "Bob" <dave@y.org>',
      'Cc: zoe@z.org',
      'Subject: Banana',
      // 11:00 UTC: after message 1 although the clock reads earlier.
      'Date: Mon, 1 Jan 2024 09:00:00 -0200',
      '',
      'two two two two two two two two two two two two two two two two two two two two',
    ]),
  },
  {
    date: '02-Jan-2024 00:00:00 +0000',
    text: crlf(['From: carol@x.org', 'Cc: Adam <adam@z.org>', 'Subject: [list] Apple (fwd)', '', 'three three three']),
  },
  {
    date: '04-Jan-2024 00:00:00 +0000',
    text: crlf([
      'From: "zoë" <Alice@x.org>',
      'To: "Yann" <Bob@y.org>',
      'Subject: Fwd: [fwd: cherry]',
      // 10:30 UTC: between messages 1 and 2.
      'Date: Mon, 1 Jan 2024 06:30:00 -0400',
      '',
      'four four four four four four four four four',
    ]),
  },
];

/** A mailing list: message N of the comments below is sequence number N. */
const LIST: Fixture[] = [
  ['Message-ID: <a1@x>', 'Subject: Release plan', 'Date: Fri, 1 Mar 2024 10:00:00 +0000'],
  // A quoted local part names the same ID as <a2@x>.
  ['Message-ID: <"a2"@x>', 'Subject: Re: Release plan', 'References: <a1@x>', 'Date: Fri, 1 Mar 2024 11:00:00 +0000'],
  ['Message-ID: <a3@x>', 'Subject: Re: Release plan', 'References: <a1@x>', ' <a2@x>', 'Date: Fri, 1 Mar 2024 12:00:00 +0000'],
  // b1 never reached this mailbox.
  ['Message-ID: <b2@x>', 'Subject: Re: Build broken', 'References: <b1@x>', 'Date: Sat, 2 Mar 2024 09:00:00 +0000'],
  ['Message-ID: <b3@x>', 'Subject: Re: Build broken', 'In-Reply-To: Your message of Friday <b1@x>', 'Date: Sat, 2 Mar 2024 10:00:00 +0000'],
  ['Message-ID: <c1@x>', 'Subject: [dev] Weekly notes', 'Date: Sun, 3 Mar 2024 09:00:00 +0000'],
  // A reply whose client dropped the References: joined by subject.
  ['Message-ID: <c2@x>', 'Subject: Re: =?UTF-8?Q?=5Bdev=5D_Weekly_notes?=', 'Date: Sun, 3 Mar 2024 10:00:00 +0000'],
  // zz is missing: the reply moves up to a1.
  ['Message-ID: <a4@x>', 'Subject: Re: Release plan', 'References: <a1@x> <zz@x>', 'Date: Mon, 4 Mar 2024 10:00:00 +0000'],
  ['Message-ID: <d1@x>', 'Subject: Fwd: Release plan', 'Date: Tue, 5 Mar 2024 10:00:00 +0000'],
  ['Subject: Lunch?', 'Date: Wed, 6 Mar 2024 12:00:00 +0000'],
  ['Message-ID: <e1@x>', 'Subject: Lunch?', 'Date: Wed, 6 Mar 2024 13:00:00 +0000'],
  // The same Message-ID again (a copy): it gets a unique one.
  ['Message-ID: <a2@x>', 'Subject: Re: Release plan', 'References: <a1@x>', 'Date: Fri, 1 Mar 2024 11:00:00 +0000'],
  // Two messages naming each other as parent.
  ['Message-ID: <f1@x>', 'Subject: Re: Loop test', 'References: <f2@x>', 'Date: Thu, 7 Mar 2024 11:00:00 +0000'],
  ['Message-ID: <f2@x>', 'Subject: Loop test', 'References: <f1@x>', 'Date: Thu, 7 Mar 2024 12:00:00 +0000'],
].map((headers, i) => ({ date: '10-Mar-2024 00:00:00 +0000', text: crlf(['From: list@example.org', ...headers, '', `Body ${i + 1}`]) }));

let srv: TestServer;
let c: RawClient;

/** Sends a command that must succeed; returns its untagged lines. */
async function ok(command: string | Buffer): Promise<string[]> {
  const r = await c.command('t', command);
  assert.match(r.tagged, /^t OK/, `${command}: ${r.tagged}`);
  return r.lines;
}

/** The one untagged response of a kind (e.g. "SORT", "THREAD", "ESEARCH"), as text after "* ". */
async function single(command: string | Buffer, kind: string): Promise<string> {
  const found = (await ok(command)).filter((l) => l === `* ${kind}` || l.startsWith(`* ${kind} `));
  assert.equal(found.length, 1, `${command}: ${found.join('\n')}`);
  return found[0]!.slice(2);
}

/** The numbers of the SORT response. */
async function sorted(command: string | Buffer): Promise<number[]> {
  const line = await single(command, 'SORT');
  return line.split(' ').slice(1).map(Number);
}

/** Fills a mailbox behind one expunged message, so UID = sequence number + 1, and selects it. */
async function fill(mailbox: string, fixtures: Fixture[]): Promise<void> {
  await ok(`CREATE ${mailbox}`);
  for (const m of [{ date: '01-Jan-2000 00:00:00 +0000', text: crlf(['Subject: gone', '', 'x']) }, ...fixtures]) {
    await ok(Buffer.concat([Buffer.from(`APPEND ${mailbox} () "${m.date}" {${Buffer.byteLength(m.text)}+}\r\n`), Buffer.from(m.text)]));
  }
  await ok(`SELECT ${mailbox}`);
  await ok('STORE 1 +FLAGS.SILENT (\\Deleted)');
  await ok('EXPUNGE');
}

before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'wonderland');
  ({ client: c } = await RawClient.connect(srv.imapsPort, { tls: true }));
  await ok('LOGIN alice wonderland');
  await fill('list', LIST);
  await fill('sorted', SORTED);
});
after(async () => {
  c.close();
  await srv.stop();
});

test('CAPABILITY advertises SORT, SORT=DISPLAY, THREAD=…, ESORT and PARTIAL', async () => {
  const caps = (await single('CAPABILITY', 'CAPABILITY')).split(' ');
  for (const cap of ['SORT', 'SORT=DISPLAY', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'ESORT', 'PARTIAL']) assert.ok(caps.includes(cap), cap);
});

describe('SORT', () => {
  const bySize = SORTED.map((m, i) => [Buffer.byteLength(m.text), i + 1] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, seq]) => seq);
  const cases: Array<[criteria: string, want: number[]]> = [
    ['(FROM)', [2, 4, 1, 3]],
    ['(DISPLAYFROM)', [3, 2, 1, 4]],
    ['(TO)', [3, 4, 1, 2]],
    ['(DISPLAYTO)', [3, 2, 1, 4]],
    ['(CC)', [1, 4, 3, 2]],
    ['(SUBJECT)', [1, 3, 2, 4]],
    ['(DATE)', [1, 4, 2, 3]],
    ['(ARRIVAL)', [3, 2, 4, 1]],
    ['(SIZE)', bySize],
    ['(REVERSE SIZE)', [...bySize].reverse()],
    ['(REVERSE DATE)', [3, 2, 4, 1]],
    ['(SUBJECT REVERSE DATE)', [3, 1, 2, 4]],
    // REVERSE does not reverse the implicit sequence-number order of ties (1 and 3 share a base subject).
    ['(REVERSE SUBJECT)', [4, 2, 1, 3]],
    ['(reverse cc from)', [2, 3, 4, 1]],
  ];
  before(() => ok('SELECT sorted'));

  for (const [criteria, want] of cases) {
    test(`SORT ${criteria}`, async () => {
      assert.deepEqual(await sorted(`SORT ${criteria} UTF-8 ALL`), want);
    });
  }

  test('searching criteria select what is sorted', async () => {
    assert.deepEqual(await sorted('SORT (ARRIVAL) UTF-8 NOT FROM carol'), [2, 4, 1]);
    assert.deepEqual(await sorted('SORT (SUBJECT) US-ASCII TEXT "not in mailbox"'), []);
    assert.equal(await single('SORT (SUBJECT) US-ASCII TEXT "not in mailbox"', 'SORT'), 'SORT');
  });

  test('CHARSET decodes the search strings', async () => {
    const latin1 = iconv.encode('Émile', 'latin1');
    assert.deepEqual(await sorted(Buffer.concat([Buffer.from(`SORT (DATE) ISO-8859-1 FROM {${latin1.length}+}\r\n`), latin1])), [2]);
  });

  test('UID SORT answers with UIDs', async () => {
    assert.deepEqual(await sorted('UID SORT (DATE) UTF-8 ALL'), [2, 5, 3, 4]);
    assert.deepEqual(await sorted('UID SORT (DATE) UTF-8 UID 3:4'), [3, 4]);
  });

  test('a MODSEQ key appends the highest modseq (RFC 7162 §3.1.9)', async () => {
    const line = await single('SORT (DATE) UTF-8 MODSEQ 1', 'SORT');
    assert.match(line, /^SORT 1 4 2 3 \(MODSEQ \d+\)$/);
  });
});

describe('ESORT (RFC 5267 §3)', () => {
  before(() => ok('SELECT sorted'));

  test('MIN and MAX are the first and last in sort order', async () => {
    assert.equal(await single('SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") MIN 1 MAX 3 COUNT 4');
  });

  test('ALL keeps the sort order; only ascending runs become ranges', async () => {
    assert.equal(await single('UID SORT RETURN () (REVERSE DATE) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") UID ALL 4,3,5,2');
    assert.equal(await single('SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") ALL 3,2,4,1');
    assert.equal(await single('SORT RETURN (ALL) (SUBJECT) UTF-8 NOT FROM carol', 'ESEARCH'), 'ESEARCH (TAG "t") ALL 1:2,4');
  });

  test('no match: COUNT 0, nothing else', async () => {
    assert.equal(await single('SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 SUBJECT nothing', 'ESEARCH'), 'ESEARCH (TAG "t") COUNT 0');
    assert.equal(await single('SORT RETURN (MIN) (DATE) UTF-8 SUBJECT nothing', 'ESEARCH'), 'ESEARCH (TAG "t")');
  });

  test('PARTIAL counts positions in sort order', async () => {
    assert.equal(await single('SORT RETURN (PARTIAL 2:3) (DATE) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") PARTIAL (2:3 4,2)');
    assert.equal(await single('UID SORT RETURN (PARTIAL -1:-2) (DATE) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") UID PARTIAL (-1:-2 3:4)');
    assert.equal(await single('SORT RETURN (COUNT PARTIAL 5:9) (DATE) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") COUNT 4 PARTIAL (5:9 NIL)');
  });

  test('SAVE keeps the sorted result for `$` (RFC 5182)', async () => {
    // MIN of ARRIVAL is message 3 (the earliest arrival), not the lowest number.
    assert.equal(await single('SORT RETURN (SAVE MIN) (ARRIVAL) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") MIN 3');
    assert.equal(await single('SEARCH $', 'SEARCH'), 'SEARCH 3');
    const lines = await ok('SORT RETURN (SAVE) (REVERSE ARRIVAL) UTF-8 NOT FROM carol');
    assert.deepEqual(lines, []);
    assert.equal(await single('SEARCH $', 'SEARCH'), 'SEARCH 1 2 4');
    assert.equal(await single('SORT RETURN (SAVE PARTIAL 1:2) (DATE) UTF-8 ALL', 'ESEARCH'), 'ESEARCH (TAG "t") PARTIAL (1:2 1,4)');
    assert.equal(await single('SEARCH $', 'SEARCH'), 'SEARCH 1 4');
  });

  test('a SORT with SAVE that fails with NO empties `$`', async () => {
    await ok('SEARCH RETURN (SAVE) 1:2');
    const r = await c.command('t', 'SORT RETURN (SAVE) (DATE) X-UNKNOWN ALL');
    assert.match(r.tagged, /^t NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    assert.equal(await single('SEARCH $', 'SEARCH'), 'SEARCH');
  });
});

describe('SEARCH PARTIAL (RFC 9394)', () => {
  before(() => ok('SELECT sorted'));
  const cases: Array<[command: string, want: string]> = [
    ['SEARCH RETURN (PARTIAL 1:2) ALL', 'ESEARCH (TAG "t") PARTIAL (1:2 1:2)'],
    ['SEARCH RETURN (PARTIAL 3:1) ALL', 'ESEARCH (TAG "t") PARTIAL (3:1 1:3)'],
    ['UID SEARCH RETURN (PARTIAL -1:-3) ALL', 'ESEARCH (TAG "t") UID PARTIAL (-1:-3 3:5)'],
    ['UID SEARCH RETURN (PARTIAL -3:-9) ALL', 'ESEARCH (TAG "t") UID PARTIAL (-3:-9 2:3)'],
    ['SEARCH RETURN (PARTIAL 10:20) ALL', 'ESEARCH (TAG "t") PARTIAL (10:20 NIL)'],
    ['SEARCH RETURN (PARTIAL -5:-9) ALL', 'ESEARCH (TAG "t") PARTIAL (-5:-9 NIL)'],
    ['SEARCH RETURN (COUNT PARTIAL 3:9) ALL', 'ESEARCH (TAG "t") COUNT 4 PARTIAL (3:9 3:4)'],
    ['SEARCH RETURN (MIN PARTIAL -1:-1) NOT FROM carol', 'ESEARCH (TAG "t") MIN 1 PARTIAL (-1:-1 4)'],
    ['SEARCH RETURN (PARTIAL 1:5) SUBJECT nothing', 'ESEARCH (TAG "t") PARTIAL (1:5 NIL)'],
  ];
  for (const [command, want] of cases) {
    test(command, async () => {
      assert.equal(await single(command, 'ESEARCH'), want);
    });
  }

  test('SAVE with PARTIAL saves the partial result', async () => {
    assert.equal(await single('SEARCH RETURN (SAVE PARTIAL 2:3) ALL', 'ESEARCH'), 'ESEARCH (TAG "t") PARTIAL (2:3 2:3)');
    assert.equal(await single('SEARCH $', 'SEARCH'), 'SEARCH 2 3');
    await ok('SEARCH RETURN (SAVE COUNT PARTIAL 1:1) ALL');
    assert.equal(await single('SEARCH $', 'SEARCH'), 'SEARCH 1 2 3 4');
  });
});

describe('THREAD', () => {
  before(() => ok('SELECT list'));

  test('REFERENCES: a realistic list with missing parents, duplicates, loops and subject-only replies', async () => {
    assert.equal(await single('THREAD REFERENCES UTF-8 ALL', 'THREAD'), 'THREAD (1 (2 3)(12)(8)(9))((4)(5))(6 7)((10)(11))(14 13)');
  });

  test('UID THREAD answers with UIDs', async () => {
    assert.equal(await single('UID THREAD REFERENCES UTF-8 ALL', 'THREAD'), 'THREAD (2 (3 4)(13)(9)(10))((5)(6))(7 8)((11)(12))(15 14)');
  });

  test('only searched messages are threaded; an unsearched parent is a dummy', async () => {
    assert.equal(await single('THREAD REFERENCES UTF-8 NOT SUBJECT lunch', 'THREAD'), 'THREAD (1 (2 3)(12)(8)(9))((4)(5))(6 7)(14 13)');
    assert.equal(await single('THREAD REFERENCES UTF-8 NOT 1', 'THREAD'), 'THREAD ((2 3)(12)(8)(9))((4)(5))(6 7)((10)(11))(14 13)');
    assert.equal(await single('THREAD REFERENCES US-ASCII TEXT "gewp"', 'THREAD'), 'THREAD');
    assert.equal(await single('THREAD ORDEREDSUBJECT US-ASCII TEXT "gewp"', 'THREAD'), 'THREAD');
  });

  test('ORDEREDSUBJECT', async () => {
    assert.equal(await single('THREAD ORDEREDSUBJECT UTF-8 ALL', 'THREAD'), 'THREAD (1 (2)(12)(3)(8)(9))(4 5)(6 7)(10 11)(13 14)');
    assert.equal(await single('thread orderedsubject utf-8 SINCE 1-Jan-2000 SUBJECT build', 'THREAD'), 'THREAD (4 5)');
  });
});

describe('errors', () => {
  before(() => ok('SELECT sorted'));
  const badCommands = [
    'SORT (FOO) UTF-8 ALL',
    'SORT () UTF-8 ALL',
    'SORT (DATE) UTF-8',
    'SORT (DATE)',
    'SORT DATE UTF-8 ALL',
    'SORT (REVERSE) UTF-8 ALL',
    'SORT (DATE) UTF-8 ALL BOGUS',
    'SORT (DATE) X-UNKNOWN FOO',
    'SORT RETURN (FOO) (DATE) UTF-8 ALL',
    'SORT RETURN (PARTIAL 1:2 ALL) (DATE) UTF-8 ALL',
    'SORT RETURN (DATE) UTF-8 ALL',
    'THREAD FOO UTF-8 ALL',
    'THREAD REFERENCES UTF-8',
    'THREAD REFERENCES',
    'THREAD (REFERENCES) UTF-8 ALL',
    'SEARCH RETURN (PARTIAL 1:2 ALL) ALL',
    'SEARCH RETURN (ALL PARTIAL 1:2) ALL',
    'SEARCH RETURN (PARTIAL 0:2) ALL',
    'SEARCH RETURN (PARTIAL 1:-2) ALL',
    'SEARCH RETURN (PARTIAL -1:2) ALL',
    'SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL',
    'SEARCH RETURN (PARTIAL) ALL',
    'SEARCH RETURN (PARTIAL 1) ALL',
    'SEARCH RETURN (PARTIAL 1:*) ALL',
  ];
  for (const command of badCommands) {
    test(`${command} → BAD`, async () => {
      const r = await c.command('t', command);
      assert.match(r.tagged, /^t BAD/, r.tagged);
      // Twenty BADs in a row end the session (limits.max-bad-commands, issue 18 finding 9).
      assert.match((await c.command('n', 'NOOP')).tagged, /^n OK/);
    });
  }

  test('an unknown charset → NO [BADCHARSET]', async () => {
    for (const command of ['SORT (DATE) X-UNKNOWN ALL', 'THREAD REFERENCES X-UNKNOWN ALL', 'UID SORT RETURN (COUNT) (DATE) X-UNKNOWN ALL']) {
      const r = await c.command('t', command);
      assert.match(r.tagged, /^t NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/, command);
      assert.deepEqual(r.lines, [], command);
    }
  });
});
