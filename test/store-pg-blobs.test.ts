/**
 * Message bytes in PostgreSQL (src/store/blobs/pg-blob-store.ts): streamed
 * staging in bounded chunks, content addressing, ranges, composites, and the
 * staging grace period that keeps the GC away from an APPEND in progress.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import type { AccountId, MailboxId } from '../src/ids.js';
import type { PgStore } from '../src/store/postgres/pg-store.js';
import { openPgStore } from '../src/store/postgres/pg-store.js';
import { StoreError } from '../src/store/types.js';
import type { TestDatabase } from './helpers/pg-database.js';
import { createTestDatabase, pgAvailable } from './helpers/pg-database.js';
import { analyzeMessage } from '../src/mime/analyze.js';
import { fakeAnalysis } from './store-fixtures.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const limit = (e: unknown) => e instanceof StoreError && e.code === 'LIMIT';

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Bytes that differ at every position (no accidental equality of ranges). */
function pattern(size: number, seed = 0): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return b;
}

const available = await pgAvailable();

describe('PgBlobStore', { skip: available ? false : 'no PostgreSQL test server' }, () => {
  let db: TestDatabase;
  let store: PgStore;
  let sql: pg.Client;
  const count = async (table: string) => Number((await sql.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

  before(async () => {
    db = await createTestDatabase();
    store = await openPgStore({ url: db.url });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  beforeEach(async () => {
    await sql.query('DELETE FROM messages; DELETE FROM expunged; DELETE FROM blobs; DELETE FROM blob_staging');
  });
  after(async () => {
    await store?.close();
    await sql?.end();
    await db?.drop();
  });

  it('stores a small buffer in one row under its SHA-256 and deduplicates it', async () => {
    const bytes = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const a = await store.blobs.put(bytes);
    const b = await store.blobs.put(Buffer.from(bytes));
    assert.deepEqual(a, { blobId: sha(bytes), size: bytes.length });
    assert.deepEqual(b, a);
    assert.equal(await count('blobs'), 1);
    assert.ok((await store.blobs.read(a.blobId)).equals(bytes));
    assert.ok(await store.blobs.exists(a.blobId));
  });

  it('streams a large body through staging rows with backpressure, then assembles it', async () => {
    const whole = pattern(3 * 1024 * 1024 + 123);
    const writer = store.blobs.createWriter(10 * 1024 * 1024);
    let sawFalse = false;
    for (let at = 0; at < whole.length; at += 64 * 1024) {
      if (!writer.write(whole.subarray(at, at + 64 * 1024))) {
        sawFalse = true;
        await writer.drained();
      }
    }
    assert.ok(sawFalse, 'write() must ask for backpressure when much is queued');
    assert.ok((await count('blob_staging')) > 0, 'chunks were staged before finish()');
    const staged = await writer.finish();
    assert.deepEqual(staged, { blobId: sha(whole), size: whole.length });
    assert.equal(await count('blob_staging'), 0, 'staging rows removed');
    assert.ok((await store.blobs.read(staged.blobId)).equals(whole));
    assert.ok((await collect(store.blobs.createReadStream(staged.blobId))).equals(whole));
    // One big write() is split into staging rows too.
    const writer2 = store.blobs.createWriter(whole.length);
    writer2.write(whole);
    assert.deepEqual(await writer2.finish(), staged);
    assert.equal(await count('blobs'), 1);
  });

  it('reads and streams [start, end) ranges, also across chunk boundaries', async () => {
    const whole = pattern(600 * 1024, 7);
    const { blobId } = await store.blobs.put(whole);
    for (const [start, end] of [
      [0, 10],
      [5, 5],
      [262_140, 262_150],
      [300_000, undefined],
      [600 * 1024 - 1, undefined],
      [600 * 1024 + 5, undefined],
      [100, 600 * 1024 + 99],
    ] as Array<[number, number | undefined]>) {
      const expected = whole.subarray(start, end);
      assert.ok((await store.blobs.read(blobId, start, end)).equals(expected), `read ${start}-${end}`);
      assert.ok((await collect(store.blobs.createReadStream(blobId, start, end))).equals(expected), `stream ${start}-${end}`);
    }
    assert.throws(() => store.blobs.createReadStream(blobId, 5, 4), RangeError);
    await assert.rejects(store.blobs.read(blobId, -1), RangeError);
  });

  it('reads many ranges of several blobs in one query, in the order asked', async () => {
    const a = pattern(300 * 1024, 1);
    const b = pattern(1000, 2);
    const [ida, idb] = [(await store.blobs.put(a)).blobId, (await store.blobs.put(b)).blobId];
    const asked = [
      { blobId: idb, start: 0 },
      { blobId: ida, start: 262_140, end: 262_150 },
      { blobId: ida, start: 5, end: 5 },
      { blobId: idb, start: 990, end: 2000 },
      { blobId: ida, start: 0, end: 300 * 1024 },
      { blobId: idb, start: 5000 },
    ];
    const queries: string[] = [];
    const pool = (store as unknown as { pool: pg.Pool }).pool;
    const query = pool.query.bind(pool);
    (pool as { query: unknown }).query = (text: string, values?: unknown[]) => (queries.push(text), query(text, values));
    try {
      const got = await store.blobs.readRanges(asked);
      assert.deepEqual(
        got.map((g) => g.toString('hex')),
        asked.map((r) => (r.blobId === ida ? a : b).subarray(r.start, r.end).toString('hex')),
      );
      assert.equal(queries.length, 1, 'one round trip for the window');
    } finally {
      (pool as { query: unknown }).query = query;
    }
    const missing = (e: unknown) => e instanceof StoreError && e.code === 'NONEXISTENT';
    await assert.rejects(
      store.blobs.readRanges([
        { blobId: ida, start: 0, end: 4 },
        { blobId: '0'.repeat(64), start: 0 },
      ]),
      missing,
    );
    await assert.rejects(store.blobs.readRanges([{ blobId: ida, start: 4, end: 3 }]), RangeError);
  });

  it('never queries a malformed id and reports a missing blob as NONEXISTENT', async () => {
    assert.throws(() => store.blobs.createReadStream("'; DROP TABLE blobs; --"), StoreError);
    await assert.rejects(store.blobs.read('A'.repeat(64)), StoreError);
    const missing = (e: unknown) => e instanceof StoreError && e.code === 'NONEXISTENT';
    await assert.rejects(store.blobs.read('0'.repeat(64)), missing);
    await assert.rejects(collect(store.blobs.createReadStream('0'.repeat(64))), missing);
  });

  it('rejects a body over maxSize with LIMIT and leaves nothing staged; accepts exactly maxSize', async () => {
    const writer = store.blobs.createWriter(300 * 1024);
    writer.write(pattern(200 * 1024));
    writer.write(pattern(200 * 1024));
    writer.write(Buffer.from('more'));
    await assert.rejects(writer.finish(), limit);
    assert.equal(await count('blob_staging'), 0);
    assert.equal(await count('blobs'), 0);
    const exact = store.blobs.createWriter(4);
    exact.write(Buffer.from('abcd'));
    assert.equal((await exact.finish()).size, 4);
  });

  it('abort discards staged chunks; writing afterwards throws; aborting a finished writer is harmless', async () => {
    const writer = store.blobs.createWriter(10 * 1024 * 1024);
    writer.write(pattern(1024 * 1024));
    await writer.abort();
    assert.equal(await count('blob_staging'), 0);
    assert.equal(await count('blobs'), 0);
    assert.throws(() => writer.write(Buffer.from('x')));
    const done = store.blobs.createWriter(100);
    done.write(Buffer.from('kept'));
    const staged = await done.finish();
    await done.abort();
    assert.ok(await store.blobs.exists(staged.blobId));
  });

  it('keeps a staged blob from the GC during its grace period, and collects it after', async () => {
    const bytes = Buffer.from('staged, not yet appended');
    const { blobId } = await store.blobs.put(bytes);
    await store.collectGarbage();
    assert.ok(await store.blobs.exists(blobId), 'an APPEND in progress keeps its blob');
    // A day later (an abandoned APPEND): garbage, like staging rows of a writer that died.
    await sql.query("UPDATE blobs SET staged_until = now() - interval '1 second'");
    await sql.query("INSERT INTO blob_staging (stage_id, seq, data, created_at) VALUES (gen_random_uuid(), 0, 'x', now() - interval '2 days')");
    await sql.query("INSERT INTO blob_staging (stage_id, seq, data) VALUES (gen_random_uuid(), 0, 'y')");
    await store.collectGarbage();
    assert.ok(!(await store.blobs.exists(blobId)));
    assert.equal(await count('blob_staging'), 1, "only the live writer's chunk stays");
  });

  it('serves a composite as prefix + base without copying the base, and derives its analysis', async () => {
    const base = pattern(400 * 1024, 3);
    const prefix = Buffer.from('Delivered-To: a@example.org\r\n');
    const baseBlob = await store.blobs.put(base);
    const composite = await store.blobs.putComposite(prefix, baseBlob);
    const whole = Buffer.concat([prefix, base]);
    assert.equal(composite.blobId, sha(whole));
    assert.equal(composite.size, whole.length);
    assert.equal(await count('blobs'), 1, 'nothing is stored before a message references it');
    // A composite of a composite is flattened onto the plain base.
    const outer = await store.blobs.putComposite(Buffer.from('Return-Path: <x@y>\r\n'), composite);
    assert.equal(outer.composite?.base.blobId, baseBlob.blobId);

    const account = await store.createAccount('composite', 'h');
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    const analysis = fakeAnalysis(Buffer.from('Subject: s\r\n\r\nbody\r\n'));
    await store.appendMessages(account.id as AccountId, inbox.id as MailboxId, [{ blob: composite, analysis, flags: [], internalDate: new Date() }]);
    assert.equal(Number((await sql.query('SELECT sum(length(data)) AS n FROM blobs')).rows[0].n), base.length, 'the base bytes are stored once');
    assert.ok((await store.blobs.read(composite.blobId)).equals(whole));
    for (const [start, end] of [
      [0, 5],
      [10, prefix.length + 10],
      [prefix.length, prefix.length + 3],
      [prefix.length + 1000, undefined],
      [0, undefined],
    ] as Array<[number, number | undefined]>) {
      assert.ok((await store.blobs.read(composite.blobId, start, end)).equals(whole.subarray(start, end)), `read ${start}-${end}`);
      assert.ok((await collect(store.blobs.createReadStream(composite.blobId, start, end))).equals(whole.subarray(start, end)));
    }
    const mixed = await store.blobs.readRanges([
      { blobId: composite.blobId, start: 10, end: prefix.length + 10 },
      { blobId: baseBlob.blobId, start: 1, end: 9 },
    ]);
    assert.ok(mixed[0]!.equals(whole.subarray(10, prefix.length + 10)), 'a composite in a batch is composed');
    assert.ok(mixed[1]!.equals(base.subarray(1, 9)));
    const derived = await store.getAnalysis(composite.blobId);
    assert.equal(derived?.root.bs, analysis.root.bs + prefix.length);
    assert.deepEqual(derived?.headers[0], ['delivered-to', 'a@example.org']);
    assert.deepEqual(await store.getAnalysis(baseBlob.blobId), analysis);
  });

  it('serves a composite from an offset into its base (an edited header over the shared body), with header facts of its own', async () => {
    const base = Buffer.concat([Buffer.from('Subject: original\r\nFrom: a@example.org\r\n\r\n'), pattern(300 * 1024, 5)]);
    const analysis = analyzeMessage(base);
    const baseBlob = await store.blobs.put(base);
    const header = Buffer.from('Return-Path: <a@example.org>\r\nSubject: edited\r\nFrom: a@example.org\r\n\r\n');
    const composite = await store.blobs.putComposite(header, baseBlob, analysis.root.bs);
    const whole = Buffer.concat([header, base.subarray(analysis.root.bs)]);
    assert.equal(composite.blobId, sha(whole));
    assert.deepEqual(composite.composite, { prefix: header, base: baseBlob, baseFrom: analysis.root.bs });
    const account = await store.createAccount('offset', 'h');
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    const append = (blob: typeof composite) => store.appendMessages(account.id, inbox.id, [{ blob, analysis, flags: [], internalDate: new Date() }]);
    await append(baseBlob);
    await append(composite);
    assert.equal(Number((await sql.query('SELECT sum(length(data)) AS n FROM blobs')).rows[0].n), base.length, 'the body is stored once');
    for (const [start, end] of [
      [0, 5],
      [10, header.length + 10],
      [header.length - 2, header.length + 3],
      [header.length + 1000, undefined],
      [0, undefined],
    ] as Array<[number, number | undefined]>) {
      assert.ok((await store.blobs.read(composite.blobId, start, end)).equals(whole.subarray(start, end)), `read ${start}-${end}`);
      assert.ok((await collect(store.blobs.createReadStream(composite.blobId, start, end))).equals(whole.subarray(start, end)));
    }
    assert.deepEqual(await store.getAnalysis(composite.blobId), analyzeMessage(whole));
    // SEARCH's stored facts: the base's describe the base's header, the composite's are saved for it alone.
    await store.saveHeaderFacts(new Map([[baseBlob.blobId, '{"v":99,"base":1}']]), 99);
    assert.deepEqual([...(await store.getHeaderFacts([baseBlob.blobId, composite.blobId])).keys()], [baseBlob.blobId]);
    await store.saveHeaderFacts(new Map([[composite.blobId, '{"v":99,"own":1}']]), 99);
    const facts = await store.getHeaderFacts([baseBlob.blobId, composite.blobId]);
    assert.equal(facts.get(baseBlob.blobId), '{"v":99,"base":1}');
    assert.equal(facts.get(composite.blobId), '{"v":99,"own":1}');
    // A new reference to the composite keeps its facts.
    await append(composite);
    assert.equal((await store.getHeaderFacts([composite.blobId])).get(composite.blobId), '{"v":99,"own":1}');
  });
});
