/**
 * ResponseBatch (imap/wire/response-batch.ts): the bytes come out in order and
 * unchanged, small pieces are joined, large values are passed on uncopied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseBatch } from '../src/net/response-batch.js';

test('text and bytes come out in order, small ones joined, large ones uncopied', () => {
  const out = new ResponseBatch();
  const small = Buffer.from('("envelope")');
  const large = Buffer.alloc(64 * 1024, 'x');
  out.add('* 1 FETCH (ENVELOPE ');
  out.addBytes(small);
  out.add(' BODY[] {65536}\r\n');
  out.addBytes(large);
  out.addBytes(Buffer.alloc(0));
  out.add(' SUBJECT "Grüße")\r\n');
  const pieces = out.take();
  assert.equal(pieces.length, 3);
  assert.equal(pieces[0]!.toString(), '* 1 FETCH (ENVELOPE ("envelope") BODY[] {65536}\r\n');
  assert.equal(pieces[1], large, 'the large value itself, not a copy');
  assert.deepEqual(pieces[2], Buffer.from(' SUBJECT "Grüße")\r\n', 'utf8'));
  assert.deepEqual(out.take(), [], 'take() empties the batch');
});
