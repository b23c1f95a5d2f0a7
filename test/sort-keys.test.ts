/**
 * What SORT compares (src/mime/base-subject.ts, collation.ts,
 * envelope-addresses.ts, src/search/message-facts.ts, sort.ts): RFC 5256 §2.1 base
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
import { baseSubject } from '../src/mime/base-subject.js';
import { casemapKey, casemapText, compareKeys } from '../src/mime/collation.js';
import { addressLists, firstOfLists, type FirstAddresses } from '../src/mime/envelope-addresses.js';
import { contentFacts, encodeHeaderFacts } from '../src/mime/header-facts.js';
import { cachedRanks, GONE, loadFacts, memoized, sentDate, type FactsSource, type MessageFacts, type SortValue } from '../src/search/message-facts.js';
import { parseSortCriteria } from '../src/imap/commands/search-keys.js';
import { sortIndices, type SortCriterion } from '../src/search/sort.js';
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
      assert.ok(performance.now() - t0 < 2000, `${s.slice(0, 20)}… took ${performance.now() - t0} ms`);
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

  test('casemapText equals the character-by-character definition (RFC 5051 §2) for any string', () => {
    const perChar = (text: string): string => {
      let out = '';
      for (const ch of text) {
        const special = casemapText(ch);
        out += special.normalize('NFC');
      }
      return out.normalize('NFKD');
    };
    const unit = fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('ß', 'ﬁ', 'ǆ', 'ᾳ', 'ŉ', 'İ', 'ı', 'Ω', 'é', 'Ａ', 'abc'));
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 12 }), (parts) => {
        const text = parts.join('');
        assert.equal(casemapText(text), perChar(text));
      }),
      { numRuns: 3000 },
    );
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
  const firstAddresses = (envelope: Buffer): FirstAddresses => firstOfLists(addressLists(envelope));

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

  test('every address of From, To, Cc and Bcc, group markers included (RFC 9051 §7.5.2)', () => {
    const lists = addressLists(analyze(['From: a@x.example, b@x.example', 'To: g: c@x.example;', 'Bcc: d@x.example']).envelope);
    const mailboxes = (l: typeof lists.from): Array<string | null> => l.map((a) => a.mailbox?.toString() ?? null);
    assert.deepEqual(mailboxes(lists.from), ['a', 'b']);
    assert.deepEqual(mailboxes(lists.to), ['g', 'c', null]);
    assert.deepEqual(lists.cc, []);
    assert.deepEqual(mailboxes(lists.bcc), ['d']);
  });

  test('missing fields and malformed envelopes give no address', () => {
    assert.deepEqual(firstAddresses(analyze(['Subject: x']).envelope), { from: null, to: null, cc: null });
    for (const bad of ['', '(', '("x" NIL ((NIL NIL "a" "b"', 'garbage', '(NIL NIL ((((NIL)))) NIL NIL NIL NIL NIL NIL NIL)', '(NIL NIL {99}\r\nab)']) {
      assert.deepEqual(firstAddresses(Buffer.from(bad)), { from: null, to: null, cc: null }, bad);
    }
  });

  test('sort values: addr-mailbox (RFC 5256) and the DISPLAY value (RFC 5957 §3)', () => {
    const f = contentFacts(analyze(['From: =?ISO-8859-1?Q?=C9mile?= <Emile.B@example.com>', 'To: bob@example.org', 'Cc: "" <carol@example.net>']));
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
    sortIndices(
      indices,
      criteria,
      (i) => sizes[i]!,
      indices.map((i) => all[i]!),
    ).map((i) => i + 1);

  test('each key, REVERSE, ties by sequence number', () => {
    assert.deepEqual(run([{ key: 'subject', reverse: false }]), [5, 1, 3, 2, 4]);
    // REVERSE leaves the implicit sequence-number order of ties alone.
    assert.deepEqual(run([{ key: 'subject', reverse: true }]), [4, 2, 1, 3, 5]);
    assert.deepEqual(run([{ key: 'from', reverse: false }]), [2, 4, 1, 3, 5]);
    assert.deepEqual(run([{ key: 'date', reverse: false }]), [2, 4, 3, 1, 5]);
    assert.deepEqual(run([{ key: 'arrival', reverse: false }]), [5, 4, 3, 2, 1]);
    assert.deepEqual(run([{ key: 'size', reverse: false }]), [2, 5, 4, 1, 3]);
    assert.deepEqual(run([{ key: 'size', reverse: true }]), [1, 3, 4, 5, 2]);
    assert.deepEqual(
      run([
        { key: 'from', reverse: false },
        { key: 'subject', reverse: true },
      ]),
      [4, 2, 1, 3, 5],
    );
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

describe('sortIndices against a plain comparison sort', () => {
  const KEYS = ['arrival', 'date', 'subject', 'from', 'size'] as const;
  test('packed (one numeric sort) and compared orders both match comparing the values', () => {
    const message = fc.record({
      arrival: fc.integer({ min: -2e12, max: 2e12 }),
      sent: fc.option(fc.integer({ min: -2e12, max: 2e12 })),
      subject: fc.constantFrom('', 'A', 'B', 'É', 'AB', '\u{1F600}'),
      from: fc.constantFrom('', 'X', 'Y'),
      size: fc.oneof(fc.nat(50), fc.integer({ min: 0, max: 2 ** 45 })),
    });
    const criterion = fc.record({ key: fc.constantFrom(...KEYS), reverse: fc.boolean() });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 60 }), fc.array(criterion, { minLength: 1, maxLength: 4 }), (msgs, criteria) => {
        const facts: MessageFacts[] = msgs.map((m) => ({
          arrival: m.arrival,
          content: { ...contentFacts(analyze([])), sentDate: m.sent, subject: casemapKey(m.subject), from: casemapKey(m.from) },
        }));
        const indices = msgs.map((_, i) => i);
        const value = (i: number, key: (typeof KEYS)[number]): string | number =>
          key === 'size' ? msgs[i]!.size : key === 'arrival' ? facts[i]!.arrival : key === 'date' ? sentDate(facts[i]!) : facts[i]!.content![key];
        const expected = indices.slice().sort((a, b) => {
          for (const c of criteria) {
            const [x, y] = [value(a, c.key), value(b, c.key)];
            const d = x < y ? -1 : x > y ? 1 : 0;
            if (d !== 0) return c.reverse ? -d : d;
          }
          return a - b;
        });
        assert.deepEqual(
          sortIndices(indices, criteria, (i) => msgs[i]!.size, facts),
          expected,
        );
      }),
    );
  });
});

describe('loadFacts', () => {
  const analyses = new Map<string, MessageAnalysis>([
    ['b1', analyze(['Subject: one', 'Date: 1 Jan 2020 00:00:00 +0000'])],
    ['b2', analyze(['Subject: two'])],
  ]);
  /** Messages 1..n, blob b1 for odd UIDs and b2 for even ones, UID 3 gone; b1 has stored facts, b2 predates them. */
  const makeSource = (uidValidity: number) => {
    const calls = { records: [] as number[], facts: 0, analyses: 0, saved: [] as Array<[string, string]> };
    const source: FactsSource = {
      getRecords: async (uids) => {
        calls.records.push(uids.length);
        return uids.filter((u) => u !== 3).map((u) => ({ uid: u, internalDate: new Date(u * 1000), blobId: u % 2 ? 'b1' : 'b2' }));
      },
      getHeaderFacts: async (ids) => {
        calls.facts++;
        return new Map(ids.includes('b1') ? [['b1', encodeHeaderFacts(analyses.get('b1')!)]] : []);
      },
      getAnalysis: async (blobId) => {
        calls.analyses++;
        return analyses.get(blobId) ?? null;
      },
      saveHeaderFacts: async (facts) => {
        calls.saved.push(...facts);
      },
      store: STORE,
      mailboxId: 7,
      uidValidity,
      liveCount: 1200,
      isLive: () => true,
    };
    return { source, calls };
  };
  const STORE = {};
  const subjectOf: SortValue = (f) => f.content?.subject ?? '';
  const uids: Uid[] = Array.from({ length: 1200 }, (_, i) => uid(i + 1));

  test('batches, reads stored facts, derives the rest from the analysis, then serves the mailbox from memory', async () => {
    const { source, calls } = makeSource(1);
    const full = await loadFacts(source, uids);
    assert.deepEqual(calls.records, [500, 500, 200]);
    // Only b2 lacks stored facts: one analysis per batch that holds it, never b1's; what is derived is written back.
    assert.equal(calls.analyses, 3);
    assert.deepEqual(
      calls.saved,
      Array.from({ length: 3 }, () => ['b2', encodeHeaderFacts(analyses.get('b2')!)]),
    );
    assert.equal(full[0]!.arrival, 1000);
    assert.equal(full[0]!.content?.subject, 'ONE');
    assert.equal(full[0]!.content?.sentDate, Date.UTC(2020, 0, 1));
    assert.deepEqual(full[0]!.content?.folded.subject, ['ONE']);
    assert.equal(full[1]!.content?.subject, 'TWO');
    assert.equal(full[2], GONE);
    // Stored and derived facts are the same thing.
    assert.deepEqual(full[0]!.content, contentFacts(analyses.get('b1')!));
    const again = await loadFacts(source, uids.slice(0, 10));
    assert.deepEqual(calls.records, [500, 500, 200, 1], 'only the gone UID 3 is asked for again');
    assert.equal(again[4], full[4]);
  });

  test('cached rank tables sort like the facts themselves; memoized results follow their exact input', async () => {
    const { source } = makeSource(3);
    const some = uids.filter((u) => u !== 3 && u % 5 !== 0);
    const facts = await loadFacts(source, some);
    const indices = some.map((_, p) => p);
    for (const criteria of [
      [{ key: 'subject', reverse: false }],
      [
        { key: 'subject', reverse: true },
        { key: 'date', reverse: false },
      ],
    ] as SortCriterion[][]) {
      const ranks = (key: string, value: SortValue) => cachedRanks(source, key, value, some);
      assert.notEqual(ranks('subject', subjectOf), null);
      assert.deepEqual(
        sortIndices(indices, criteria, () => 0, facts, ranks),
        sortIndices(indices, criteria, () => 0, facts),
      );
    }
    // A UID the cache does not hold: no ranks, the caller ranks its facts.
    assert.equal(cachedRanks(source, 'subject', subjectOf, [uid(5000)]), null);
    let computed = 0;
    const compute = async () => ({ n: ++computed });
    const first = await memoized(source, 'x', some, indices, compute);
    assert.equal(await memoized(source, 'x', some, indices, compute), first);
    assert.notEqual(await memoized(source, 'x', some.slice(1), indices.slice(1), compute), first);
    assert.notEqual((await memoized(source, 'x', some.slice(1), indices.slice(0, -1), compute)).n, first.n);
    assert.equal(computed, 3);
  });

  test('a new UIDVALIDITY forgets the mailbox', async () => {
    const { source, calls } = makeSource(2);
    await loadFacts(source, uids.slice(0, 2));
    assert.deepEqual(calls.records, [2]);
  });
});
