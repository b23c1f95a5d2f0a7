/**
 * SEARCH SENTBEFORE/SENTON/SENTSINCE and FROM/TO/CC/BCC over real sockets,
 * from the RFC text:
 * - RFC 9051 §6.4.4 (and RFC 3501 §6.4.4): SENT* compare the Date header
 *   field's date "disregarding time and timezone", i.e. the calendar day as
 *   written in the header's own zone, whatever the offset (+1400, -1200),
 *   obsolete zone (RFC 5322 §4.3: EST/PDT, military letters, unknown names),
 *   two-digit year or missing zone. A message without a Date header, or with
 *   one that is not a date, has no such day: no SENT* key matches it, and
 *   NOT of one does. SORT (DATE) still orders by the instant (RFC 5256 §2.2).
 * - FROM/TO/CC/BCC: "the specified string in the envelope structure's FROM
 *   field": the normalized addresses (comments and folding white space gone,
 *   display names decoded) match, and so does the raw header text; HEADER
 *   FROM matches the text only. Case-insensitive, substrings.
 * Each query is also run beside `NOT BODY`, which reads the analyses
 * instead of the mailbox's header facts: both paths must agree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const crlf = (lines: string[]): string => `${lines.join('\r\n')}\r\n`;

/** Date header values (null: none), in APPEND order; the comment is the calendar day as written. */
const DATES: Array<string | null> = [
  'Sun, 25 Mar 2007 00:00:00 +0200', // 1: 25 (UTC 24th)
  'Sat, 24 Mar 2007 23:59:59 -0800', // 2: 24 (UTC 25th)
  'Mon, 26 Mar 2007 01:00:00 +1400', // 3: 26 (UTC 25th)
  'Sun, 25 Mar 2007 20:00:00 -1200', // 4: 25 (UTC 26th)
  'Sun, 25 Mar 2007 22:00:00 PDT', // 5: 25 (UTC 26th)
  '25 Mar 07 23:00:00 EST', // 6: 25, two-digit year (UTC 26th)
  'Sun, 25 Mar 2007 23:00:00 A', // 7: 25, military zone
  'Sun, 25 Mar 2007 23:00:00', // 8: 25, no zone
  null, // 9: no Date header (INTERNALDATE 26th UTC)
  'not a date', // 10: unparseable (INTERNALDATE 25th)
  'Sun, 25 Mar 2007 23:59:60 +0000', // 11: 25, leap second
  'Mon, 26 Mar 2007 00:30:00 IST', // 12: 26, zone of unknown meaning
  'Sun, 25 Mar 2007\r\n 03:30:00 +0300 (EEST)', // 13: 25, folded, after the DST change
];

/** Header lines of the address messages (after Dovecot's imaptest search-addresses, plus encoded and folded ones). */
const ADDRESSES: string[][] = [
  ['From: user-from@domain.org', 'To: user-to@domain.org', 'Cc: user-cc@domain.org', 'Bcc: user-bcc@domain.org'],
  ['From: RealFrom <user-from@domain.org>', 'To: RealTo <user-to@domain.org>', 'Cc: RealCc <user-cc@domain.org>', 'Bcc: RealBcc <user-bcc@domain.org>'],
  ['From: <user-from (comment)@ (comment) domain.org>', 'To: <user-to@domain.org>', 'Cc: <user-cc (c)@domain.org>', 'Bcc: <user-bcc@ (c) domain.org>'],
  ['From: user-from@domain.org (RealFrom)', 'To: user-to@domain.org (RealTo)', 'Cc: user-cc@domain.org (RealCc)', 'Bcc: user-bcc@domain.org (RealBcc)'],
  ['From: user-from1@domain.org, user-from2@domain.org', 'Cc: user-cc@domain.org'],
  ['To: groupname: groupuser1@domain.org, groupuser2@domain.org;,', '  groupname2: groupuser3@domain.org;'],
  ['From: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>', 'To: "Smith, John" <john . smith @ example . org>'],
  ['From: Long User <long.user@', ' example.org>'],
];

let srv: TestServer;
let c: RawClient;

/** The one untagged SEARCH line of `SEARCH args`, which must succeed; also checks the analysis path agrees. */
async function search(args: string): Promise<string> {
  const run = async (query: string): Promise<string> => {
    const r = await c.command('s', Buffer.from(`SEARCH CHARSET UTF-8 ${query}`));
    assert.match(r.tagged, /^s OK/, `${query}: ${r.tagged}`);
    const found = r.lines.filter((l) => l.startsWith('* SEARCH'));
    assert.equal(found.length, 1, r.lines.join('\n'));
    return found[0]!;
  };
  const line = await run(args);
  assert.equal(await run(`${args} NOT BODY qqqqq`), line, `${args}: header facts and analyses disagree`);
  return line;
}

async function append(box: string, internal: string, text: string): Promise<void> {
  const r = await c.command('a', Buffer.from(`APPEND ${box} "${internal}" {${Buffer.byteLength(text)}+}\r\n${text}`));
  assert.match(r.tagged, /^a OK/);
}

before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'wonderland');
  ({ client: c } = await RawClient.connect(srv.imapsPort, { tls: true }));
  assert.match((await c.command('l', 'LOGIN alice wonderland')).tagged, /^l OK/);
  assert.match((await c.command('c', 'CREATE Dates')).tagged, /^c OK/);
  assert.match((await c.command('c', 'CREATE Addresses')).tagged, /^c OK/);
  for (const [i, date] of DATES.entries()) {
    const internal = i === 8 ? '25-Mar-2007 23:00:00 -0800' : i === 9 ? '25-Mar-2007 12:00:00 +0000' : '10-Mar-2007 12:00:00 +0000';
    await append('Dates', internal, crlf([...(date === null ? [] : [`Date: ${date}`]), `Subject: d${i + 1}`, '', 'x']));
  }
  for (const [i, headers] of ADDRESSES.entries()) await append('Addresses', '01-Jan-2020 00:00:00 +0000', crlf([...headers, `Subject: a${i + 1}`, '', 'x']));
});
after(async () => {
  c.close();
  await srv.stop();
});

/** A suite over one mailbox: SELECTs it, then checks each [query, exact SEARCH line]; `more` adds tests. */
function searchSuite(title: string, box: string, cases: Array<[query: string, line: string]>, more = (): void => {}): void {
  describe(title, () => {
    before(async () => {
      assert.match((await c.command('x', `SELECT ${box}`)).tagged, /^x OK/);
    });
    for (const [args, want] of cases) test(args, async () => assert.equal(await search(args), want));
    more();
  });
}

searchSuite(
  'SENTBEFORE, SENTON, SENTSINCE: the Date header as written (RFC 9051 §6.4.4)',
  'Dates',
  [
    ['SENTBEFORE 24-Mar-2007', '* SEARCH'],
    ['SENTBEFORE 25-Mar-2007', '* SEARCH 2'],
    ['SENTBEFORE 26-Mar-2007', '* SEARCH 1 2 4 5 6 7 8 11 13'],
    ['SENTBEFORE 27-Mar-2007', '* SEARCH 1 2 3 4 5 6 7 8 11 12 13'],
    ['SENTON 23-Mar-2007', '* SEARCH'],
    ['SENTON 24-Mar-2007', '* SEARCH 2'],
    ['SENTON 25-Mar-2007', '* SEARCH 1 4 5 6 7 8 11 13'],
    ['SENTON 26-Mar-2007', '* SEARCH 3 12'],
    ['SENTSINCE 25-Mar-2007', '* SEARCH 1 3 4 5 6 7 8 11 12 13'],
    ['SENTSINCE 26-Mar-2007', '* SEARCH 3 12'],
    ['SENTSINCE 27-Mar-2007', '* SEARCH'],
    // No Date header (9) or not a date (10): no SENT* key matches, whatever INTERNALDATE says.
    ['NOT SENTBEFORE 1-Jan-2100', '* SEARCH 9 10'],
    ['NOT SENTSINCE 1-Jan-1900', '* SEARCH 9 10'],
    ['OR SENTBEFORE 25-Mar-2007 SENTSINCE 26-Mar-2007', '* SEARCH 2 3 12'],
    // INTERNALDATE keys are untouched: the UTC day of the instant.
    ['ON 26-Mar-2007', '* SEARCH 9'],
  ],
  () => {
    test('SORT (DATE) still orders by the instant in UTC (RFC 5256 §2.2)', async () => {
      // UTC: 1 24th 22:00, 2 25th 07:59:59, 3 25th 11:00, 7 and 8 25th 23:00, 6 26th 04:00, 5 26th 05:00, 4 26th 08:00.
      const r = await c.command('o', 'SORT (DATE) UTF-8 1:8');
      assert.match(r.tagged, /^o OK/);
      assert.deepEqual(r.lines, ['* SORT 1 2 3 7 8 6 5 4']);
    });
  },
);

searchSuite('FROM, TO, CC, BCC: the envelope addresses and the raw text (RFC 9051 §6.4.4)', 'Addresses', [
  // The full address, whatever comments or display names surround it.
  ['FROM user-from@domain.org', '* SEARCH 1 2 3 4'],
  ['TO user-to@domain.org', '* SEARCH 1 2 3 4'],
  ['CC user-cc@domain.org', '* SEARCH 1 2 3 4 5'],
  ['BCC user-bcc@domain.org', '* SEARCH 1 2 3 4'],
  ['FROM USER-FROM@DOMAIN.ORG', '* SEARCH 1 2 3 4'],
  ['FROM "<user-from@domain.org>"', '* SEARCH 1 2 3 4'],
  ['TO "john.smith@example.org"', '* SEARCH 7'],
  ['FROM "long.user@example.org"', '* SEARCH 8'],
  // Parts of it, the display name (decoded), groups.
  ['FROM domain.org', '* SEARCH 1 2 3 4 5'],
  ['FROM user-from', '* SEARCH 1 2 3 4 5'],
  ['FROM realfrom', '* SEARCH 2 4'],
  ['BCC realbcc', '* SEARCH 2 4'],
  ['FROM "RealFrom <user-from@"', '* SEARCH 2 4'],
  ['FROM "jörg"', '* SEARCH 7'],
  ['FROM "JÖRG <joerg@example.org>"', '* SEARCH 7'],
  ['TO "Smith, John"', '* SEARCH 7'],
  ['TO groupname2', '* SEARCH 6'],
  ['TO groupuser3@domain.org', '* SEARCH 6'],
  // The raw header text still matches.
  ['FROM "(comment)"', '* SEARCH 3'],
  ['FROM "user-from (comment)@"', '* SEARCH 3'],
  ['TO "john . smith @"', '* SEARCH 7'],
  ['FROM "user-from1@domain.org, user-from2"', '* SEARCH 5'],
  ['FROM "=?utf-8?q?"', '* SEARCH'],
  // In neither.
  ['FROM nothere', '* SEARCH'],
  ['FROM "user-from@domain.org>x"', '* SEARCH'],
  ['TO user-from@domain.org', '* SEARCH'],
  ['NOT FROM user-from@domain.org', '* SEARCH 5 6 7 8'],
  // Existence: a field that is absent matches no FROM "" (an empty envelope field adds nothing).
  ['FROM ""', '* SEARCH 1 2 3 4 5 7 8'],
  ['BCC ""', '* SEARCH 1 2 3 4'],
  // HEADER searches the field's text only.
  ['HEADER From user-from@domain.org', '* SEARCH 1 2 4'],
]);
