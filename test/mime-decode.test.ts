/**
 * Decoders used by FETCH BINARY and SEARCH: transfer encodings (RFC 2045 §6),
 * RFC 2047 header words with charset conversion, and Date parsing (RFC 5322).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeCharset, decodeUnlabelled } from '../src/mime/charset.js';
import { parseDate, parseWrittenDate } from '../src/mime/date.js';
import { decodeHeaderValue } from '../src/mime/encoded-words.js';
import { decodeTransferEncoding } from '../src/mime/transfer-encoding.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A straightforward quoted-printable encoder (RFC 2045 §6.7) for round trips. */
function qpEncode(data: Buffer): Buffer {
  let out = '';
  let line = '';
  for (const c of data) {
    const plain = (c >= 33 && c <= 126 && c !== 61) || c === 32;
    const piece = plain ? String.fromCharCode(c) : `=${c.toString(16).toUpperCase().padStart(2, '0')}`;
    if (line.length + piece.length > 75) {
      out += `${line}=\r\n`;
      line = '';
    }
    line += piece;
  }
  // a space at the end of a line would be removed as transport padding
  if (line.endsWith(' ')) line = `${line.slice(0, -1)}=20`;
  return b(out + line);
}

test('base64 round trips through line wrapping and stray octets', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 4, max: 100 }), (data, width) => {
      const enc = Buffer.from(data).toString('base64');
      const wrapped = (enc.match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join('\r\n');
      assert.deepEqual(decodeTransferEncoding('base64', b(`${wrapped}\r\n`)), Buffer.from(data));
      assert.deepEqual(decodeTransferEncoding(' BASE64 ', b(` ${wrapped.replace(/\r\n/g, '\n\t')} !`)), Buffer.from(data));
    }),
  );
});

test('quoted-printable round trips, soft line breaks included', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (data) => {
      assert.deepEqual(decodeTransferEncoding('quoted-printable', qpEncode(Buffer.from(data))), Buffer.from(data));
    }),
  );
});

test('quoted-printable edge cases (RFC 2045 §6.7)', () => {
  const dec = (s: string): string => (decodeTransferEncoding('Quoted-Printable', b(s)) as Buffer).toString('latin1');
  assert.equal(dec('caf=E9 =e9\r\n'), 'café é\r\n', 'upper and lower case hex');
  assert.equal(dec('trailing   \r\nnext'), 'trailing\r\nnext', 'transport padding removed');
  assert.equal(dec('soft=  \r\nbreak'), 'softbreak', 'soft break after padding');
  assert.equal(dec('bare lf=\nsoft\nhard\n'), 'bare lfsoft\nhard\n', 'bare LF line ends');
  assert.equal(dec('bad =ZZ =4 = x'), 'bad =ZZ =4 = x', 'invalid escapes stay literal');
  assert.equal(dec('end='), 'end', 'final soft break');
});

test('identity encodings and unknown ones', () => {
  const body = b('\x00\xffraw\r\n');
  for (const e of ['7bit', '8BIT', 'Binary', '']) assert.equal(decodeTransferEncoding(e, body), body);
  assert.equal(decodeTransferEncoding('x-uuencode', body), null);
  assert.equal(decodeTransferEncoding('base64; x', body), null);
});

test('RFC 2047 encoded words in several charsets', () => {
  const d = (s: string): string => decodeHeaderValue(b(s));
  assert.equal(d('=?utf-8?Q?Caf=C3=A9?= =?utf-8?Q?_cr=C3=A8me?='), 'Café crème', 'white space between adjacent words dropped');
  assert.equal(d('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
  assert.equal(d('=?koi8-r?B?8NLJ18XU?='), 'Привет');
  assert.equal(d('=?big5?B?pKSk5Q==?='), '中文');
  assert.equal(d('=?gb2312?B?1tDOxA==?='), '中文');
  assert.equal(d('=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?='), '日本語');
  assert.equal(d('=?windows-1252?Q?=93quoted=94?='), '“quoted”');
  assert.equal(d('=?utf-8?Q?=C3?= =?utf-8?Q?=A9?='), 'é', 'a character split across words');
  assert.equal(d('=?utf-8*en?Q?hi?='), 'hi', 'RFC 2231 language suffix');
  assert.equal(d('a =?utf-8?Q?x?= b =?utf-8?Q?y?='), 'a x b y', 'text between words kept');
  assert.equal(d('=?utf-8?X?abc?= =?bogus?Q?ok?='), '=?utf-8?X?abc?= ok', 'bad encoding untouched, unknown charset lenient');
});

test('header unfolding and raw 8-bit text', () => {
  assert.equal(decodeHeaderValue(b('folded\r\n line\r\n\tagain')), 'folded line\tagain');
  assert.equal(decodeHeaderValue(b('Gr\xc3\xbc\xc3\x9fe')), 'Grüße', 'valid UTF-8');
  assert.equal(decodeHeaderValue(b('Andr\xe9 \x93q\x94')), 'André “q”', 'otherwise windows-1252');
});

test('unlabelled text: ASCII as is, UTF-8 without its byte order mark, else windows-1252', () => {
  assert.equal(decodeUnlabelled(b('plain ascii')), 'plain ascii');
  assert.equal(decodeUnlabelled(b('\xef\xbb\xbfGr\xc3\xbc\xc3\x9fe')), 'Grüße');
  assert.equal(decodeUnlabelled(b('\xef\xbb\xbf')), '');
  assert.equal(decodeUnlabelled(b('caf\xe9')), 'café');
});

test('charset conversion falls back for unknown charsets', () => {
  assert.equal(decodeCharset(b('\xe9'), 'iso-8859-1'), 'é');
  assert.equal(decodeCharset(b('\xc3\xa9'), 'x-unknown-charset'), 'é');
  assert.equal(decodeCharset(b('\xc3\xa9'), 'base64'), 'é', 'not a charset');
  assert.equal(decodeCharset(b('\x1b$BF|K\\8l\x1b(B ok'), 'ISO-2022-JP'), '日本語 ok');
});

test('Date: RFC 5322 and obsolete forms', () => {
  assert.equal(parseDate('Tue, 1 Jul 2003 10:52:37 +0200'), Date.UTC(2003, 6, 1, 8, 52, 37));
  assert.equal(parseDate('Thu,\r\n 13\r\n Feb\r\n 1969\r\n 23:32\r\n -0330 (Newfoundland Time)'), Date.UTC(1969, 1, 14, 3, 2, 0));
  assert.equal(parseDate('1 Jul 03 10:52 EST'), Date.UTC(2003, 6, 1, 15, 52, 0), 'two-digit year, alphabetic zone');
  assert.equal(parseDate('1 Jul 99 10:52:00 GMT'), Date.UTC(1999, 6, 1, 10, 52, 0));
  assert.equal(parseDate('1 Jul 103 00:00 Z'), Date.UTC(2003, 6, 1), 'three-digit year');
  assert.equal(parseDate('Tue Jul  1 10:52:37 2003'), Date.UTC(2003, 6, 1, 10, 52, 37), 'asctime order');
  assert.equal(parseDate('01-Jul-2003 10:52:37 -0000'), Date.UTC(2003, 6, 1, 10, 52, 37));
  assert.equal(parseDate('Wed, 2 Jul 2003'), Date.UTC(2003, 6, 2), 'no time');
  for (const bad of ['', 'not a date', '32 Jul 2003 10:00', '31 Feb 2003 10:00', '1 Jul 2003 25:00', 'Tue, 1 Foo 2003']) {
    assert.equal(parseDate(bad), null, bad);
  }
});

test('Date: the date as written, in its own zone (RFC 9051 §6.4.4 SENT*)', () => {
  const day = (v: string): [number, number, number] | null => {
    const w = parseWrittenDate(v);
    return w === null ? null : [w.year, w.month0, w.day];
  };
  assert.deepEqual(day('Sun, 25 Mar 2007 00:00:00 +0200'), [2007, 2, 25], 'the UTC day is the 24th');
  assert.deepEqual(day('Sat, 24 Mar 2007 23:59:59 -0800'), [2007, 2, 24], 'the UTC day is the 25th');
  assert.deepEqual(day('Mon, 26 Mar 2007 01:00:00 +1400'), [2007, 2, 26]);
  assert.deepEqual(day('Sun, 25 Mar 2007 20:00:00 -1200'), [2007, 2, 25]);
  assert.deepEqual(day('25 Mar 07 23:00:00 PDT'), [2007, 2, 25], 'two-digit year, obsolete zone');
  assert.deepEqual(day('Sun, 25 Mar 2007 23:00:00 A'), [2007, 2, 25], 'military zone');
  assert.deepEqual(day('Sun, 25 Mar 2007 23:00'), [2007, 2, 25], 'no zone');
  assert.deepEqual(day('Sun, 25 Mar 2007 23:59:60 +0000'), [2007, 2, 25], 'leap second');
  assert.equal(parseWrittenDate('Sun, 25 Mar 2007 23:00:00 -0800')?.instant, Date.UTC(2007, 2, 26, 7));
  // RFC 5322 §4.3: a zone name of unknown meaning: the day is known, the instant (for SORT) is not.
  assert.deepEqual(parseWrittenDate('Mon, 26 Mar 2007 00:30:00 IST'), { year: 2007, month0: 2, day: 26, instant: null });
  assert.equal(parseDate('Mon, 26 Mar 2007 00:30:00 IST'), null);
  for (const bad of ['', 'not a date', 'Mon, 26 Mar 2007 IST 00:30:00', '26 Mar 2007 00:30 IST XYZ', '26 Mar 2007 00:30 Someplace']) {
    assert.equal(parseWrittenDate(bad), null, bad);
  }
});
