/**
 * The header facts record (src/mime/header-facts.ts) and its hot cache
 * (message-facts.ts): ingestion stores it beside the analysis; it round-trips
 * exactly for every MIME fixture; a SQLite database from before its facts
 * table gets it empty; and SORT, THREAD and header SEARCH answer the same over
 * the fixture corpus whether the facts were stored at ingestion (fast path),
 * are missing and derived from the analyses (a pre-migration database), or
 * come from the cache, rank tables and memoized threads of earlier commands.
 * Runs on SQLite and on PostgreSQL (MAILKEEP_TEST_STORE=postgres).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { analyzeMessage } from '../src/mime/analyze.js';
import { addressLists } from '../src/mime/envelope-addresses.js';
import { addressText, contentFacts, decodeHeaderFacts, encodeHeaderFacts, FACTS_VERSION, foldText, sentDay } from '../src/mime/header-facts.js';
import { dayNumber } from '../src/mime/calendar-day.js';
import { migrate, MIGRATIONS } from '../src/store/sqlite/schema.js';
import type { NewMessage } from '../src/store/types.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/mime');

function listMessages(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listMessages(p));
    else if (/\.(eml|txt|msg|ntx)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

const corpus = listMessages(FIXTURES).map((f) => fs.readFileSync(f));

describe('the stored form', () => {
  test('round-trips every fixture exactly (encoded words, lone surrogates in keys, folded fields)', () => {
    assert.ok(corpus.length > 150);
    for (const bytes of corpus) {
      const a = analyzeMessage(bytes);
      assert.deepEqual(decodeHeaderFacts(encodeHeaderFacts(a)), contentFacts(a));
    }
  });

  test('absent, malformed or of another version reads as absent', () => {
    const text = encodeHeaderFacts(analyzeMessage(Buffer.from('Subject: x\r\n\r\nbody\r\n')));
    assert.equal(decodeHeaderFacts(null), null);
    assert.equal(decodeHeaderFacts('{not json'), null);
    assert.equal(decodeHeaderFacts(text.replace(`"v":${FACTS_VERSION}`, `"v":${FACTS_VERSION - 1}`)), null);
    assert.equal(decodeHeaderFacts('null'), null);
  });
});

describe('sent day and addresses', () => {
  const analyze = (lines: string[]) => analyzeMessage(Buffer.from([...lines, '', 'x', ''].join('\r\n')));

  test('sentDay is the Date header day as written (RFC 9051 §6.4.4), null without a date', () => {
    assert.equal(sentDay(analyze(['Date: Sun, 25 Mar 2007 00:00:00 +0200'])), dayNumber(2007, 2, 25));
    assert.equal(sentDay(analyze(['Date: Sat, 24 Mar 2007 23:59:59 -0800'])), dayNumber(2007, 2, 24));
    assert.equal(sentDay(analyze(['Date: Mon, 26 Mar 2007 00:30:00 IST'])), dayNumber(2007, 2, 26), 'zone of unknown meaning');
    assert.equal(sentDay(analyze(['Subject: none'])), null);
    assert.equal(sentDay(analyze(['Date: soon'])), null);
    assert.equal(contentFacts(analyze(['Date: Sun, 25 Mar 2007 00:00:00 +0200'])).sentDay, dayNumber(2007, 2, 25));
  });

  test('sentDay trusts the kept header text only where it names the analysed instant', () => {
    const a = analyze(['Date: Sun, 25 Mar 2007 00:00:00 +0200']);
    // The text kept for SEARCH cut short (maxHeaderText): the instant's UTC day stands in.
    const cut = { ...a, headers: a.headers.map(([n, v]): [string, string] => [n, n === 'date' ? v.slice(0, 14) : v]) };
    assert.equal(sentDay(cut), dayNumber(2007, 2, 24));
    assert.equal(sentDay({ ...a, headers: [] }), dayNumber(2007, 2, 24));
  });

  test('addressText writes the envelope: comments and white space gone, names decoded, groups', () => {
    const text = (field: string) => addressText(addressLists(analyze([field]).envelope).from);
    assert.equal(text('From: <user-from (comment)@ (comment) domain.org>'), '<user-from@domain.org>');
    assert.equal(text('From: user-from@domain.org (RealFrom)'), 'RealFrom <user-from@domain.org>');
    assert.equal(
      text('From: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>, "Smith, John" <john . smith @ example . org>'),
      'Jörg <joerg@example.org>, Smith, John <john.smith@example.org>',
    );
    assert.equal(
      text('From: a@b.example, group: c@d.example, e@f.example;, empty: ;, g@h.example'),
      '<a@b.example>, group: <c@d.example>, <e@f.example>;, empty: ;, <g@h.example>',
    );
    assert.equal(text('Subject: no from'), '');
  });

  test("the facts keep a field's envelope text only where its raw text does not contain it", () => {
    const facts = contentFacts(analyze(['From: <user-from (comment)@ (comment) domain.org>', 'To: plain@example.org', 'Cc: Real <REAL@example.org>']));
    assert.deepEqual(facts.addresses, { from: [foldText('<user-from@domain.org>')], to: [foldText('<plain@example.org>')], cc: [], bcc: [] });
  });
});

describe('SQLite migration', () => {
  test('a database from before the facts table gets it empty: facts kept in the old column are derived again', () => {
    const hasTable = (db: Database.Database): boolean =>
      (db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'blob_facts'").pluck().get() as number) === 1;
    // Probe for the migration that adds the table (later ones may follow it).
    const probe = new Database(':memory:');
    let version = 0;
    while (!hasTable(probe)) migrate(probe, MIGRATIONS.slice(0, ++version));
    probe.close();
    const db = new Database(':memory:');
    migrate(db, MIGRATIONS.slice(0, version - 1));
    db.prepare("INSERT INTO blobs (blob_id, size, refcount, analysis, header_facts) VALUES ('old', 1, 0, '{}', '{\"v\":2}')").run();
    assert.deepEqual(migrate(db), { from: version - 1, to: MIGRATIONS.length });
    assert.equal(db.prepare('SELECT count(*) FROM blob_facts').pluck().get(), 0);
    db.close();
  });
});

/** A server with the whole corpus in INBOX (internal dates one minute apart, so ARRIVAL and DATE differ). */
async function corpusServer(): Promise<{ srv: TestServer; c: RawClient; blobIds: string[] }> {
  const srv = await startTestServer();
  await srv.addUser('alice', 'wonderland');
  const store = srv.server.store;
  const account = (await store.findAccount('alice'))!;
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  const batch: NewMessage[] = await Promise.all(
    corpus.map(async (bytes, i) => ({
      blob: await store.blobs.put(bytes),
      analysis: analyzeMessage(bytes),
      flags: [],
      internalDate: new Date(1_700_000_000_000 + ((i * 7919) % corpus.length) * 60_000),
    })),
  );
  await store.appendMessages(account.id, inbox.id, batch);
  const { client: c } = await RawClient.connect(srv.imapsPort, { tls: true });
  return { srv, c, blobIds: [...new Set(batch.map((m) => m.blob.blobId))] };
}

/** Sets every stored header facts record to `value` (NULL: as the migration leaves blobs stored before it). */
async function setStoredFacts(srv: TestServer, value: string | null): Promise<void> {
  if (srv.config.store.url) {
    const client = new pg.Client({ connectionString: srv.config.store.url });
    await client.connect();
    await client.query('UPDATE blobs SET header_facts = $1', [value]);
    await client.end();
    return;
  }
  const db = new Database(path.join(srv.dataDir, 'mailkeep.sqlite3'));
  db.prepare('DELETE FROM blob_facts').run();
  if (value !== null) db.prepare('INSERT INTO blob_facts (blob_id, facts) SELECT blob_id, ? FROM blobs WHERE base_id IS NULL').run(value);
  db.close();
}

const COMMANDS = [
  ...['ARRIVAL', 'DATE', 'SUBJECT', 'FROM', 'TO', 'CC', 'DISPLAYFROM', 'DISPLAYTO', 'SIZE'].flatMap((k) => [
    `SORT (${k}) UTF-8 ALL`,
    `SORT (REVERSE ${k}) UTF-8 ALL`,
  ]),
  'SORT (SUBJECT REVERSE DATE) UTF-8 ALL',
  'SORT (FROM REVERSE SUBJECT ARRIVAL) UTF-8 ALL',
  'SORT (DISPLAYTO CC) UTF-8 SUBJECT e',
  'UID SORT (SUBJECT) UTF-8 NOT FROM a',
  'THREAD REFERENCES UTF-8 ALL',
  'THREAD ORDEREDSUBJECT UTF-8 ALL',
  'THREAD REFERENCES UTF-8 OR SUBJECT re FROM o',
  'SEARCH SUBJECT test',
  'SEARCH FROM "@" NOT TO "."',
  'SEARCH CC ""',
  'SEARCH OR BCC a SUBJECT "é"',
  'SEARCH SENTSINCE 1-Jan-2005 HEADER SUBJECT a',
  'SEARCH HEADER X-MAILER ""',
];

/** Every command's untagged responses, in order. */
async function answers(c: RawClient): Promise<string[][]> {
  const out: string[][] = [];
  for (const command of COMMANDS) {
    const r = await c.command('t', command, 30_000);
    assert.match(r.tagged, /^t OK/, `${command}: ${r.tagged}`);
    out.push(r.lines);
  }
  return out;
}

describe('SORT, THREAD and SEARCH over the corpus', () => {
  let fast: Awaited<ReturnType<typeof corpusServer>>;
  let slow: Awaited<ReturnType<typeof corpusServer>>;

  before(async () => {
    [fast, slow] = await Promise.all([corpusServer(), corpusServer()]);
    await setStoredFacts(slow.srv, null);
    for (const { c } of [fast, slow]) {
      assert.match((await c.command('l', 'LOGIN alice wonderland')).tagged, /^l OK/);
      assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    }
  });
  after(async () => {
    for (const s of [fast, slow]) {
      s.c.close();
      await s.srv.stop();
    }
  });

  test('ingestion stores the facts of every message', async () => {
    const stored = await fast.srv.server.store.getHeaderFacts(fast.blobIds);
    assert.equal(stored.size, fast.blobIds.length);
    for (const [, text] of stored) assert.notEqual(decodeHeaderFacts(text), null);
    assert.equal((await slow.srv.server.store.getHeaderFacts(slow.blobIds)).size, 0);
  });

  test('stored facts, facts derived from the analyses, and cached facts give the same answers', async () => {
    const stored = await answers(fast.c);
    const derived = await answers(slow.c);
    assert.deepEqual(derived, stored);
    // Now from the hot cache: rank tables, memoized threads.
    assert.deepEqual(await answers(fast.c), stored);
    assert.deepEqual(await answers(slow.c), stored);
    // The answers are not trivially empty.
    const sortLine = stored[COMMANDS.indexOf('SORT (SUBJECT) UTF-8 ALL')]!.join('');
    assert.equal(sortLine.split(' ').length - 2, corpus.length);
    assert.ok(stored[COMMANDS.indexOf('SEARCH SUBJECT test')]!.join('').split(' ').length > 3);
  });

  test('facts derived from the analyses are written back: the next process reads them', async () => {
    const written = await slow.srv.server.store.getHeaderFacts(slow.blobIds);
    const stored = await fast.srv.server.store.getHeaderFacts(fast.blobIds);
    assert.equal(written.size, slow.blobIds.length);
    for (const [blobId, text] of written) assert.deepEqual(decodeHeaderFacts(text), decodeHeaderFacts(stored.get(blobId)!), blobId);
  });

  test('a new message is sorted and threaded in with the cached ones', async () => {
    const text = 'Subject: Re: aaaa first\r\nFrom: a@a.example\r\nMessage-ID: <new@x>\r\nDate: 1 Jan 1990 00:00:00 +0000\r\n\r\nx\r\n';
    for (const { c } of [fast, slow]) {
      assert.match((await c.command('a', Buffer.from(`APPEND INBOX {${text.length}+}\r\n${text}`))).tagged, /^a OK/);
      assert.match((await c.command('n', 'NOOP')).tagged, /^n OK/);
    }
    const fastAnswers = await answers(fast.c);
    assert.deepEqual(await answers(slow.c), fastAnswers);
    const n = String(corpus.length + 1);
    assert.ok(fastAnswers[COMMANDS.indexOf('SORT (DATE) UTF-8 ALL')]!.join('').split(' ').includes(n));
    assert.match(fastAnswers[COMMANDS.indexOf('THREAD REFERENCES UTF-8 ALL')]!.join(''), new RegExp(`\\b${n}\\b`));
  });

  test('a write-back replaces absent, malformed and older facts, never newer ones (two releases on one database)', async () => {
    const store = slow.srv.server.store;
    const blobId = slow.blobIds[0]!;
    const current = (await fast.srv.server.store.getHeaderFacts([blobId])).get(blobId)!;
    const stored = async (): Promise<string | undefined> => (await store.getHeaderFacts([blobId])).get(blobId);
    const newer = current.replace(`{"v":${FACTS_VERSION},`, `{"v":${FACTS_VERSION + 1},`);
    assert.notEqual(newer, current);
    for (const before of ['not json', '{"v":"2"}', `{"v":${FACTS_VERSION - 1},"subject":"old"}`]) {
      await setStoredFacts(slow.srv, before);
      await store.saveHeaderFacts(new Map([[blobId, current]]), FACTS_VERSION);
      assert.equal(await stored(), current, before);
    }
    // A newer release wrote its facts: this release's write-back leaves them.
    await store.saveHeaderFacts(new Map([[blobId, newer]]), FACTS_VERSION + 1);
    assert.equal(await stored(), newer);
    await store.saveHeaderFacts(new Map([[blobId, current]]), FACTS_VERSION);
    assert.equal(await stored(), newer);
    // And this release still answers from the analysis meanwhile.
    assert.deepEqual(await answers(slow.c), await answers(fast.c));
  });
});
