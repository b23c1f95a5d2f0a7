import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAnalysis, encodeAnalysis } from '../src/store/shared/analysis-codec.js';
import { applyFlagOp, flagList, keywordsFromText, keywordsToText, MAX_KEYWORDS, parseFlags } from '../src/store/shared/flags.js';
import { StoreError } from '../src/store/types.js';
import { fakeAnalysis, message } from './store-fixtures.js';

describe('flags', () => {
  it('canonicalizes system flags, keeps keyword case, dedupes case-insensitively, drops \\Recent', () => {
    const set = parseFlags(['\\SEEN', '$Junk', '\\draft', '$junk', '\\Recent', 'Work', '\\seen']);
    assert.deepEqual(flagList(set.system, keywordsToText(set.keywords)), ['\\Seen', '\\Draft', '$Junk', 'Work']);
  });

  it('reports system flags in canonical order', () => {
    const set = parseFlags(['\\Draft', '\\Deleted', '\\Flagged', '\\Answered', '\\Seen']);
    assert.deepEqual(flagList(set.system, ''), ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft']);
  });

  it('rejects names that would break the stored form', () => {
    for (const bad of ['', 'a b', 'a\tb', 'x\r\n']) {
      assert.throws(
        () => parseFlags([bad]),
        (e: unknown) => e instanceof StoreError && e.code === 'CANNOT',
      );
    }
  });

  it('bounds the number of keywords', () => {
    const many = Array.from({ length: MAX_KEYWORDS + 1 }, (_, i) => `k${i}`);
    assert.throws(
      () => parseFlags(many),
      (e: unknown) => e instanceof StoreError && e.code === 'LIMIT',
    );
    const full = parseFlags(many.slice(0, MAX_KEYWORDS));
    assert.throws(
      () => applyFlagOp(full, 'add', parseFlags(['one-more'])),
      (e: unknown) => e instanceof StoreError && e.code === 'LIMIT',
    );
  });

  it('applies add / remove / set and reports no-ops as null', () => {
    const cur = parseFlags(['\\Seen', 'Foo']);
    assert.equal(applyFlagOp(cur, 'add', parseFlags(['\\seen', 'foo'])), null);
    assert.deepEqual(applyFlagOp(cur, 'add', parseFlags(['\\Flagged', 'bar'])), parseFlags(['\\Seen', '\\Flagged', 'Foo', 'bar']));
    assert.deepEqual(applyFlagOp(cur, 'remove', parseFlags(['FOO'])), parseFlags(['\\Seen']));
    assert.equal(applyFlagOp(cur, 'remove', parseFlags(['\\Deleted', 'nope'])), null);
    assert.equal(applyFlagOp(cur, 'set', parseFlags(['foo', '\\SEEN'])), null);
    assert.deepEqual(applyFlagOp(cur, 'set', parseFlags([])), { system: 0, keywords: [] });
  });

  it('round-trips keyword text', () => {
    assert.deepEqual(keywordsFromText(''), []);
    assert.deepEqual(keywordsFromText(keywordsToText(['a', '$B'])), ['a', '$B']);
  });
});

describe('analysis codec', () => {
  it('round-trips buffers byte for byte (not as number arrays)', () => {
    const analysis = fakeAnalysis(message('hi'));
    const text = encodeAnalysis(analysis);
    assert.ok(!text.includes('"type":"Buffer"'));
    const back = decodeAnalysis(text);
    assert.ok(Buffer.isBuffer(back.envelope));
    assert.deepEqual(back, analysis);
  });
});
