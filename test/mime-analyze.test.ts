/**
 * MessageAnalyzer outputs beyond the Dovecot goldens: section numbering
 * helpers, decoded headers, search text, Date, limits and bounded memory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { MessageAnalyzer, analyzeMessage } from '../src/mime/analyze.js';
import { findPart, sectionRange, type SectionText } from '../src/mime/section.js';
import type { PartIndex } from '../src/mime/types.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/mime');
const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'utf8');

function section(bytes: Buffer, root: PartIndex, spec: string): string | null {
  const parts = spec === '' ? [] : spec.split('.');
  const last = parts[parts.length - 1];
  const text = last === 'HEADER' || last === 'TEXT' || last === 'MIME' ? (parts.pop() as SectionText) : undefined;
  const r = sectionRange(root, parts.map(Number), text);
  return r === null ? null : bytes.subarray(r.start, r.end).toString('latin1');
}

test('RFC 9051 §6.4.5 section numbering on the RFC 2060 sample message', () => {
  const bytes = fs.readFileSync(path.join(FIXTURES, 'corpus/mimekit/rfc2060.txt'));
  const { root } = analyzeMessage(bytes);
  for (const spec of ['1', '2', '3.1', '3.2', '4.1', '4.2.1', '4.2.2.1', '4.2.2.2']) {
    assert.equal(section(bytes, root, spec)?.trim(), `This part specifier should be: ${spec}`, spec);
  }
  assert.match(section(bytes, root, '3.HEADER') ?? '', /^From: .*Subject: This part specifier should be: 3\n.*\n\n$/s);
  assert.match(section(bytes, root, '4.2.HEADER') ?? '', /Subject: This part specifier should be: 4.2\n/);
  assert.match(section(bytes, root, '4.2.TEXT') ?? '', /^--4\.2\.x\n.*--4\.2\.x--\n$/s);
  assert.equal(section(bytes, root, '4.2.2.1.MIME'), 'Content-Type: TEXT/PLAIN\n\n');
  const whole = `${section(bytes, root, '3.HEADER')}${section(bytes, root, '3.TEXT')}`;
  assert.equal(section(bytes, root, '3'), whole, 'a message part is its header and text');
  assert.equal(findPart(root, [4, 2])?.subtype, 'rfc822');
  assert.equal(findPart(root, [4, 2, 2])?.subtype, 'alternative');
  for (const missing of [[], [0], [5], [1, 1], [4, 3], [4, 2, 3], [1.5], [-1]]) {
    assert.equal(findPart(root, missing), null, String(missing));
  }
  assert.equal(section(bytes, root, '1.HEADER'), null, 'HEADER of a non-message part');
  assert.equal(section(bytes, root, 'MIME'), null);
});

test('part 1 of a non-multipart message is its body; HEADER/TEXT/whole message', () => {
  const bytes = crlf('Subject: x\n\nbody\n');
  const { root } = analyzeMessage(bytes);
  assert.equal(findPart(root, [1]), root);
  assert.equal(findPart(root, [2]), null);
  assert.equal(section(bytes, root, '1'), 'body\r\n');
  assert.equal(section(bytes, root, 'HEADER'), 'Subject: x\r\n\r\n');
  assert.equal(section(bytes, root, 'TEXT'), 'body\r\n');
  assert.equal(section(bytes, root, ''), bytes.toString('latin1'));
  const wrapped = crlf('Content-Type: message/rfc822\n\nSubject: in\n\ninner\n');
  const w = analyzeMessage(wrapped).root;
  assert.equal(section(wrapped, w, '1.1'), 'inner\r\n', 'inside a message part, 1 is the encapsulated body');
  assert.equal(section(wrapped, w, '1.HEADER'), 'Subject: in\r\n\r\n');
});

test('decoded headers, search text and Date', () => {
  const msg = crlf(
    [
      'From: =?utf-8?Q?J=C3=B6rg?= <j@example.de>',
      'Subject: =?iso-8859-1?Q?caf=E9?=',
      '  folded',
      'Date: Tue, 1 Jul 2003 10:52:37 +0200',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=FC=DFe',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('<p>Hällo</p>').toString('base64'),
      '--b',
      'Content-Type: application/octet-stream',
      '',
      'not text',
      '--b',
      'Content-Type: message/rfc822',
      '',
      'Subject: =?utf-8?Q?inner_=C3=A9?=',
      '',
      'inner body',
      '--b--',
      '',
    ].join('\n'),
  );
  const a = analyzeMessage(msg);
  assert.deepEqual(a.headers, [
    ['from', 'Jörg <j@example.de>'],
    ['subject', 'café  folded'],
    ['date', 'Tue, 1 Jul 2003 10:52:37 +0200'],
    ['content-type', 'multipart/mixed; boundary=b'],
  ]);
  assert.equal(a.sentDate, Date.UTC(2003, 6, 1, 8, 52, 37));
  assert.equal(a.bodyText, ['Grüße', '<p>Hällo</p>', 'Subject: inner é', 'inner body'].join('\n'));
  assert.equal(analyzeMessage(crlf('Date: someday\n\nx')).sentDate, null);
  assert.equal(analyzeMessage(crlf('Subject: x\n\nx')).sentDate, null);
});

test('search text and decoded headers stop at their limits', () => {
  const body = 'abcdefghij'.repeat(1000);
  const msg = crlf(`Subject: ${'s'.repeat(500)}\nX-A: ${'t'.repeat(500)}\n\n${body}`);
  const a = analyzeMessage(msg, { maxBodyText: 100, maxHeaderText: 600 });
  assert.equal(a.bodyText, body.slice(0, 100));
  assert.deepEqual(
    a.headers.map(([n, v]) => [n, v.length]),
    [
      ['subject', 500],
      ['x-a', 100],
    ],
  );
});

test('nesting deeper than the limit becomes an opaque part', () => {
  let deep = 'Content-Type: text/plain\n\ndeepest\n';
  for (let i = 6; i > 0; i--) deep = `Content-Type: multipart/mixed; boundary=l${i}\n\n--l${i}\n${deep}--l${i}--\n`;
  const bytes = crlf(deep);
  const a = analyzeMessage(bytes, { maxDepth: 3 });
  let p: PartIndex = a.root;
  for (let d = 0; d < 3; d++) {
    assert.equal(p.type, 'multipart', `depth ${d}`);
    p = p.parts?.[0] as PartIndex;
  }
  assert.deepEqual([p.type, p.subtype, p.parts], ['application', 'octet-stream', undefined]);
  assert.match(bytes.subarray(p.bs, p.be).toString(), /^--l4\r\n.*deepest.*--l6--\r\n--l5--\r\n--l4--$/s, 'its body is opaque');
  assert.match(a.bodyStructure.toString(), /\("application" "octet-stream" \("boundary" "l4"\) NIL NIL "7bit" \d+ NIL NIL NIL NIL\)/);
});

test('parts beyond the limit stay inside the last part', () => {
  const parts = Array.from({ length: 10 }, (_, i) => `--b\n\npart ${i}\n`).join('');
  const bytes = crlf(`Content-Type: multipart/mixed; boundary=b\n\n${parts}--b--\n`);
  const a = analyzeMessage(bytes, { maxParts: 4 });
  assert.equal(a.root.parts?.length, 3, 'the message and three parts');
  const last = a.root.parts?.[2] as PartIndex;
  assert.match(bytes.subarray(last.bs, last.be).toString(), /^part 2\r\n--b\r\n.*part 9\r\n--b--\r\n$/s);
  assert.equal(last.be, bytes.length);
});

test('oversized headers are parsed only up to the cap', () => {
  const a = analyzeMessage(crlf(`Subject: ${'x'.repeat(5000)}\nContent-Type: text/html\n\nbody`), { maxHeaderBytes: 1000 });
  assert.equal(a.root.subtype, 'plain', 'Content-Type beyond the cap is not seen');
  assert.equal(a.root.bs, 5000 + 'Subject: \r\nContent-Type: text/html\r\n\r\n'.length, 'offsets still exact');
});

test('the analyzer never throws and stays consistent on arbitrary input', () => {
  const token = fc.constantFrom(
    '--b\r\n',
    '--b--\r\n',
    '--c\n',
    '\r\n',
    '\n',
    'text\r\n',
    '\x00\xff',
    ' folded\r\n',
    'From: a@b, <x\n',
    'Content-Type: multipart/mixed; boundary=b\r\n',
    'Content-Type: message/rfc822\n',
    'Content-Type: multipart/digest; boundary="c"\n',
    'Subject: =?utf-8?B?w6k=?=\n',
  );
  fc.assert(
    fc.property(fc.array(fc.oneof(token, fc.string()), { maxLength: 60 }), (pieces) => {
      const bytes = Buffer.from(pieces.join(''), 'latin1');
      const a = analyzeMessage(bytes, { maxParts: 20, maxDepth: 5 });
      assert.equal(a.root.be, bytes.length);
      const walk = (p: PartIndex): void => {
        assert.ok(p.hs <= p.bs && p.bs <= p.be && p.be <= bytes.length);
        p.parts?.forEach(walk);
      };
      walk(a.root);
    }),
    { numRuns: 500 },
  );
});

test("streaming keeps no reference to the caller's chunks and memory stays bounded", () => {
  const msg = fs.readFileSync(path.join(FIXTURES, 'hand/nested-rfc822-two-levels.eml'));
  const scratch = Buffer.alloc(7);
  const a = new MessageAnalyzer();
  for (let i = 0; i < msg.length; i += 7) {
    const n = msg.copy(scratch, 0, i, i + 7);
    a.write(scratch.subarray(0, n));
    scratch.fill(0x41); // the caller reuses its buffer
  }
  assert.deepEqual(a.end(), analyzeMessage(msg));

  const line = Buffer.from(`${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVph'.repeat(2)}\r\n`);
  const chunk = Buffer.concat(Array.from({ length: 1000 }, () => line));
  const big = new MessageAnalyzer();
  big.write(crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n'));
  const before = process.memoryUsage();
  let total = 0;
  while (total < 64 * 1024 * 1024) {
    big.write(chunk);
    total += chunk.length;
  }
  const r = big.end();
  const after = process.memoryUsage();
  const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  assert.ok(grown < 32 * 1024 * 1024, `memory grew by ${grown} bytes for 64 MiB streamed`);
  assert.equal(r.root.be, total + r.root.parts![0]!.bs);
  assert.equal(r.bodyText.length, 256 * 1024);
});

test('write after end is a programming error; end is idempotent', () => {
  const a = new MessageAnalyzer();
  a.write(Buffer.from('Subject: x\r\n\r\n'));
  const r = a.end();
  assert.equal(a.end(), r);
  assert.throws(() => a.write(Buffer.from('more')));
});
