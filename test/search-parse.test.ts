/**
 * SEARCH syntax → query model (src/search/parse.ts): every key of RFC 9051
 * §6.4.4 and RFC 3501 §6.4.4, MODSEQ (RFC 7162 §3.1.5), precedence of OR,
 * NOT and lists, RETURN options (RFC 4731), CHARSET, and bad input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import iconv from 'iconv-lite';
import { charsetDecoder } from '../src/search/charset.js';
import { MAX_SEARCH_DEPTH, MAX_SEARCH_KEYS, parseReturnOptions, parseSearchCommand, parseSearchKeys } from '../src/imap/commands/search-keys.js';
import { dayNumber } from '../src/mime/calendar-day.js';
import { queryNeeds, type SearchKey } from '../src/search/query.js';
import { ArgReader, ParseError } from '../src/imap/wire/reader.js';
import { STAR } from '../src/search/sequence-set.js';
import { frameOne } from './helpers/wire-harness.js';

/** A reader over the arguments (a CRLF is added; literals are framed for real). */
const reader = (args: string | Buffer): ArgReader =>
  new ArgReader(frameOne(Buffer.concat([typeof args === 'string' ? Buffer.from(args, 'latin1') : args, Buffer.from('\r\n')])));

/** Parses a whole SEARCH argument string (after "SEARCH "), requiring it be consumed. */
function cmd(args: string | Buffer, rev2 = false) {
  const r = reader(args);
  const parsed = parseSearchCommand(r, rev2);
  r.end();
  return parsed;
}
const q = (args: string | Buffer): SearchKey => cmd(args).query;
const bad = (args: string, rev2 = false): void => assert.throws(() => cmd(args, rev2), ParseError, args);

const flag = (f: string, set: boolean): SearchKey => ({ kind: 'flag', flag: f, set });
const hdr = (field: string, value: string): SearchKey => ({ kind: 'header', field, value });
/** FROM/TO/CC/BCC: a header search that also matches the envelope's addresses. */
const addr = (field: string, value: string): SearchKey => ({ kind: 'header', field, value, address: true });

describe('search keys', () => {
  test('flag keys, positive and negated', () => {
    const cases: Array<[string, string, boolean]> = [
      ['ANSWERED', '\\Answered', true],
      ['DELETED', '\\Deleted', true],
      ['DRAFT', '\\Draft', true],
      ['FLAGGED', '\\Flagged', true],
      ['SEEN', '\\Seen', true],
      ['UNANSWERED', '\\Answered', false],
      ['UNDELETED', '\\Deleted', false],
      ['UNDRAFT', '\\Draft', false],
      ['UNFLAGGED', '\\Flagged', false],
      ['UNSEEN', '\\Seen', false],
    ];
    for (const [word, f, set] of cases) {
      assert.deepEqual(q(word), flag(f, set), word);
      assert.deepEqual(q(word.toLowerCase()), flag(f, set), `${word} in lower case`);
    }
    assert.deepEqual(q('KEYWORD $Junk'), flag('$Junk', true));
    assert.deepEqual(q('unkeyword NonJunk'), flag('NonJunk', false));
    assert.deepEqual(q('KEYWORD \\Seen'), flag('\\Seen', true));
  });

  test('ALL, RECENT, NEW and OLD', () => {
    assert.deepEqual(q('ALL'), { kind: 'all' });
    assert.deepEqual(q('RECENT'), { kind: 'recent' });
    assert.deepEqual(q('NEW'), { kind: 'and', keys: [{ kind: 'recent' }, flag('\\Seen', false)] });
    assert.deepEqual(q('OLD'), { kind: 'not', key: { kind: 'recent' } });
  });

  test('string keys: FROM TO CC BCC SUBJECT as header searches, BODY, TEXT, HEADER', () => {
    for (const word of ['FROM', 'TO', 'CC', 'BCC']) {
      assert.deepEqual(q(`${word} smith`), addr(word.toLowerCase(), 'smith'));
    }
    assert.deepEqual(q('SUBJECT smith'), hdr('subject', 'smith'));
    assert.deepEqual(q('HEADER From smith'), hdr('from', 'smith'), 'HEADER searches the text only');
    assert.deepEqual(q('BODY "hello world"'), { kind: 'body', value: 'hello world' });
    assert.deepEqual(q('TEXT {5}\r\nab\\"c'), { kind: 'text', value: 'ab\\"c' });
    assert.deepEqual(q('HEADER Message-ID "<x@y>"'), hdr('message-id', '<x@y>'));
    assert.deepEqual(q('HEADER "X-Spam" ""'), hdr('x-spam', ''));
    assert.deepEqual(q('subject "a \\"q\\" \\\\ b"'), hdr('subject', 'a "q" \\ b'));
  });

  test('date keys compare calendar days', () => {
    const d = dayNumber(1994, 1, 1);
    assert.equal(d, Date.UTC(1994, 1, 1) / 86_400_000);
    assert.deepEqual(q('BEFORE 1-Feb-1994'), { kind: 'date', field: 'internal', op: 'before', day: d });
    assert.deepEqual(q('ON "01-feb-1994"'), { kind: 'date', field: 'internal', op: 'on', day: d });
    assert.deepEqual(q('SINCE 1-FEB-1994'), { kind: 'date', field: 'internal', op: 'since', day: d });
    assert.deepEqual(q('SENTBEFORE 1-Feb-1994'), { kind: 'date', field: 'sent', op: 'before', day: d });
    assert.deepEqual(q('SENTON 1-Feb-1994'), { kind: 'date', field: 'sent', op: 'on', day: d });
    assert.deepEqual(q('SENTSINCE 1-Feb-1994'), { kind: 'date', field: 'sent', op: 'since', day: d });
  });

  test('sizes, UID, sequence sets and $', () => {
    assert.deepEqual(q('LARGER 100'), { kind: 'size', op: 'larger', n: 100 });
    assert.deepEqual(q('SMALLER 4294967296'), { kind: 'size', op: 'smaller', n: 4294967296 });
    assert.deepEqual(q('UID 1:*'), { kind: 'uid', set: { kind: 'ranges', ranges: [[1, STAR]] } });
    assert.deepEqual(q('UID $'), { kind: 'uid', set: { kind: 'saved' } });
    assert.deepEqual(q('2,4:6'), {
      kind: 'seq',
      set: {
        kind: 'ranges',
        ranges: [
          [2, 2],
          [4, 6],
        ],
      },
    });
    assert.deepEqual(q('*'), { kind: 'seq', set: { kind: 'ranges', ranges: [[STAR, STAR]] } });
    assert.deepEqual(q('$'), { kind: 'seq', set: { kind: 'saved' } });
  });

  test('MODSEQ with and without an entry', () => {
    assert.deepEqual(q('MODSEQ 0'), { kind: 'modseq', min: 0 });
    assert.deepEqual(q('MODSEQ "/flags/\\\\draft" all 620162338'), { kind: 'modseq', min: 620162338 });
    assert.deepEqual(q('modseq "/flags/$MDNSent" priv 5'), { kind: 'modseq', min: 5 });
    assert.equal(queryNeeds(q('OR MODSEQ 5 SEEN')).modseq, true);
    bad('MODSEQ "/flags/\\\\draft" both 5');
    bad('MODSEQ "/annotation/x" all 5');
    bad('MODSEQ x');
  });
});

describe('structure and precedence', () => {
  test('top-level keys are ANDed; a single key stays bare', () => {
    assert.deepEqual(q('SEEN 1:3'), { kind: 'and', keys: [flag('\\Seen', true), { kind: 'seq', set: { kind: 'ranges', ranges: [[1, 3]] } }] });
  });

  test('OR and NOT take exactly one key each; lists group', () => {
    // RFC 9051 §6.4.4 example: FLAGGED SINCE … NOT FROM "Smith"
    assert.deepEqual(q('NOT FROM smith SEEN'), { kind: 'and', keys: [{ kind: 'not', key: addr('from', 'smith') }, flag('\\Seen', true)] });
    assert.deepEqual(q('OR SEEN FLAGGED DELETED'), {
      kind: 'and',
      keys: [{ kind: 'or', left: flag('\\Seen', true), right: flag('\\Flagged', true) }, flag('\\Deleted', true)],
    });
    assert.deepEqual(q('OR SEEN (FLAGGED DELETED)'), {
      kind: 'or',
      left: flag('\\Seen', true),
      right: { kind: 'and', keys: [flag('\\Flagged', true), flag('\\Deleted', true)] },
    });
    assert.deepEqual(q('OR OR SEEN DRAFT NOT DELETED'), {
      kind: 'or',
      left: { kind: 'or', left: flag('\\Seen', true), right: flag('\\Draft', true) },
      right: { kind: 'not', key: flag('\\Deleted', true) },
    });
    assert.deepEqual(q('NOT (SEEN)'), { kind: 'not', key: flag('\\Seen', true) });
    assert.deepEqual(q('((ALL))'), { kind: 'all' });
  });

  test('nesting and key count are bounded', () => {
    const deepNot = `${'NOT '.repeat(MAX_SEARCH_DEPTH + 1)}SEEN`;
    bad(deepNot);
    assert.ok(q(`${'NOT '.repeat(MAX_SEARCH_DEPTH)}SEEN`));
    bad('OR '.repeat(MAX_SEARCH_DEPTH + 1) + 'SEEN '.repeat(MAX_SEARCH_DEPTH + 2).trim());
    bad(`${'('.repeat(40)}SEEN${')'.repeat(40)}`);
    bad(Array.from({ length: MAX_SEARCH_KEYS + 1 }, () => 'SEEN').join(' '));
    assert.ok(q(Array.from({ length: MAX_SEARCH_KEYS }, () => 'SEEN').join(' ')));
  });
});

describe('bad input', () => {
  test('is a ParseError', () => {
    for (const args of [
      '',
      'FOO',
      'SEEN  FLAGGED',
      'SEEN ',
      'FROM',
      'BEFORE 31-Feb-2020',
      'BEFORE 1-Foo-2020',
      'SINCE 2020-01-01',
      'LARGER x',
      'LARGER -1',
      'SMALLER 99999999999999999999',
      'UID',
      'UID x',
      '0',
      '1:0',
      'NOT',
      'OR SEEN',
      '()',
      '(SEEN',
      'SEEN)',
      'HEADER subject',
      'KEYWORD',
      'RETURN (FOO) ALL',
      'RETURN (MIN',
      'RETURN ALL',
      'CHARSET',
      'CHARSET UTF-8',
      'RETURN (MIN)',
      'CHARSET UTF-8 RETURN (MIN) ALL',
      'ALL RETURN (MIN)',
    ]) {
      bad(args);
    }
  });
});

describe('RETURN and CHARSET', () => {
  test('result options; () and absent', () => {
    const none = { min: false, max: false, all: false, count: false, save: false };
    assert.equal(cmd('ALL').returnOptions, null);
    assert.deepEqual(cmd('RETURN () ALL').returnOptions, { ...none, all: true });
    assert.deepEqual(cmd('RETURN (MIN max Count) ALL').returnOptions, { ...none, min: true, max: true, count: true });
    assert.deepEqual(cmd('RETURN (SAVE) ALL').returnOptions, { ...none, save: true });
    assert.deepEqual(cmd('RETURN (ALL SAVE) ALL').returnOptions, { ...none, all: true, save: true });
    const r = reader('(COUNT)');
    assert.deepEqual(parseReturnOptions(r), { ...none, count: true });
  });

  test('CHARSET decodes strings, quoted and literal', () => {
    const latin1 = Buffer.concat([Buffer.from('CHARSET ISO-8859-1 SUBJECT {4}\r\n', 'latin1'), iconv.encode('café', 'latin1')]);
    const p = cmd(latin1);
    assert.equal(p.charset, 'ISO-8859-1');
    assert.equal(p.charsetSupported, true);
    assert.deepEqual(p.query, hdr('subject', 'café'));
    const utf8 = cmd(Buffer.concat([Buffer.from('RETURN (COUNT) CHARSET "utf-8" TEXT {12}\r\n'), Buffer.from('отпуск')]));
    assert.deepEqual(utf8.query, { kind: 'text', value: 'отпуск' });
    assert.equal(utf8.charsetSupported, true);
    assert.equal(cmd('CHARSET US-ASCII SEEN').charsetSupported, true);
  });

  test('an unknown charset parses but is marked unsupported; rev2 only knows UTF-8 and US-ASCII', () => {
    const p = cmd('RETURN (SAVE) CHARSET KOI8-X (OR $ 1,3000:3021) TEXT {4}\r\nXXXX');
    assert.equal(p.charsetSupported, false);
    assert.equal(p.charset, 'KOI8-X');
    assert.equal(cmd('CHARSET ISO-8859-1 SEEN', true).charsetSupported, false);
    assert.equal(cmd('CHARSET UTF-8 SEEN', true).charsetSupported, true);
    assert.equal(cmd('CHARSET base64 SEEN').charsetSupported, false);
    // Syntax is still checked behind an unknown charset: BAD wins over NO.
    bad('CHARSET KOI8-X FOO');
    assert.equal(charsetDecoder('KOI8-R', false)!(iconv.encode('мать', 'koi8-r')), 'мать');
    assert.equal(charsetDecoder(null, true)!(Buffer.from('ü')), 'ü');
  });

  test('parseSearchKeys reads a bare program (SORT/THREAD)', () => {
    const r = reader('SEEN SUBJECT x');
    assert.deepEqual(
      parseSearchKeys(r, (b) => b.toString('utf8')),
      { kind: 'and', keys: [flag('\\Seen', true), hdr('subject', 'x')] },
    );
  });
});

describe('queryNeeds', () => {
  test('reports only what the keys use', () => {
    const none = { record: false, analysis: false, modseq: false, seqNumbers: false, bodyText: false, headerFields: false, headerText: false };
    assert.deepEqual(queryNeeds(q('SEEN UID 1:* LARGER 5 NOT RECENT')), none);
    assert.deepEqual(queryNeeds(q('SINCE 1-Jan-2020')), { ...none, record: true });
    assert.deepEqual(queryNeeds(q('SENTSINCE 1-Jan-2020')), { ...none, record: true, analysis: true });
    assert.deepEqual(queryNeeds(q('OR SEEN (NOT BODY x)')), { ...none, record: true, analysis: true, bodyText: true });
    assert.deepEqual(queryNeeds(q('NOT 1:3')), { ...none, seqNumbers: true });
    assert.deepEqual(queryNeeds(q('HEADER X-A b')), { ...none, record: true, analysis: true, headerFields: true });
    assert.deepEqual(queryNeeds(q('TEXT x')), { ...none, record: true, analysis: true, bodyText: true, headerFields: true, headerText: true });
  });
});
