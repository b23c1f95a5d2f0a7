/**
 * ArgReader: one test per RFC 9051 §9 production it reads, on commands framed
 * by the real framer (so literals and bare-LF line ends are exercised too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ArgReader, MAX_NESTING, ParseError } from '../src/imap/wire/reader.js';
import { STAR } from '../src/search/sequence-set.js';
import type { Segment } from '../src/imap/wire/framer.js';
import { frameOne } from './helpers/wire-harness.js';

/** A reader over one framed command (the CRLF is added). */
const r = (line: string | Buffer): ArgReader =>
  new ArgReader(frameOne(Buffer.concat([typeof line === 'string' ? Buffer.from(line, 'latin1') : line, Buffer.from('\r\n')])));
const bad = (fn: () => unknown, what: string): void => assert.throws(fn, ParseError, what);
/** Reads `what` as the whole command and returns it. */
const whole = <T>(line: string, read: (x: ArgReader) => T): T => {
  const x = r(line);
  const v = read(x);
  x.end();
  return v;
};

test('reader: tag', () => {
  for (const tag of ['a1', 'A', '0', 'x]y', '}', "~!#$&'", 't'.repeat(64), '[x]']) {
    const x = r(`${tag} NOOP`);
    assert.equal(x.tag(), tag);
    x.sp();
    assert.equal(x.atom(), 'NOOP');
    x.end();
  }
  for (const line of ['+ NOOP', '* NOOP', '"a" NOOP', '(a) NOOP', ' a NOOP', '%a NOOP', '\\a NOOP']) bad(() => r(line).tag(), line);
  // "+" ends a tag; over-long tags do not become a tag and a command.
  const plus = r('a+b NOOP');
  assert.equal(plus.tag(), 'a');
  bad(() => plus.sp(), 'a+b');
  const long = r(`${'t'.repeat(65)} NOOP`);
  long.tag();
  bad(() => long.sp(), '65-char tag');
});

test('reader: atom stops at atom-specials', () => {
  assert.equal(
    whole('FLAGS', (x) => x.atom()),
    'FLAGS',
  );
  assert.equal(
    whole('a}b', (x) => x.atom()),
    'a}b',
  );
  for (const [line, atom] of [
    ['a(b', 'a'],
    ['a)b', 'a'],
    ['a{b', 'a'],
    ['a b', 'a'],
    ['a%b', 'a'],
    ['a*b', 'a'],
    ['a"b', 'a'],
    ['a\\b', 'a'],
    ['a]b', 'a'],
    ['a\x7fb', 'a'],
    ['a\x01', 'a'],
  ] as const) {
    const x = r(line);
    assert.equal(x.atom(), atom, line);
    assert.ok(!x.atEnd());
  }
  for (const line of ['(a', ' a', '"a"', ']']) bad(() => r(line).atom(), line);
  assert.equal(
    whole('a]b', (x) => x.astringAtom()),
    'a]b',
  );
  const sect = r('HEADER.FIELDS]');
  assert.equal(sect.atomUntil('.]'), 'HEADER');
  sect.expect('.');
  assert.equal(sect.atomUntil('.]'), 'FIELDS');
  sect.expect(']');
  sect.end();
});

test('reader: number, nz-number and number64 bounds', () => {
  assert.equal(
    whole('0', (x) => x.number()),
    0,
  );
  assert.equal(
    whole('4294967295', (x) => x.number()),
    4294967295,
  );
  assert.equal(
    whole('007', (x) => x.number()),
    7,
  );
  bad(() => r('4294967296').number(), '2^32');
  bad(() => r('x').number(), 'no digits');
  bad(() => r('-1').number(), 'sign');
  bad(() => r('0').nzNumber(), 'zero');
  assert.equal(
    whole('1', (x) => x.nzNumber()),
    1,
  );
  assert.equal(
    whole('9007199254740991', (x) => x.number64()),
    Number.MAX_SAFE_INTEGER,
  );
  bad(() => r('9007199254740992').number64(), 'beyond 2^53-1');
  bad(() => r('9223372036854775807').number64(), '2^63-1 is not a safe integer');
  const huge = r('1'.repeat(30));
  assert.throws(() => {
    huge.number64();
    huge.end();
  }, ParseError);
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n }), (n) => {
      const x = r(String(n));
      if (n <= 0xffffffffn) assert.equal(x.number(), Number(n));
      else bad(() => x.number(), String(n));
    }),
  );
});

test('reader: quoted strings, escapes and what they may not hold', () => {
  assert.equal(
    whole('"a\\"b\\\\c"', (x) => x.string().bytes.toString('latin1')),
    'a"b\\c',
  );
  assert.equal(
    whole('"{5}"', (x) => x.string().bytes.toString('latin1')),
    '{5}',
  );
  assert.equal(
    whole('""', (x) => x.string().bytes.length),
    0,
  );
  assert.equal(
    whole('"\xc3\xa9"', (x) => x.string().bytes.toString('utf8')),
    'é',
  );
  assert.equal(
    whole('"a"', (x) => x.string().literal),
    false,
  );
  for (const line of ['"abc', '"abc\\"', '"a\\', 'abc']) bad(() => whole(line, (x) => x.string()), line);
  // NUL and CR are not TEXT-CHAR, escaped or not (a bare-LF line end lets a lone CR through the framer).
  for (const line of ['"a\x00b"', '"a\\\x00b"', '"a\rb"', '"a\\\rb"']) bad(() => whole(line, (x) => x.string()), JSON.stringify(line));
});

test('reader: literals in string, astring and nstring positions', () => {
  const x = r('a LOGIN {5}\r\nfr\ned {0+}\r\n {3}\r\nNIL');
  assert.equal(x.tag(), 'a');
  x.sp();
  assert.equal(x.atom(), 'LOGIN');
  x.sp();
  assert.ok(x.atLiteral());
  assert.deepEqual(x.astring(), { bytes: Buffer.from('fr\ned'), literal: true });
  x.sp();
  assert.deepEqual(x.string(), { bytes: Buffer.alloc(0), literal: true });
  x.sp();
  assert.deepEqual(x.nstring()?.bytes.toString(), 'NIL', 'a literal "NIL" is a string, not NIL');
  x.end();
  assert.equal(
    whole('nil', (y) => y.nstring()),
    null,
  );
  assert.equal(
    whole('NIL', (y) => y.nstring()),
    null,
  );
  bad(() => whole('NILS', (y) => y.nstring()), 'NILS');
  bad(() => whole('{2}\r\na\x00', (y) => y.string()), 'NUL in a literal');
  bad(() => whole('~{2}\r\nab', (y) => y.string()), 'literal8 is not a string');
  bad(() => whole('"a"b', (y) => y.astring()), 'junk after a quoted string');
  bad(() => whole('', (y) => y.astring()), 'nothing');
});

test('reader: messageLiteral takes a streamed or buffered literal', () => {
  const segs: Segment[] = [
    { kind: 'text', bytes: Buffer.from('a APPEND INBOX ') },
    { kind: 'stream', size: 10, binary: true, id: 7 },
    { kind: 'text', bytes: Buffer.from('') },
  ];
  const x = new ArgReader(segs);
  x.tag();
  x.sp();
  x.atom();
  x.sp();
  x.astring();
  x.sp();
  assert.deepEqual(x.messageLiteral(), segs[1]);
  x.end();
  const y = new ArgReader(segs);
  y.tag();
  y.sp();
  y.atom();
  y.sp();
  y.astring();
  y.sp();
  bad(() => y.string(), 'a streamed literal is not a string');
  bad(() => whole('"x"', (z) => z.messageLiteral()), 'quoted is not a message literal');
});

test('reader: lists, flag lists and the nesting limit', () => {
  assert.deepEqual(
    whole('(\\Seen $Forwarded foo \\Answered)', (x) => x.flagList()),
    ['\\Seen', '$Forwarded', 'foo', '\\Answered'],
  );
  assert.deepEqual(
    whole('()', (x) => x.flagList()),
    [],
  );
  for (const line of ['(\\Seen', '( \\Seen)', '(\\Seen )', '(\\Seen  foo)', '(\\)', '(\\Seen)x', '\\Seen', '(a)(b)', '("a")']) {
    bad(() => whole(line, (x) => x.flagList()), line);
  }
  bad(() => whole('()', (x) => x.list(() => x.atom(), false)), 'empty list not allowed');
  type Tree = string | Tree[];
  const item = (x: ArgReader): Tree => (x.peekByte() === 0x28 ? x.list(() => item(x)) : x.atom());
  const nested = (depth: number): string => `${'('.repeat(depth)}a${')'.repeat(depth)}`;
  let t = whole(nested(MAX_NESTING), item);
  for (let i = 0; i < MAX_NESTING; i++) {
    assert.ok(Array.isArray(t) && t.length === 1);
    t = t[0]!;
  }
  assert.equal(t, 'a');
  bad(() => whole(nested(MAX_NESTING + 1), item), 'too deep');
  // Depth is per path, not per list: many siblings at the limit are fine.
  const wide = `(${Array.from({ length: 5 }, () => nested(MAX_NESTING - 1)).join(' ')})`;
  assert.equal((whole(wide, item) as Tree[]).length, 5);
  bad(() => whole(`(${Array.from({ length: 10_001 }, () => 'a').join(' ')})`, item), 'list too long');
});

/** Formats a date-time as RFC 9051 §9 `date-time` in the given zone (minutes east of UTC). */
function imapDateTime(d: Date, zone: number, spaceDay: boolean): string {
  const local = new Date(d.getTime() + zone * 60_000);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const day = local.getUTCDate();
  const dd = day < 10 && spaceDay ? ` ${day}` : p2(day);
  const z = `${zone < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(zone) / 60))}${p2(Math.abs(zone) % 60)}`;
  return `"${dd}-${months[local.getUTCMonth()]}-${String(local.getUTCFullYear()).padStart(4, '0')} ${p2(local.getUTCHours())}:${p2(local.getUTCMinutes())}:${p2(local.getUTCSeconds())} ${z}"`;
}

test('reader: date-time round trips any instant in any zone', () => {
  fc.assert(
    fc.property(
      // Years 1900-9999 in UTC (finding 13, issue 18), a day from either end so any zone stays inside.
      fc.date({ min: new Date('1900-01-02T00:00:00Z'), max: new Date('9999-12-30T00:00:00Z'), noInvalidDate: true }),
      fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
      fc.boolean(),
      (d, zone, spaceDay) => {
        const secs = new Date(Math.floor(d.getTime() / 1000) * 1000);
        const text = imapDateTime(secs, zone, spaceDay);
        assert.equal(whole(text, (x) => x.dateTime()).getTime(), secs.getTime(), text);
      },
    ),
    { numRuns: 2000 },
  );
});

test('reader: date-time examples and invalid forms', () => {
  const dt = (s: string): string => whole(`"${s}"`, (x) => x.dateTime()).toISOString();
  assert.equal(dt(' 5-Jan-2024 10:11:12 +0100'), '2024-01-05T09:11:12.000Z');
  assert.equal(dt('05-jan-2024 10:11:12 -0730'), '2024-01-05T17:41:12.000Z');
  assert.equal(dt('29-Feb-2024 00:00:00 +0000'), '2024-02-29T00:00:00.000Z');
  assert.equal(dt('31-Dec-1999 23:59:59 -0000'), '1999-12-31T23:59:59.000Z');
  assert.equal(dt('01-Jan-1900 00:00:00 +0000'), '1900-01-01T00:00:00.000Z');
  assert.equal(dt('31-Dec-9999 23:59:59 +0000'), '9999-12-31T23:59:59.000Z');
  for (const s of [
    '01-Jan-0050 00:00:00 +0000', // years before 1900 (and never read as 19xx)
    '01-Jan-0000 00:00:00 -2359',
    '01-Jan-1900 00:00:00 +0001', // 1899 in UTC
    '31-Dec-9999 23:59:59 -0001', // 10000 in UTC
    '31-Feb-2024 00:00:00 +0000', // no such day: must not roll over into March
    '29-Feb-2023 00:00:00 +0000',
    '31-Apr-2024 00:00:00 +0000',
    '00-Jan-2024 00:00:00 +0000',
    '32-Jan-2024 00:00:00 +0000',
    '05-Foo-2024 00:00:00 +0000',
    '05-Jan-24 00:00:00 +0000',
    '05-Jan-2024 24:00:00 +0000',
    '05-Jan-2024 10:60:00 +0000',
    '05-Jan-2024 10:00:61 +0000',
    '05-Jan-2024 10:00:00 +0060',
    '05-Jan-2024 10:00:00',
    '05-Jan-2024 10:00:00 0100',
    '05-Jan-2024  10:00:00 +0100',
    '05-Jan-2024 1:00:00 +0100',
    '  5-Jan-2024 10:00:00 +0100',
  ]) {
    bad(() => whole(`"${s}"`, (x) => x.dateTime()), s);
  }
  bad(() => whole('05-Jan-2024', (x) => x.dateTime()), 'date-time must be quoted');
});

test('reader: date (SEARCH), bare or quoted', () => {
  assert.deepEqual(
    whole('1-Feb-1994', (x) => x.date()),
    [1994, 1, 1],
  );
  assert.deepEqual(
    whole('"29-feb-2000"', (x) => x.date()),
    [2000, 1, 29],
  );
  assert.deepEqual(
    whole('31-DEC-2024', (x) => x.date()),
    [2024, 11, 31],
  );
  for (const s of ['31-Feb-2024', '29-Feb-1900', '0-Jan-2024', '123-Jan-2024', '1-Jan-24', '1-January-2024', '"1-Jan-2024', '1-Jan-2024"']) {
    bad(() => whole(s, (x) => x.date()), s);
  }
});

test('reader: sequence-set', () => {
  assert.deepEqual(
    whole('1:3,5,*', (x) => x.sequenceSet()),
    {
      kind: 'ranges',
      ranges: [
        [1, 3],
        [5, 5],
        [STAR, STAR],
      ],
    },
  );
  assert.deepEqual(
    whole('$', (x) => x.sequenceSet()),
    { kind: 'saved' },
  );
  const x = r('2:4 FLAGS');
  assert.ok(x.atSequenceSet());
  assert.deepEqual(x.sequenceSet(), { kind: 'ranges', ranges: [[2, 4]] });
  x.sp();
  for (const s of ['0', '1:', '1,,2', 'x', '4294967296']) bad(() => whole(s, (y) => y.sequenceSet()), s);
  assert.equal(r('0').atSequenceSet(), false);
  assert.equal(r('FLAGS').atSequenceSet(), false);
});

test('reader: end() refuses extra arguments; sp() is exactly one space', () => {
  const x = r('a NOOP x');
  x.tag();
  x.sp();
  x.atom();
  bad(() => x.end(), 'extra');
  const y = r('a  NOOP');
  y.tag();
  y.sp();
  bad(() => y.atom(), 'two spaces');
});

test('reader: 8-bit bytes after an atom are named as such (RFC 9051 §4.1: atoms are ASCII)', () => {
  /** A reader past the tag and the atoms before the last one, and that last atom as read. */
  const upToLastAtom = (line: string): { x: ArgReader; last: string } => {
    const x = r(Buffer.from(line, 'utf8'));
    x.tag();
    let last = '';
    for (let i = 0; i < line.split(' ').length - 1; i++) {
      x.sp();
      last = x.atom();
    }
    return { x, last };
  };
  const eightBit = { name: 'ParseError', message: /^8-bit data in an atom/ };
  const space = upToLastAtom('a SEARCH SUBJECT café');
  assert.equal(space.last, 'caf');
  assert.throws(() => space.x.sp(), eightBit);
  const end = upToLastAtom('a SELECT Entwürfe');
  assert.equal(end.last, 'Entw');
  assert.throws(() => end.x.end(), eightBit);
  // ASCII keeps the plain messages.
  assert.throws(() => r('a(').sp(), { message: 'Expected a space' });
  assert.throws(() => upToLastAtom('a NOOP(').x.end(), { message: 'Unexpected extra arguments' });
});
