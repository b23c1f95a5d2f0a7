/**
 * Search evaluation (src/search/evaluate.ts) against a hand-built view,
 * records and analyses: the semantics of each key, three-valued pruning (only
 * undecided messages are loaded, in batches), expunged messages, and the
 * event loop staying responsive on a 10,000-message mailbox.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { modseq, uid, type Uid } from '../src/ids.js';
import { MailboxView } from '../src/imap/session/mailbox-view.js';
import { BATCH, evaluateSearch, type ContentSource, type SearchTarget } from '../src/search/evaluate.js';
import { foldText } from '../src/mime/header-facts.js';
import { parseSearchCommand } from '../src/imap/commands/search-keys.js';
import type { SearchKey } from '../src/search/query.js';
import type { MessageAnalysis } from '../src/mime/types.js';
import type { MailboxId } from '../src/ids.js';
import { ArgReader } from '../src/imap/wire/reader.js';
import { frameOne } from './helpers/wire-harness.js';

interface Fixture {
  uid: number;
  flags?: string[];
  size?: number;
  modseq?: number;
  internal: string;
  /** Date header as an ISO instant; absent = no Date header. */
  sent?: string;
  headers?: Array<[string, string]>;
  body?: string;
}

const FIXTURES: Fixture[] = [
  {
    uid: 3,
    flags: ['\\Seen'],
    size: 1000,
    modseq: 10,
    internal: '1994-02-01T10:00:00Z',
    sent: '1994-01-31T23:30:00Z',
    headers: [
      ['from', 'John Smith <smith@example.com>'],
      ['to', 'alice@example.org'],
      ['subject', 'Quarterly report'],
      ['x-spam', ''],
    ],
    body: 'Numbers attached.',
  },
  {
    uid: 5,
    flags: ['\\Flagged', '$Junk'],
    size: 5000,
    modseq: 12,
    internal: '1994-02-02T00:00:00Z',
    sent: '1994-02-02T08:00:00Z',
    headers: [
      ['from', 'Bob <bob@example.net>'],
      ['to', 'Alice <alice@example.org>'],
      ['cc', 'carol@example.com'],
      ['subject', 'Café Straße ΣΊΣΥΦΟΣ'],
    ],
    body: 'Let us meet for lunch. Отпуск!',
  },
  {
    uid: 8,
    flags: ['\\Answered', '\\Seen', '\\Deleted'],
    size: 200,
    modseq: 15,
    internal: '1994-02-03T23:59:59Z',
    headers: [
      ['from', 'carol@example.com'],
      ['bcc', 'secret@example.com'],
      ['subject', 'Re: lunch'],
      ['received', 'a'],
      ['received', 'from mx.example.com'],
    ],
    body: '',
  },
  {
    uid: 9,
    flags: ['\\Draft'],
    size: 3000,
    modseq: 20,
    internal: '1994-02-04T12:00:00Z',
    sent: '1994-02-04T12:00:00Z',
    headers: [
      ['from', 'alice@example.org'],
      ['subject', 'draft: SMITH things'],
    ],
    body: 'unfinished',
  },
];

function analysisOf(f: Fixture): MessageAnalysis {
  return {
    root: { hs: 0, bs: 0, be: 0, type: 'text', subtype: 'plain', encoding: '7bit' },
    envelope: Buffer.alloc(0),
    bodyStructure: Buffer.alloc(0),
    body: Buffer.alloc(0),
    sentDate: f.sent ? Date.parse(f.sent) : null,
    headers: f.headers ?? [],
    bodyText: f.body ?? '',
  };
}

/** A content source over fixtures that records what it was asked for. */
class FakeSource implements ContentSource {
  recordCalls: number[][] = [];
  analysisCalls = 0;
  private readonly byUid: Map<number, Fixture>;
  constructor(
    fixtures: readonly Fixture[],
    private readonly gone = new Set<number>(),
  ) {
    this.byUid = new Map(fixtures.map((f) => [f.uid, f]));
  }
  async getRecords(uids: readonly Uid[]) {
    assert.ok(uids.length <= BATCH, `batch of ${uids.length}`);
    this.recordCalls.push([...uids]);
    return uids
      .filter((u) => this.byUid.has(u) && !this.gone.has(u))
      .map((u) => ({ uid: u, internalDate: new Date(this.byUid.get(u)!.internal), blobId: `blob${u}` }));
  }
  async getAnalysis(blobId: string) {
    this.analysisCalls++;
    const f = this.byUid.get(Number(blobId.slice(4)));
    return f ? analysisOf(f) : null;
  }
}

function viewOf(fixtures: readonly Fixture[]): MailboxView {
  return new MailboxView(
    1 as MailboxId,
    'INBOX',
    1,
    uid(100),
    modseq(100),
    fixtures.map((f) => ({ uid: uid(f.uid), modseq: modseq(f.modseq ?? 1), flags: f.flags ?? [], size: f.size ?? 100 })),
    [],
  );
}

/** Parses SEARCH arguments into a query. */
function parse(args: string | Buffer): SearchKey {
  const r = new ArgReader(frameOne(Buffer.concat([Buffer.from(args), Buffer.from('\r\n')])));
  const p = parseSearchCommand(r, false);
  r.end();
  return p.query;
}

interface Harness {
  view: MailboxView;
  source: FakeSource;
  target: SearchTarget;
}

function harness(fixtures: readonly Fixture[] = FIXTURES, opts: { saved?: number[]; recent?: number[]; gone?: number[] } = {}): Harness {
  const view = viewOf(fixtures);
  view.markRecent(opts.recent ?? []);
  const source = new FakeSource(fixtures, new Set(opts.gone ?? []));
  const target: SearchTarget = {
    messages: view.messages,
    isRecent: (u) => view.isRecent(u),
    isExpunged: (u) => view.isExpunged(u),
    saved: opts.saved ? opts.saved.map(uid) : null,
    source,
  };
  return { view, source, target };
}

/** UIDs matching a SEARCH argument string. */
async function uids(h: Harness, args: string): Promise<number[]> {
  const idx = await evaluateSearch(parse(args), h.target);
  return idx.map((i) => h.view.messages[i]!.uid);
}

describe('cheap keys', () => {
  const h = harness(FIXTURES, { recent: [8, 9], saved: [5, 9, 77] });
  const cases: Array<[string, number[]]> = [
    ['ALL', [3, 5, 8, 9]],
    ['SEEN', [3, 8]],
    ['UNSEEN', [5, 9]],
    ['ANSWERED', [8]],
    ['UNANSWERED', [3, 5, 9]],
    ['DELETED', [8]],
    ['UNDELETED', [3, 5, 9]],
    ['DRAFT', [9]],
    ['UNDRAFT', [3, 5, 8]],
    ['FLAGGED', [5]],
    ['UNFLAGGED', [3, 8, 9]],
    ['KEYWORD $junk', [5]],
    ['UNKEYWORD $Junk', [3, 8, 9]],
    ['KEYWORD \\seen', [3, 8]],
    ['RECENT', [8, 9]],
    ['NEW', [9]],
    ['OLD', [3, 5]],
    ['LARGER 1000', [5, 9]],
    ['SMALLER 1000', [8]],
    ['MODSEQ 12', [5, 8, 9]],
    ['MODSEQ "/flags/\\\\seen" all 16', [9]],
    ['1', [3]],
    ['2:3', [5, 8]],
    ['*', [9]],
    ['3:*', [8, 9]],
    ['4:100', [9]],
    ['5:100', []],
    ['1,4', [3, 9]],
    ['UID 5:8', [5, 8]],
    ['UID *', [9]],
    ['UID 9:100', [9]],
    ['UID 100:*', [9]],
    ['UID 1:2', []],
    ['$', [5, 9]],
    ['UID $', [5, 9]],
    ['OR SEEN FLAGGED', [3, 5, 8]],
    ['NOT SEEN', [5, 9]],
    ['NOT (SEEN DELETED)', [3, 5, 9]],
    ['OR DRAFT (SEEN LARGER 500)', [3, 9]],
    ['SEEN NOT OR DELETED DRAFT', [3]],
    ['seen unseen', []],
  ];
  for (const [args, want] of cases) {
    test(args, async () => {
      h.source.recordCalls = [];
      assert.deepEqual(await uids(h, args), want);
      assert.deepEqual(h.source.recordCalls, [], 'cheap keys never touch the store');
    });
  }
  test('$ with no saved result matches nothing', async () => {
    assert.deepEqual(await uids(harness(), '$'), []);
  });
  test('empty mailbox: * matches nothing', async () => {
    assert.deepEqual(await uids(harness([]), '*'), []);
    assert.deepEqual(await uids(harness([]), 'UID 1:*'), []);
  });
});

describe('content keys', () => {
  const cases: Array<[string, number[]]> = [
    // Internal date, by UTC calendar day, ignoring the time.
    ['BEFORE 2-Feb-1994', [3]],
    ['ON 3-Feb-1994', [8]],
    ['SINCE 3-Feb-1994', [8, 9]],
    ['ON 1-Jan-1994', []],
    // Date header; uid 8 has none, so no SENT* key matches it (RFC 9051 §6.4.4), and NOT of one does.
    ['SENTBEFORE 1-Feb-1994', [3]],
    ['SENTON 31-Jan-1994', [3]],
    ['SENTON 3-Feb-1994', []],
    ['SENTSINCE 2-Feb-1994', [5, 9]],
    ['NOT SENTBEFORE 1-Jan-2100', [8]],
    // Header substrings, case-insensitive, every occurrence.
    ['FROM smith', [3]],
    ['FROM EXAMPLE.COM', [3, 8]],
    ['TO alice', [3, 5]],
    ['CC carol', [5]],
    ['BCC secret', [8]],
    ['SUBJECT lunch', [8]],
    ['SUBJECT "café"', [5]],
    ['SUBJECT "CAFÉ"', [5]],
    ['SUBJECT "straße"', [5]],
    ['SUBJECT strasse', []],
    ['SUBJECT "σίσυφος"', [5]],
    ['HEADER received mx.example', [8]],
    ['HEADER X-SPAM ""', [3]],
    ['HEADER cc ""', [5]],
    ['HEADER subject ""', [3, 5, 8, 9]],
    ['FROM ""', [3, 5, 8, 9]],
    ['BCC ""', [8]],
    ['BODY lunch', [5]],
    ['BODY "отпуск"', [5]],
    ['BODY smith', []],
    ['TEXT smith', [3, 9]],
    ['TEXT lunch', [5, 8]],
    ['TEXT "subject: re:"', [8]],
    ['TEXT unfinished', [9]],
    // Mixed: cheap keys prune, content keys decide.
    ['SEEN FROM carol', [8]],
    ['OR FLAGGED BODY unfinished', [5, 9]],
    ['NOT BODY lunch', [3, 8, 9]],
    ['OR SINCE 4-Feb-1994 1', [3, 9]],
  ];
  for (const [args, want] of cases) {
    test(args, async () => {
      assert.deepEqual(await uids(harness(), args), want);
    });
  }

  test('only messages the cheap keys leave undecided are loaded', async () => {
    const h = harness();
    assert.deepEqual(await uids(h, 'UNSEEN FROM bob'), [5]);
    assert.deepEqual(h.source.recordCalls, [[5, 9]]);
    assert.equal(h.source.analysisCalls, 2);
    const h2 = harness();
    // OR with a true cheap side needs nothing for that message.
    assert.deepEqual(await uids(h2, 'OR SEEN SUBJECT draft'), [3, 8, 9]);
    assert.deepEqual(h2.source.recordCalls, [[5, 9]]);
    const h3 = harness();
    // Dates alone need records but no analyses.
    assert.deepEqual(await uids(h3, 'SINCE 3-Feb-1994'), [8, 9]);
    assert.equal(h3.source.analysisCalls, 0);
  });

  test('a message pending expunge matches nothing; one whose record is gone matches on flags only', async () => {
    const h = harness(FIXTURES, { gone: [5] });
    h.view.markExpunged(8);
    // The store no longer holds 8 as of the command: not even its flags match (it keeps its sequence number).
    assert.deepEqual(await uids(h, 'DELETED'), []);
    assert.deepEqual(await uids(h, 'OR DELETED FROM bob'), []);
    assert.deepEqual(await uids(h, 'FLAGGED'), [5]);
    assert.deepEqual(await uids(h, 'FROM example'), [3, 9]);
    assert.deepEqual(await uids(h, 'NOT FROM nobody'), [3, 9]);
    assert.ok(
      h.source.recordCalls.every((c) => !c.includes(8)),
      'expunged messages are not loaded',
    );
  });

  test('foldText is i;unicode-casemap (RFC 5051 §2): simple titlecase, then NFKD', () => {
    assert.equal(foldText('ΣΊΣΥΦΟΣ'), foldText('σίσυφος'));
    assert.equal(foldText('e\u0301'), foldText('É'));
    // Compatibility decomposition after titlecasing: full-width letters match their plain forms, and the ﬁ
    // ligature (no single-character titlecase) becomes a lower-case "fi", as RFC 5051 §2 prescribes.
    assert.equal(foldText('\uff41\uff22'), foldText('ab'));
    assert.equal(foldText('\ufb01le'), 'fiLE');
    // ß has no single-character titlecase, so it stays itself: "strasse" is not a substring of "straße".
    assert.notEqual(foldText('STRASSE'), foldText('straße'));
    // Decomposed forms: a base letter is a substring of its accented form.
    assert.ok(foldText('Café').includes(foldText('cafe')));
  });
});

describe('large mailboxes', () => {
  test('10,000 messages: batches of ≤ BATCH, results ascending, the event loop keeps turning', async () => {
    const fixtures: Fixture[] = Array.from({ length: 10_000 }, (_, i) => ({
      uid: i + 1,
      flags: i % 2 ? ['\\Seen'] : [],
      internal: '2020-01-01T00:00:00Z',
      headers: [['subject', i % 7 === 0 ? `needle ${i}` : `hay ${i}`]],
      body: 'x'.repeat(100),
    }));
    const h = harness(fixtures);
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const got = await uids(h, 'OR SEEN SUBJECT needle');
    running = false;
    const want = fixtures.filter((_, i) => i % 2 === 1 || i % 7 === 0).map((f) => f.uid);
    assert.deepEqual(got, want);
    assert.equal(h.source.recordCalls.length, Math.ceil(10_000 / BATCH));
    assert.equal(h.source.recordCalls.flat().length, 5_000, 'only unseen messages were loaded');
    assert.ok(ticks >= h.source.recordCalls.length - 1, `event loop turned ${ticks} times`);
  });
});

describe('properties', () => {
  /** Leaf keys mixing cheap and content keys. */
  const leaves = [
    'SEEN',
    'FLAGGED',
    'DELETED',
    'LARGER 1000',
    'MODSEQ 12',
    '2:3',
    'UID 5:8',
    'RECENT',
    '$',
    'FROM example',
    'SUBJECT lunch',
    'BODY unfinished',
    'TEXT smith',
    'SINCE 3-Feb-1994',
    'SENTON 31-Jan-1994',
    'HEADER cc ""',
  ];
  const keyArb = fc.letrec<{ key: string }>((tie) => ({
    key: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...leaves),
      tie('key').map((k) => `NOT ${k}`),
      fc.tuple(tie('key'), tie('key')).map(([a, b]) => `OR ${a} ${b}`),
      fc.tuple(tie('key'), tie('key')).map(([a, b]) => `(${a} ${b})`),
    ),
  })).key;

  test('NOT, OR and AND agree with set complement, union and intersection', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, keyArb, fc.subarray([3, 5, 8, 9]), async (a, b, expunged) => {
        const h = harness(FIXTURES, { recent: [8, 9], saved: [5, 9] });
        for (const uid of expunged) h.view.markExpunged(uid);
        const A = new Set(await uids(h, a));
        const B = new Set(await uids(h, b));
        // Messages pending expunge have no content: only content-free results are comparable there.
        const live = FIXTURES.map((f) => f.uid).filter((u) => !expunged.includes(u));
        const pick = (s: Set<number>) => live.filter((u) => s.has(u));
        assert.deepEqual(
          pick(new Set(await uids(h, `NOT ${a}`))),
          live.filter((u) => !A.has(u)),
        );
        assert.deepEqual(
          pick(new Set(await uids(h, `OR ${a} ${b}`))),
          live.filter((u) => A.has(u) || B.has(u)),
        );
        assert.deepEqual(
          pick(new Set(await uids(h, `${a} ${b}`))),
          live.filter((u) => A.has(u) && B.has(u)),
        );
      }),
      { numRuns: 300 },
    );
  });
});
