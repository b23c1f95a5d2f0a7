import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FsBlobStore } from '../src/store/blobs/fs-blob-store.js';
import { StoreError } from '../src/store/types.js';
import { tempDir } from './store-fixtures.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('FsBlobStore', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let blobs: FsBlobStore;
  beforeEach(async () => {
    const t = await tempDir();
    root = join(t.dir, 'blobs');
    cleanup = t.cleanup;
    blobs = await FsBlobStore.open(root);
  });
  afterEach(() => cleanup());

  it('stores bytes under <2 hex>/<sha256> and leaves no temp file', async () => {
    const bytes = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const staged = await blobs.put(bytes);
    assert.deepEqual(staged, { blobId: sha(bytes), size: bytes.length });
    assert.deepEqual(await readFile(join(root, staged.blobId.slice(0, 2), staged.blobId)), bytes);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  it('reads several ranges in the order asked', async () => {
    const a = await blobs.put(Buffer.from('0123456789'));
    const b = await blobs.put(Buffer.from('abcdefghij'));
    const got = await blobs.readRanges([
      { blobId: b.blobId, start: 2, end: 5 },
      { blobId: a.blobId, start: 7 },
      { blobId: b.blobId, start: 0, end: 0 },
    ]);
    assert.deepEqual(got.map(String), ['cde', '789', '']);
    await assert.rejects(blobs.readRanges([{ blobId: '0'.repeat(64), start: 0 }]), (e) => e instanceof StoreError && e.code === 'NONEXISTENT');
  });

  it('reads small ranges into the arena it is given, in order, and the rest on their own', async () => {
    const a = await blobs.put(Buffer.from('0123456789'));
    const b = await blobs.put(Buffer.from('abcdefghij'));
    const arena = Buffer.alloc(20, 0x2e);
    const asked = [
      { blobId: b.blobId, start: 2, end: 5 },
      { blobId: a.blobId, start: 6, end: 14 }, // past the end of the blob: cut to what it holds
      { blobId: b.blobId, start: 0, end: 10 }, // 10 octets, 9 left in the arena
      { blobId: a.blobId, start: 7 }, // open-ended: never into the arena
    ];
    const got = await blobs.readRanges(asked, arena);
    assert.deepEqual(got.map(String), ['cde', '6789', 'abcdefghij', '789']);
    // The first two are views of the arena, one after the other.
    assert.equal(got[0]!.buffer, arena.buffer);
    assert.equal(got[1]!.buffer, arena.buffer);
    assert.equal(arena.subarray(0, 7).toString(), 'cde6789');
    assert.notEqual(got[2]!.buffer, arena.buffer);
    const missing = (e: unknown) => e instanceof StoreError && e.code === 'NONEXISTENT';
    await assert.rejects(blobs.readRanges([{ blobId: '0'.repeat(64), start: 0, end: 4 }], arena), missing);
    await assert.rejects(blobs.readRanges([{ blobId: '../etc/passwd', start: 0, end: 4 }], arena), missing);
    await assert.rejects(blobs.readRanges([{ blobId: a.blobId, start: 4, end: 3 }], arena), RangeError);
  });

  it('deduplicates identical content', async () => {
    const bytes = Buffer.from('same bytes');
    const a = await blobs.put(bytes);
    const b = await blobs.put(Buffer.from(bytes));
    assert.equal(a.blobId, b.blobId);
    assert.deepEqual(await readdir(join(root, a.blobId.slice(0, 2))), [a.blobId]);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  it('streams chunks with backpressure and hashes all of them', async () => {
    const writer = blobs.createWriter(10 * 1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sawFalse = false;
    const all: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const piece = Buffer.from(chunk);
      piece[0] = i;
      all.push(piece);
      if (!writer.write(piece)) {
        sawFalse = true;
        await writer.drained();
      }
    }
    assert.ok(sawFalse, 'write() must ask for backpressure when much is queued');
    const staged = await writer.finish();
    const whole = Buffer.concat(all);
    assert.equal(staged.blobId, sha(whole));
    assert.equal(staged.size, whole.length);
    assert.ok((await blobs.read(staged.blobId)).equals(whole));
  });

  it('rejects a blob over maxSize with LIMIT and removes the temp file', async () => {
    const writer = blobs.createWriter(10);
    writer.write(Buffer.from('12345'));
    writer.write(Buffer.from('678901'));
    writer.write(Buffer.from('more'));
    await assert.rejects(writer.finish(), (e: unknown) => e instanceof StoreError && e.code === 'LIMIT');
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.deepEqual((await readdir(root)).sort(), ['tmp']);
  });

  it('accepts exactly maxSize bytes', async () => {
    const writer = blobs.createWriter(4);
    writer.write(Buffer.from('abcd'));
    assert.equal((await writer.finish()).size, 4);
  });

  it('abort discards the staged bytes; writing afterwards throws', async () => {
    const writer = blobs.createWriter(100);
    writer.write(Buffer.from('abc'));
    await writer.abort();
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.throws(() => writer.write(Buffer.from('x')));
  });

  it('reads and streams [start, end) ranges (end exclusive)', async () => {
    const bytes = Buffer.from('0123456789');
    const { blobId } = await blobs.put(bytes);
    assert.equal((await blobs.read(blobId, 2, 5)).toString(), '234');
    assert.equal((await blobs.read(blobId, 7)).toString(), '789');
    assert.equal((await blobs.read(blobId, 8, 100)).toString(), '89');
    assert.equal((await blobs.read(blobId, 3, 3)).length, 0);
    assert.equal((await collect(blobs.createReadStream(blobId, 2, 5))).toString(), '234');
    assert.equal((await collect(blobs.createReadStream(blobId))).toString(), '0123456789');
    assert.equal((await collect(blobs.createReadStream(blobId, 9))).toString(), '9');
    assert.equal((await collect(blobs.createReadStream(blobId, 4, 4))).length, 0);
    assert.throws(() => blobs.createReadStream(blobId, 5, 4), RangeError);
  });

  it('never turns a malformed id into a path', async () => {
    assert.throws(() => blobs.createReadStream('../../etc/passwd'), StoreError);
    await assert.rejects(blobs.read('A'.repeat(64)), StoreError);
    await assert.rejects(blobs.read('0'.repeat(64)), (e: unknown) => e instanceof StoreError && e.code === 'NONEXISTENT');
  });

  it('sweeps temp files of dead processes and stale ones, not live ones', async () => {
    const tmp = join(root, 'tmp');
    // A pid above the kernel maximum cannot be alive.
    await writeFile(join(tmp, '4194305-dead'), 'x');
    await writeFile(join(tmp, `${process.pid}-live`), 'x');
    await writeFile(join(tmp, `${process.pid}-old`), 'x');
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    await utimes(join(tmp, `${process.pid}-old`), dayAgo, dayAgo);
    assert.equal(await blobs.sweepTemp(), 2);
    assert.deepEqual(await readdir(tmp), [`${process.pid}-live`]);
  });

  it('removeSync deletes a file and tolerates a missing one', async () => {
    const { blobId } = await blobs.put(Buffer.from('bye'));
    assert.ok(blobs.existsSync(blobId));
    blobs.removeSync(blobId);
    assert.ok(!existsSync(blobs.pathOf(blobId)));
    blobs.removeSync(blobId);
  });
});
