/**
 * The I/O-free parts of LMTP delivery, against naive models at random chunk
 * boundaries (fast-check): DATA's dot-unstuffing and end-of-data detection,
 * the command-line input, and composite blobs — their bytes by any range and
 * their derived analysis, which must equal analysing the composed bytes, for
 * trace lines in front and for a header edited by Sieve (RFC 5293) in place
 * of the message's.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DotDecoder } from '../src/lmtp/wire/dot-decoder.js';
import { LineBuffer } from '../src/net/line-buffer.js';
import { analyzeMessage, DEFAULT_LIMITS } from '../src/mime/analyze.js';
import type { MessageAnalysis } from '../src/mime/types.js';
import { FsBlobStore } from '../src/store/blobs/fs-blob-store.js';
import { composablePrefix, composedAnalysis, sameStructureFields } from '../src/store/composite-analysis.js';
import { DEFAULT_SIEVE_LIMITS } from '../src/sieve/limits.js';
import { SieveMessage } from '../src/sieve/message.js';
import { tempDir } from './store-fixtures.js';

/** Splits bytes at the given cut points. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  return out;
}

/** RFC 5321 §4.5.2 the simple way: a dot before every line that starts with one (lines end in CRLF only). */
function stuff(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
}

/** Message bytes heavy in the characters that matter: CR, LF, '.', plus anything. */
const messageBytes = fc
  .array(fc.oneof(fc.constantFrom('\r\n', '.', '\r', '\n', '..', '\r\n.\r', 'x'), fc.string({ maxLength: 4 })), { maxLength: 60 })
  .map((parts) => Buffer.from(`${parts.join('')}\r\n`, 'latin1'));

function decodeAll(chunks: Buffer[]): { data: Buffer; rest: Buffer | null } {
  const d = new DotDecoder();
  const data: Buffer[] = [];
  let rest: Buffer | null = null;
  for (const c of chunks) {
    if (rest !== null) {
      rest = Buffer.concat([rest, c]);
      continue;
    }
    const r = d.push(c);
    data.push(...r.data);
    if (r.rest !== null) rest = Buffer.from(r.rest);
  }
  return { data: Buffer.concat(data), rest };
}

describe('DotDecoder', () => {
  it('round-trips stuffed messages split anywhere and hands back what follows the end', () => {
    fc.assert(
      fc.property(messageBytes, fc.array(fc.nat(), { maxLength: 8 }), (message, cuts) => {
        const wire = Buffer.concat([stuff(message), Buffer.from('.\r\nQUIT\r\n')]);
        const { data, rest } = decodeAll(split(wire, cuts));
        assert.deepEqual(data, message);
        assert.deepEqual(rest, Buffer.from('QUIT\r\n'));
      }),
      { numRuns: 2000 },
    );
  });

  it('ends only at <CRLF>.<CRLF> (never <LF>.<LF>), and an immediate "." is an empty message', () => {
    assert.deepEqual(decodeAll([Buffer.from('.\r\nNEXT')]), { data: Buffer.alloc(0), rest: Buffer.from('NEXT') });
    const smuggle = decodeAll([Buffer.from('a\n.\nb\r\n.\r\n')]);
    assert.deepEqual(smuggle.data, Buffer.from('a\n.\nb\r\n'));
    assert.deepEqual(decodeAll([Buffer.from('a\r'), Buffer.from('\n'), Buffer.from('.'), Buffer.from('\r'), Buffer.from('\n')]).data, Buffer.from('a\r\n'));
    assert.equal(decodeAll([Buffer.from('a\r\n.\r')]).rest, null, 'not ended yet');
  });
});

describe('LineBuffer (LMTP commands and data)', () => {
  it('splits command lines and hands raw bytes around them in order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 6 }), (cuts) => {
        const wire = Buffer.from('LHLO x\r\nBDAT 5\r\nAB\r\nCRSET\nNOOP\r\n');
        const input = new LineBuffer(100);
        const seen: string[] = [];
        const pending = split(wire, cuts);
        const feed = (): boolean => {
          const next = pending.shift();
          if (next) input.push(next);
          return next !== undefined;
        };
        const line = (): string => {
          for (;;) {
            const ev = input.nextLine();
            if (ev) return ev.type === 'line' ? ev.bytes.toString() : 'TOO-LONG';
            if (!feed()) return 'EOF';
          }
        };
        seen.push(line(), line());
        let chunk = Buffer.alloc(0);
        while (chunk.length < 5) {
          chunk = Buffer.concat([chunk, input.take(5 - chunk.length)]);
          if (chunk.length < 5) assert.ok(feed());
        }
        seen.push(chunk.toString(), line(), line(), line());
        assert.deepEqual(seen, ['LHLO x', 'BDAT 5', 'AB\r\nC', 'RSET', 'NOOP', 'EOF']);
      }),
    );
  });

  it('reports an over-long line once and resynchronises after it', () => {
    const input = new LineBuffer(10);
    input.push(Buffer.from('A'.repeat(25)));
    assert.deepEqual(input.nextLine(), { type: 'too-long' });
    input.push(Buffer.from('AAAA\r\nNOOP\r\n'));
    assert.deepEqual(input.nextLine(), { type: 'line', bytes: Buffer.from('NOOP') });
    input.unshift(Buffer.from('RSET\r\n'));
    assert.deepEqual(input.nextLine(), { type: 'line', bytes: Buffer.from('RSET') });
  });
});

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/mime');
function listMessages(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listMessages(p) : /\.(eml|txt|msg)$/.test(e.name) ? [p] : [];
  });
}

describe('composite blobs', () => {
  const prefix = Buffer.from('Return-Path: <sender@example.org>\r\nDelivered-To: =?UTF-8?Q?j=C3=B6rg?=+box@example.com\r\n');

  it('derive the same analysis as analysing prefix + message, for every fixture message', () => {
    const files = listMessages(FIXTURES);
    assert.ok(files.length > 100, `fixtures found: ${files.length}`);
    let checked = 0;
    for (const file of files) {
      const base = fs.readFileSync(file);
      if (!composablePrefix(base[0])) continue;
      const whole = analyzeMessage(Buffer.concat([prefix, base]));
      const derived = composedAnalysis(analyzeMessage(base), prefix);
      const name = path.relative(FIXTURES, file);
      assert.deepEqual({ ...derived, headers: [] }, { ...whole, headers: [] }, name);
      // The header-text cap applies to the base alone (composite-analysis.ts): compare headers below it.
      const chars = whole.headers.reduce((n, [, v]) => n + v.length, 0);
      if (chars < DEFAULT_LIMITS.maxHeaderText) assert.ok(isDeepStrictEqual(derived.headers, whole.headers), `${name}: headers`);
      else assert.ok(isDeepStrictEqual(derived.headers.slice(0, 2), whole.headers.slice(0, 2)), `${name}: prefix headers`);
      checked++;
    }
    assert.ok(checked > 100);
  });

  it('derive the same analysis for random messages, empty and header-less ones included', () => {
    const line = fc.oneof(
      fc.constantFrom('Subject: x', 'Content-Type: multipart/mixed; boundary=z', '--z', '--z--', '', 'Date: Tue, 2 Jan 2024 00:00:00 +0000', 'To: a@b'),
      fc.string({ maxLength: 10 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('\r\n', '\n'), (lines, eol) => {
        const base = Buffer.from(lines.join(eol), 'latin1');
        fc.pre(composablePrefix(base[0]));
        assert.deepEqual(composedAnalysis(analyzeMessage(base), prefix), analyzeMessage(Buffer.concat([prefix, base])));
      }),
      { numRuns: 1000 },
    );
  });

  /** The header editheader makes of `base` (a field added on top, Subject deleted), with trace lines in front. */
  function editedHeader(base: Buffer, analysis: MessageAnalysis): Buffer {
    const message = new SieveMessage(base, { ...DEFAULT_SIEVE_LIMITS }, analysis.root);
    message.addHeader('X-Sieve-Filtered', 'yes, by the rules', false);
    message.deleteHeader('subject', () => true);
    return Buffer.concat([prefix, message.headerBytes()]);
  }

  /** Checks a header composite's derived analysis against analysing its bytes; false when the edit changed the structure fields. */
  function checkEdited(base: Buffer, name: string): boolean {
    const analysis = analyzeMessage(base);
    const head = editedHeader(base, analysis);
    const from = analysis.root.bs;
    if (!sameStructureFields(base.subarray(0, from), head)) return false;
    const whole = analyzeMessage(Buffer.concat([head, base.subarray(from)]));
    const derived = composedAnalysis(analysis, head, from);
    assert.deepEqual({ ...derived, headers: [] }, { ...whole, headers: [] }, name);
    assert.ok(isDeepStrictEqual(derived.headers, whole.headers), `${name}: headers`);
    return true;
  }

  it('derive the same analysis as analysing an edited header + the body, for every fixture message', () => {
    let checked = 0;
    for (const file of listMessages(FIXTURES)) if (checkEdited(fs.readFileSync(file), path.relative(FIXTURES, file))) checked++;
    assert.ok(checked > 100, `checked: ${checked}`);
  });

  it('derive the same analysis for random messages with an edited header', () => {
    const line = fc.oneof(
      fc.constantFrom('Subject: x', 'Content-Type: multipart/mixed; boundary=z', '--z', '--z--', '', 'Date: Tue, 2 Jan 2024 00:00:00 +0000', ' folded'),
      fc.string({ maxLength: 10 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('\r\n', '\n'), (lines, eol) => {
        fc.pre(checkEdited(Buffer.from(lines.join(eol), 'latin1'), lines.join('|')));
      }),
      { numRuns: 1000 },
    );
  });

  it('tell an edit of the MIME structure fields from one that leaves them', () => {
    const header = Buffer.from('Subject: a\r\nContent-Type: text/plain;\r\n charset=utf-8\r\nMIME-Version: 1.0\r\n\r\n');
    assert.ok(sameStructureFields(header, Buffer.from('X-New: 1\r\ncontent-type: text/plain;\r\n charset=utf-8\r\nMIME-Version: 1.0\r\n\r\n')));
    assert.ok(!sameStructureFields(header, Buffer.from('Content-Type: text/plain;\r\n charset=utf-8\r\n\r\n')), 'MIME-Version deleted');
    assert.ok(!sameStructureFields(header, Buffer.from('Content-Type: text/html\r\nContent-Type: text/plain;\r\n charset=utf-8\r\nMIME-Version: 1.0\r\n\r\n')));
  });

  it('read as prefix + base from an offset by any range, flattening composites of composites', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const blobs = await FsBlobStore.open(path.join(dir, 'blobs'));
      const bytes = Buffer.from('Subject: s\r\n\r\nbody bytes\r\n');
      const base = await blobs.put(bytes);
      const header = Buffer.from('Subject: edited\r\n\r\n');
      const staged = await blobs.putComposite(header, base, 13);
      const whole = Buffer.concat([header, bytes.subarray(13)]);
      assert.equal(staged.blobId, createHash('sha256').update(whole).digest('hex'));
      assert.equal(staged.size, whole.length);
      assert.deepEqual(staged.composite, { prefix: header, base, baseFrom: 13 });
      // Into the prefix of a composite, and past it into its base.
      const inner = await blobs.putComposite(Buffer.from('X: 1\r\n'), staged, 3);
      assert.deepEqual(inner.composite, { prefix: Buffer.from('X: 1\r\nject: edited\r\n\r\n'), base, baseFrom: 13 });
      const past = await blobs.putComposite(Buffer.alloc(0), staged, header.length + 2);
      assert.deepEqual(past.composite, { prefix: Buffer.alloc(0), base, baseFrom: 15 });
      await assert.rejects(blobs.putComposite(header, base, bytes.length + 1), RangeError);
      blobs.setCompositeSource((id) => (id === staged.blobId ? { baseId: base.blobId, prefix: header, baseFrom: 13 } : null));
      await fc.assert(
        fc.asyncProperty(fc.nat(whole.length + 5), fc.nat(whole.length + 5), async (a, b) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          assert.deepEqual(await blobs.read(staged.blobId, start, end), whole.subarray(start, end));
          const chunks: Buffer[] = [];
          for await (const c of blobs.createReadStream(staged.blobId, start, end)) chunks.push(c as Buffer);
          assert.deepEqual(Buffer.concat(chunks), whole.subarray(start, end));
        }),
        { numRuns: 200 },
      );
      assert.deepEqual(await blobs.read(staged.blobId), whole);
    } finally {
      await cleanup();
    }
  });

  it('read as prefix + base by any range, with the SHA-256 of those bytes as id', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const blobs = await FsBlobStore.open(path.join(dir, 'blobs'));
      const base = await blobs.put(Buffer.from('Subject: s\r\n\r\nbody bytes\r\n'));
      const staged = await blobs.putComposite(prefix, base);
      const whole = Buffer.concat([prefix, await blobs.read(base.blobId)]);
      assert.equal(staged.blobId, createHash('sha256').update(whole).digest('hex'));
      assert.equal(staged.size, whole.length);
      // Composites of composites flatten onto the plain base.
      const twice = await blobs.putComposite(Buffer.from('X-Outer: 1\r\n'), staged);
      assert.equal(twice.composite?.base.blobId, base.blobId);
      assert.deepEqual(twice.composite?.prefix, Buffer.concat([Buffer.from('X-Outer: 1\r\n'), prefix]));
      // Reads find the parts through the source the store attaches.
      blobs.setCompositeSource((id) => (id === staged.blobId ? { baseId: base.blobId, prefix, baseFrom: 0 } : null));
      await fc.assert(
        fc.asyncProperty(fc.nat(whole.length + 5), fc.nat(whole.length + 5), async (a, b) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          assert.deepEqual(await blobs.read(staged.blobId, start, end), whole.subarray(start, end));
          const chunks: Buffer[] = [];
          for await (const c of blobs.createReadStream(staged.blobId, start, end)) chunks.push(c as Buffer);
          assert.deepEqual(Buffer.concat(chunks), whole.subarray(start, end));
          // FETCH's path: a composite has no file, so it is read on its own, not into the arena.
          const [ranged, plain] = await blobs.readRanges(
            [
              { blobId: staged.blobId, start, end },
              { blobId: base.blobId, start: 0, end: 4 },
            ],
            Buffer.alloc(whole.length + 4),
          );
          assert.deepEqual(ranged, whole.subarray(start, end));
          assert.equal(plain!.toString(), 'Subj');
        }),
        { numRuns: 200 },
      );
      assert.deepEqual(await blobs.read(staged.blobId), whole);
      await assert.rejects(blobs.read('0'.repeat(64)), /missing/);
    } finally {
      await cleanup();
    }
  });
});
