/**
 * What SORT compares (src/search/base-subject.ts, collation.ts,
 * envelope-addresses.ts, message-facts.ts, sort.ts): RFC 5256 §2.1 base
 * subjects (Re:, Fwd:, [tags], "(fwd)" trailers, "[fwd: ...]" wrappers,
 * encoded words), the i;unicode-casemap collation, first addresses read back
 * from real ENVELOPEs, the sent date, and the ordering rules (REVERSE, empty
 * strings first, ties by sequence number); hostile subjects stay linear.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { uid, type Uid } from '../src/ids.js';
import { analyzeMessage } from '../src/mime/analyze.js';
import type { MessageAnalysis } from '../src/mime/types.js';
import { baseSubject } from '../src/search/base-subject.js';
import { casemapKey, compareKeys } from '../src/search/collation.js';
import { firstAddresses } from '../src/search/envelope-addresses.js';
import type { ContentSource } from '../src/search/evaluate.js';
import { contentFacts, loadFacts, sentDate, type MessageFacts } from '../src/search/message-facts.js';
import { parseSortCriteria, sortIndices, type SortCriterion } from '../src/search/sort.js';
import { ArgReader, ParseError } from '../src/imap/wire/reader.js';
import { frameOne } from './helpers/wire-harness.js';

const analyze = (lines: string[], body = 'Hello.'): MessageAnalysis => analyzeMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}\r\n`));

describe('base subject (RFC 5256 §2.1)', () => {
  const cases: Array<[subject: string, base: string, replyOrForward: boolean]> = [
    ['hello', 'hello', false],
    ['Re: hello', 'hello', true],
    ['RE: Re: re:hello', 'hello', true],
    ['Fwd: hello', 'hello', true],
    ['FW: hello', 'hello', true],
    ['fw[2]: hello', 'hello', true],
    ['Re [3] : hello', 'hello', true],
    ['Re[2]:Re: hello', 'hello', true],
    ['[tag] hello', 'hello', false],
    ['[tag]', '[tag]', false],
    ['[tag] ', '[tag]', false],
    ['[a][b]', '[b]', false],
    ['[tag] Re: hello', 'hello', true],
    ['Re: [tag] hello', 'hello', true],
    ['[a] [b] Re: [c] Fwd: hello', 'hello', true],
    ['hello (fwd)', 'hello', true],
    ['hello (FWD) (fwd)  ', 'hello', true],
    ['hello(fwd)', 'hello', true],
    ['[fwd: hello]', 'hello', true],
    ['[FWD: Re: hello]', 'hello', true],
    ['Fwd: [Fwd: Re: hello (fwd)]', 'hello', true],
    ['[fwd: hello] tail', 'tail', false],
    ['  \t hello   world\r\n  again ', 'hello world again', false],
    ['Re:', '', true],
    ['Re: ', '', true],
    ['', '', false],
    ['Rehash: tips', 'Rehash: tips', false],
    ['Fwdx: hello', 'Fwdx: hello', false],
    ['Re hello', 'Re hello', false],
    ['hello (fwd) x', 'hello (fwd) x', false],
    ['[unclosed hello', '[unclosed hello', false],
    ['[a[b] hello', '[a[b] hello', false],
    ['Ré: café', 'Ré: café', false],
  ];
  for (const [subject, base, reply] of cases) {
    test(JSON.stringify(subject), () => {
      assert.deepEqual(baseSubject(subject), { text: base, replyOrForward: reply });
    });
  }

  test('extraction is idempotent', () => {
    const piece = fc.constantFrom('Re', 're', 'Fwd', 'fw', ':', ' ', '\t', '[', ']', '[x]', '(fwd)', '[fwd:', 'a', 'b c', 'é');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (parts) => {
        const once = baseSubject(parts.join('')).text;
        assert.equal(baseSubject(once).text, once);
      }),
      { numRuns: 2000 },
    );
  });

  test('hostile subjects stay linear', () => {
    const hostile = [
      `${'[a]'.repeat(20_000)} x`,
      `${'[a] '.repeat(16_000)}`,
      `${'Re: '.repeat(16_000)}x`,
      `${'[fwd: '.repeat(10_000)}x${']'.repeat(10_000)}`,
      `x${' (fwd)'.repeat(10_000)}`,
      `[${'a'.repeat(60_000)}`,
    ];
    for (const s of hostile) {
      const t0 = performance.now();
      baseSubject(s);
      assert.ok(performance.now() - t0 < 200, `${s.slice(0, 20)}… took ${performance.now() - t0} ms`);
    }
    assert.equal(baseSubject(`${'[a]'.repeat(20_000)} x`).text, 'x');
    assert.equal(baseSubject(`${'[fwd: '.repeat(10_000)}x${']'.repeat(10_000)}`).text, 'x');
  });

  test('encoded words are decoded before extraction (analysis headers)', () => {
    const a = analyze(['Subject: =?UTF-8?Q?Re=3A_caf=C3=A9?=']);
    assert.equal(contentFacts(a).subject, casemapKey('café'));
    assert.equal(contentFacts(a).replyOrForward, true);
    const b = analyze(['Subject: Re: =?ISO-8859-1?Q?=5Bliste=5D_Caf=E9?= (fwd)']);
    assert.equal(contentFacts(b).subject, casemapKey('Café'));
    const folded = analyze(['Subject: =?UTF-8?B?W2Rldl0=?=', '\tWeekly', '  notes']);
    assert.equal(contentFacts(folded).subject, casemapKey('Weekly notes'));
  });
});

describe('i;unicode-casemap (RFC 5051)', () => {
  const cmp = (a: string, b: string): number => Math.sign(compareKeys(casemapKey(a), casemapKey(b)));

  test('case-insensitive for ASCII and beyond', () => {
    assert.equal(cmp('Hello', 'hELLO'), 0);
    assert.equal(cmp('émile', 'ÉMILE'), 0);
    assert.equal(cmp('σίσυφος', 'ΣΊΣΥΦΟΣ'), 0);
  });

  test('titlecase, not uppercase: digraphs and iota subscript', () => {
    assert.equal(casemapKey('ǆ'), casemapKey('Ǆ'));
    assert.equal(casemapKey('ǆ'), casemapKey('ǅ'));
    assert.equal(casemapKey('ǆ').normalize('NFC'), 'Dž');
    assert.equal(casemapKey('ᾳ'), casemapKey('ᾼ'));
    // ß has no single-character titlecase: it stays, unlike full upper-casing to "SS".
    assert.notEqual(casemapKey('straße'), casemapKey('STRASSE'));
  });

  test('decomposition puts accented letters beside their base letter', () => {
    assert.equal(cmp('Émile', 'Zed'), -1);
    assert.equal(cmp('Émile', 'Carol'), 1);
    assert.equal(cmp('Ｅ', 'E'), 0);
  });

  test('code point order, not UTF-16 order', () => {
    assert.equal(cmp('\ufffd', '\u{1f600}'), -1);
    assert.equal(cmp('\u{1f600}', '\ue000'), 1);
    assert.equal(cmp('', 'a'), -1);
  });
});

describe('addresses read back from ENVELOPE', () => {
  test('first From / To / Cc, quoted, literal and group forms', () => {
    const a = analyze([
      'From: "Smith, \\"J\\"" <john@example.com>, other@example.com',
      'To: undisclosed-recipients:;',
      'Cc: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>',
    ]);
    const addrs = firstAddresses(a.envelope);
    assert.equal(addrs.from?.name?.toString(), 'Smith, "J"');
    assert.equal(addrs.from?.mailbox?.toString(), 'john');
    assert.equal(addrs.from?.host?.toString(), 'example.com');
    // A group's start marker is its first address structure.
    assert.deepEqual(addrs.to, { name: null, mailbox: Buffer.from('undisclosed-recipients'), host: null });
    assert.equal(addrs.cc?.name?.toString(), '=?UTF-8?Q?Zo=C3=AB?=');
    const eightBit = analyzeMessage(Buffer.from('From: Zoë Ünal <z@example.org>\r\nTo: a@b\r\n\r\nx\r\n'));
    // 8-bit names travel as literals in the stored envelope.
    assert.match(eightBit.envelope.toString('latin1'), /\{\d+\}\r\n/);
    assert.equal(firstAddresses(eightBit.envelope).from?.name?.toString('utf8'), 'Zoë Ünal');
  });

  test('missing fields and malformed envelopes give no address', () => {
    assert.deepEqual(firstAddresses(analyze(['Subject: x']).envelope), { from: null, to: null, cc: null });
    for (const bad of ['', '(', '("x" NIL ((NIL NIL "a" "b"', 'garbage', '(NIL NIL ((((NIL)))) NIL NIL NIL NIL NIL NIL NIL)', '(NIL NIL {99}\r\nab)']) {
      assert.deepEqual(firstAddresses(Buffer.from(bad)), { from: null, to: null, cc: null }, bad);
    }
  });

  test('sort values: addr-mailbox (RFC 5256) and the DISPLAY value (RFC 5957 §3)', () => {
    const f = contentFacts(
      analyze(['From: =?ISO-8859-1?Q?=C9mile?= <Emile.B@example.com>', 'To: bob@example.org', 'Cc: "" <carol@example.net>']),
    );
    assert.equal(f.from, casemapKey('Emile.B'));
    assert.equal(f.displayFrom, casemapKey('Émile'));
    assert.equal(f.to, casemapKey('bob'));
    assert.equal(f.displayTo, casemapKey('bob@example.org'));
    assert.equal(f.cc, casemapKey('carol'));
    const none = contentFacts(analyze(['Subject: x']));
    assert.deepEqual([none.from, none.to, none.cc, none.displayFrom, none.displayTo], ['', '', '', '', '']);
  });
});

describe('sent date (RFC 5256 §2.2)', () => {
  test('the Date header in UTC, else INTERNALDATE', () => {
    const withDate = contentFacts(analyze(['Date: 31 Dec 2000 16:01:33 -0800']));
    assert.equal(sentDate({ arrival: 5, content: withDate }), Date.parse('2001-01-01T00:01:33Z'));
    assert.equal(sentDate({ arrival: 5, content: contentFacts(analyze(['Date: not a date'])) }), 5);
    assert.equal(sentDate({ arrival: 7, content: null }), 7);
  });
});

describe('sortIndices', () => {
  const facts = (subject: string, from: string, date: number, arrival: number): MessageFacts => ({
    arrival,
    content: { ...contentFacts(analyze([`Subject: ${subject}`, `From: ${from}`])), sentDate: date },
  });
  // view indices 0..4 = seq 1..5
  const all = [
    facts('Re: apple', 'bob@x', 300, 5),
    facts('banana', 'alice@x', 100, 4),
    facts('[list] Apple', 'Carol@x', 200, 3),
    facts('cherry', 'alice@x', 100, 2),
    facts('', 'dave@x', 400, 1),
  ];
  const sizes = [50, 10, 50, 30, 20];
  const run = (criteria: SortCriterion[], indices = [0, 1, 2, 3, 4]): number[] =>
    sortIndices(indices, criteria, (i) => sizes[i]!, indices.map((i) => all[i]!)).map((i) => i + 1);

  test('each key, REVERSE, ties by sequence number', () => {
    assert.deepEqual(run([{ key: 'subject', reverse: false }]), [5, 1, 3, 2, 4]);
    // REVERSE leaves the implicit sequence-number order of ties alone.
    assert.deepEqual(run([{ key: 'subject', reverse: true }]), [4, 2, 1, 3, 5]);
    assert.deepEqual(run([{ key: 'from', reverse: false }]), [2, 4, 1, 3, 5]);
    assert.deepEqual(run([{ key: 'date', reverse: false }]), [2, 4, 3, 1, 5]);
    assert.deepEqual(run([{ key: 'arrival', reverse: false }]), [5, 4, 3, 2, 1]);
    assert.deepEqual(run([{ key: 'size', reverse: false }]), [2, 5, 4, 1, 3]);
    assert.deepEqual(run([{ key: 'size', reverse: true }]), [1, 3, 4, 5, 2]);
    assert.deepEqual(run([{ key: 'from', reverse: false }, { key: 'subject', reverse: true }]), [4, 2, 1, 3, 5]);
    assert.deepEqual(run([{ key: 'subject', reverse: false }], [0, 2, 4]), [5, 1, 3]);
  });

  test('a message without facts sorts as empty strings and the earliest date', () => {
    const indices = [0, 1];
    const gone: MessageFacts = { arrival: 0, content: null };
    const sorted = sortIndices(indices, [{ key: 'subject', reverse: false }], () => 0, [all[0]!, gone]);
    assert.deepEqual(sorted, [1, 0]);
  });
});

describe('parseSortCriteria', () => {
  const parse = (text: string): SortCriterion[] => {
    const r = new ArgReader(frameOne(Buffer.from(`${text}\r\n`)));
    const out = parseSortCriteria(r);
    r.end();
    return out;
  };

  test('keys and REVERSE, any case', () => {
    assert.deepEqual(parse('(reverse Date displayFROM REVERSE DISPLAYTO size)'), [
      { key: 'date', reverse: true },
      { key: 'displayfrom', reverse: false },
      { key: 'displayto', reverse: true },
      { key: 'size', reverse: false },
    ]);
  });

  test('errors', () => {
    for (const bad of ['()', '(FOO)', '(REVERSE)', '(REVERSE REVERSE DATE)', 'DATE', '(DATE', `(${'DATE '.repeat(40)}DATE)`]) {
      assert.throws(() => parse(bad), ParseError, bad);
    }
  });
});

describe('loadFacts', () => {
  test('batches, skips analysis when not needed, and caches by blob', async () => {
    const analyses = new Map<string, MessageAnalysis>([
      ['b1', analyze(['Subject: one', 'Date: 1 Jan 2020 00:00:00 +0000'])],
      ['b2', analyze(['Subject: two'])],
    ]);
    const calls = { records: [] as number[], analyses: 0 };
    const source: ContentSource = {
      getRecords: async (uids) => {
        calls.records.push(uids.length);
        return uids.filter((u) => u !== 3).map((u) => ({ uid: u, internalDate: new Date(u * 1000), blobId: u % 2 ? 'b1' : 'b2' }));
      },
      getAnalysis: async (blobId) => {
        calls.analyses++;
        return analyses.get(blobId) ?? null;
      },
    };
    const uids: Uid[] = Array.from({ length: 1200 }, (_, i) => uid(i + 1));
    const dates = await loadFacts(source, uids, false);
    assert.deepEqual(calls.records, [500, 500, 200]);
    assert.equal(calls.analyses, 0);
    assert.equal(dates[0]!.arrival, 1000);
    assert.equal(dates[0]!.content, null);
    assert.deepEqual(dates[2], { arrival: 0, content: null });
    const full = await loadFacts(source, uids, true);
    // Two distinct blobs: each analysed once, however many messages share it.
    assert.equal(calls.analyses, 2);
    assert.equal(full[0]!.content?.subject, 'ONE');
    assert.equal(full[1]!.content?.subject, 'TWO');
    assert.equal(full[2]!.content, null);
    await loadFacts(source, uids, true);
    assert.equal(calls.analyses, 2);
  });
});
