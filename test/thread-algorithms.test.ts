/**
 * THREAD algorithms (src/search/thread.ts, message-id.ts) and the THREAD
 * response syntax (threadPieces in src/imap/commands/thread.ts): msg-id
 * normalization, every step of RFC 5256 REFERENCES (dummies, duplicates,
 * loops, truncated References, pruning, subject merging, date order),
 * ORDEREDSUBJECT, the RFC's response examples, and deep or crafted inputs
 * that must neither overflow the stack nor go quadratic.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { threadPieces } from '../src/imap/commands/thread.js';
import { analyzeMessage } from '../src/mime/analyze.js';
import { baseSubject } from '../src/mime/base-subject.js';
import { casemapKey } from '../src/mime/collation.js';
import { contentFacts } from '../src/mime/header-facts.js';
import type { MessageFacts } from '../src/search/message-facts.js';
import { MAX_REFERENCES, firstMsgId, parseMsgIds } from '../src/mime/message-id.js';
import { threadOrderedSubject, threadReferences, type ThreadNode } from '../src/search/thread.js';

describe('msg-id parsing', () => {
  test('normalizes quoting, white space and comments', () => {
    assert.equal(firstMsgId('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>'), '01KF8JCEOCBS0045PS@xxx.yyy.com');
    assert.equal(firstMsgId('<01KF8JCEOCBS0045PS@xxx.yyy.com>'), '01KF8JCEOCBS0045PS@xxx.yyy.com');
    assert.equal(firstMsgId('  < abc @ example.com (comment) > '), 'abc@example.com');
    assert.equal(firstMsgId('<"a\\"b"@[127.0.0.1]>'), 'a"b@[127.0.0.1]');
    assert.equal(firstMsgId('<a.b"c d"@x>'), 'a.bc d@x');
  });

  test('skips what is not a msg-id; comparisons stay case-sensitive', () => {
    assert.equal(firstMsgId('Your message of <no-at-sign> <Real@Example.COM>'), 'Real@Example.COM');
    assert.equal(firstMsgId('<@x> <a@> <a b@c> <"open@x> <a@b c>'), null);
    assert.equal(firstMsgId('<<inner@x>'), 'inner@x');
    assert.equal(firstMsgId('alice@example.com (Alice)'), null);
    assert.equal(firstMsgId(''), null);
  });

  test('References: all IDs in order, only the last MAX_REFERENCES', () => {
    assert.deepEqual(parseMsgIds('<a@x>\t<b@x> garbage <c@x>'), ['a@x', 'b@x', 'c@x']);
    const many = Array.from({ length: 1000 }, (_, i) => `<m${i}@x>`).join(' ');
    const ids = parseMsgIds(many);
    assert.equal(ids.length, MAX_REFERENCES);
    assert.equal(ids[0], `m${1000 - MAX_REFERENCES}@x`);
    assert.equal(ids[ids.length - 1], 'm999@x');
  });
});

describe('references of a message (RFC 5256 §3 REFERENCES)', () => {
  const refsOf = (...lines: string[]): { id: string | null; refs: string[] } => {
    const f = contentFacts(analyzeMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\nx\r\n`)));
    return { id: f.messageId, refs: f.references };
  };

  test('References first, else the first In-Reply-To ID, else none', () => {
    assert.deepEqual(refsOf('Message-ID: <m@x>', 'References: <a@x>\r\n <b@x>', 'In-Reply-To: <c@x>'), { id: 'm@x', refs: ['a@x', 'b@x'] });
    assert.deepEqual(refsOf('In-Reply-To: <c@x> (sent by <d@x>)'), { id: null, refs: ['c@x'] });
    assert.deepEqual(refsOf('References: not an id', 'In-Reply-To: Your message of Monday <c@x>'), { id: null, refs: ['c@x'] });
    assert.deepEqual(refsOf('Message-ID: no brackets@x'), { id: null, refs: [] });
    assert.deepEqual(refsOf('Message-ID: <"q"@x> <second@x>'), { id: 'q@x', refs: [] });
  });
});

/** A message for the algorithms; `date` in minutes. */
interface Msg {
  id?: string;
  refs?: string[];
  subject?: string;
  date: number;
}

function factsOf(m: Msg): MessageFacts {
  const subject = baseSubject(m.subject ?? '');
  return {
    arrival: 0,
    content: {
      sentDate: m.date * 60_000,
      sentDay: null,
      subject: casemapKey(subject.text),
      replyOrForward: subject.replyOrForward,
      from: '',
      to: '',
      cc: '',
      displayFrom: '',
      displayTo: '',
      messageId: m.id ?? null,
      references: m.refs ?? [],
      folded: { subject: [], from: [], to: [], cc: [], bcc: [] },
      addresses: { from: [], to: [], cc: [], bcc: [] },
      headerCapped: false,
    },
  };
}

/** Threads messages (sequence numbers 1..n) and returns the THREAD response data. */
function thread(algorithm: 'references' | 'orderedsubject', msgs: Msg[], indices = msgs.map((_, i) => i)): string {
  const input = { indices, facts: indices.map((i) => factsOf(msgs[i]!)) };
  const roots = algorithm === 'references' ? threadReferences(input) : threadOrderedSubject(input);
  return [...threadPieces(roots, (i) => i + 1)].join('').trim();
}

const node = (n: number | null, ...children: ThreadNode[]): ThreadNode => ({ index: n === null ? null : n - 1, children });

describe('THREAD response syntax (RFC 5256 §4)', () => {
  test('the RFC examples', () => {
    const text = (roots: ThreadNode[]): string => [...threadPieces(roots, (i) => i + 1)].join('');
    assert.equal(text([node(2), node(3, node(6, node(4, node(23)), node(44, node(7, node(96)))))]), ' (2)(3 6 (4 23)(44 7 96))');
    assert.equal(text([node(null, node(3), node(5))]), ' ((3)(5))');
    assert.equal(text([node(1, node(2), node(3, node(4)))]), ' (1 (2)(3 4))');
    assert.equal(text([]), '');
  });
});

describe('REFERENCES', () => {
  test('parents from the references, dummies for missing parents', () => {
    const msgs: Msg[] = [
      { id: 'a1', subject: 'Plan', date: 10 },
      { id: 'a2', refs: ['a1'], subject: 'Re: Plan', date: 20 },
      { id: 'a3', refs: ['a1', 'a2'], subject: 'Re: Plan', date: 30 },
      // b1 is not in the mailbox: b2 and b3 become siblings under a dummy.
      { id: 'b2', refs: ['b1'], subject: 'Re: Build', date: 40 },
      { id: 'b3', refs: ['b1'], subject: 'Re: Build', date: 50 },
      // A missing middle link: the dummy zz is pruned and a4 moves up to a1.
      { id: 'a4', refs: ['a1', 'zz'], subject: 'Re: Plan', date: 60 },
    ];
    assert.equal(thread('references', msgs), '(1 (2 3)(6))((4)(5))');
    // Only searched messages take part: without a1 the Plan thread is a dummy at the top.
    assert.equal(thread('references', msgs, [1, 2, 3, 5]), '((2 3)(6))(4)');
  });

  test('a dummy with one child at the top is replaced by that child', () => {
    assert.equal(
      thread('references', [
        { id: 'x', refs: ['gone'], date: 1 },
        { id: 'y', refs: ['x'], date: 2 },
      ]),
      '(1 2)',
    );
  });

  test('a duplicate Message-ID belongs to the first message only', () => {
    const msgs: Msg[] = [
      { id: 'p', date: 1 },
      { id: 'dup', refs: ['p'], date: 2 },
      { id: 'dup', refs: ['p'], date: 3 },
      { id: 'c', refs: ['p', 'dup'], date: 4 },
    ];
    assert.equal(thread('references', msgs), '(1 (2 4)(3))');
  });

  test('loops are not created', () => {
    // Each claims the other as parent; the second link would close a loop.
    assert.equal(
      thread('references', [
        { id: 'f1', refs: ['f2'], date: 1 },
        { id: 'f2', refs: ['f1'], date: 2 },
      ]),
      '(2 1)',
    );
    // A message that references itself.
    assert.equal(thread('references', [{ id: 's', refs: ['s'], date: 1 }]), '(1)');
    // References that cycle among themselves.
    assert.equal(thread('references', [{ id: 'm', refs: ['r1', 'r2', 'r1', 'r2'], date: 1 }]), '(1)');
  });

  test("a message's own References override a parent guessed from others' (truncated) References", () => {
    const msgs: Msg[] = [
      { id: 'a', date: 1 },
      // Claims b's parent is a.
      { id: 'c', refs: ['a', 'b'], date: 3 },
      // b itself says its parent is x (not in the mailbox).
      { id: 'b', refs: ['x'], date: 2 },
    ];
    assert.equal(thread('references', msgs), '(1)(3 2)');
    // Without References of its own, b loses the guessed parent too (RFC 5256 step 1.B: "it will now have no parent").
    msgs[2] = { id: 'b', date: 2 };
    assert.equal(thread('references', msgs), '(1)(3 2)');
  });

  test('messages without Message-ID still thread as children', () => {
    assert.equal(
      thread('references', [
        { date: 2, refs: ['p'] },
        { id: 'p', date: 1 },
      ]),
      '(2 1)',
    );
  });

  test('subject grouping (step 5)', () => {
    // Neither is a reply: both go under a new dummy.
    assert.equal(
      thread('references', [
        { id: '1', subject: 'Lunch', date: 1 },
        { id: '2', subject: 'lunch', date: 2 },
      ]),
      '((1)(2))',
    );
    // A reply joins the original as its child, whichever comes first.
    assert.equal(
      thread('references', [
        { id: '1', subject: 'Re: Lunch', date: 1 },
        { id: '2', subject: 'Lunch', date: 2 },
      ]),
      '(2 1)',
    );
    assert.equal(
      thread('references', [
        { id: '1', subject: 'Lunch (fwd)', date: 2 },
        { id: '2', subject: '[x] Lunch', date: 1 },
      ]),
      '(2 1)',
    );
    // Two replies: a new dummy.
    assert.equal(
      thread('references', [
        { id: '1', subject: 'Re: Lunch', date: 1 },
        { id: '2', subject: 'Fwd: Lunch', date: 2 },
      ]),
      '((1)(2))',
    );
    // A message joins the dummy of an existing thread; two dummies merge.
    const msgs: Msg[] = [
      { id: '1', refs: ['gone'], subject: 'Re: Lunch', date: 1 },
      { id: '2', refs: ['gone'], subject: 'Re: Lunch', date: 2 },
      { id: '3', subject: 'Lunch', date: 3 },
      { id: '4', refs: ['gone2'], subject: 'Re: Lunch', date: 4 },
      { id: '5', refs: ['gone2'], subject: 'Re: Lunch', date: 5 },
    ];
    assert.equal(thread('references', msgs), '((1)(2)(3)(4)(5))');
    // An empty subject never groups.
    assert.equal(
      thread('references', [
        { id: '1', date: 1 },
        { id: '2', subject: 'Re: ', date: 2 },
      ]),
      '(1)(2)',
    );
  });

  test('siblings and threads by date, ties by sequence number, dummies by their first child', () => {
    const msgs: Msg[] = [
      { id: 'late', date: 50 },
      { id: 'r', date: 30 },
      { id: 'r3', refs: ['r'], date: 40 },
      { id: 'r1', refs: ['r'], date: 35 },
      { id: 'r2', refs: ['r'], date: 35 },
      { id: 'd1', refs: ['gone'], date: 60 },
      { id: 'd2', refs: ['gone'], date: 20 },
    ];
    assert.equal(thread('references', msgs), '((7)(6))(2 (4)(5)(3))(1)');
  });

  test('a 20,000-deep chain neither overflows the stack nor takes long', () => {
    const n = 20_000;
    const msgs: Msg[] = Array.from({ length: n }, (_, i) => ({ id: `m${i}`, refs: i > 0 ? [`m${i - 1}`] : [], date: i }));
    const t0 = performance.now();
    const text = thread('references', msgs);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
    assert.equal(text, `(${Array.from({ length: n }, (_, i) => i + 1).join(' ')})`);
  });

  test('References crafted to force loop checks stay near-linear', () => {
    // A long chain, and every message listing deep and shallow IDs alternately:
    // each pair asks "is the deep one below the root?".
    const n = 5000;
    const msgs: Msg[] = Array.from({ length: n }, (_, i) => {
      const refs: string[] = [];
      for (let k = 0; k < 64 && i > 0; k++) refs.push(`m${i - 1}`, 'm0');
      if (i > 0) refs.push(`m${i - 1}`);
      return { id: `m${i}`, refs, date: i };
    });
    const t0 = performance.now();
    const text = thread('references', msgs);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
    assert.equal(text, `(${Array.from({ length: n }, (_, i) => i + 1).join(' ')})`);
  });
});

describe('ORDEREDSUBJECT', () => {
  test('groups by base subject, first message the parent, threads by first date', () => {
    const msgs: Msg[] = [
      { subject: 'Plan', date: 10 },
      { subject: 'Re: plan', date: 5 },
      { subject: 'Build', date: 20 },
      { subject: 'Fwd: Plan', date: 30 },
      { subject: '[x] PLAN', date: 30 },
      { subject: 'Other', date: 1 },
      { subject: 'Build (fwd)', date: 25 },
    ];
    assert.equal(thread('orderedsubject', msgs), '(6)(2 (1)(4)(5))(3 7)');
    assert.equal(thread('orderedsubject', []), '');
  });
});
