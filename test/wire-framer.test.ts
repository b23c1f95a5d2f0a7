/**
 * CommandFramer: random command streams are framed exactly as a simple model
 * says, identically at every chunking (whole, random cuts, 1-byte chunks),
 * with literals buffered, streamed or refused; plus targeted cases for the
 * limits, resynchronisation and literal smuggling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandFramer, tagOf, type FramerLimits } from '../src/imap/wire/framer.js';
import { ROOMY, bytewise, chunkAt, runFramer, type Decision, type NormEvent, type NormSegment } from './helpers/wire-harness.js';

interface Lit {
  bytes: Buffer;
  nonSync: boolean;
  binary: boolean;
  how: Decision;
}

/** One text line of a command: its text, the literal announced at its end (none on the last line), its line end. */
interface Line {
  text: Buffer;
  lit: Lit | null;
  eol: '\r\n' | '\n';
}

interface Cmd {
  tag: string;
  lines: Line[];
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const header = (l: Lit): string => `${l.binary ? '~' : ''}{${l.bytes.length}${l.nonSync ? '+' : ''}}`;

// ---- generators ---------------------------------------------------------

/** tag: ASTRING-CHAR except "+" (RFC 9051 §9), including "]" and "}". */
const TAG_CHARS = [..."abcxyzAZ019.-_!#$&',/:;<=>?@[]^`|}~"];
const ATOM_CHARS = [..."abcXYZ0159.-_!#$&',/:;<=>?@[^`|}~+"];
const QUOTED_CHARS = [...'ab Z09{}+~()*%[]-', '"', '\\', '\x01', '\x7f', '\xe9', '\xff'];

const tagArb = fc.string({ unit: fc.constantFrom(...TAG_CHARS), minLength: 1, maxLength: 12 });
const atomArb = fc.string({ unit: fc.constantFrom(...ATOM_CHARS), minLength: 1, maxLength: 10 });
/** A quoted string with escapes, often holding literal-header look-alikes. */
const quotedArb = fc
  .array(fc.oneof(fc.constantFrom(...QUOTED_CHARS), fc.constantFrom('{5}', '{5+}', '~{3}', '{0}', '\\{2}')), { maxLength: 12 })
  .map((parts) => `"${parts.join('').replace(/[\\"]/g, (c) => `\\${c}`)}"`);
/** A line ending inside an open quoted string: a trailing `{n}` there is no literal header. */
const openQuoteArb = fc.constantFrom(' "abc {5}', ' "x\\" {7+}', ' "\\\\\\" ~{2}', ' "{0}');
/** Now and then an argument long enough to break the small line limits. */
const longArb = fc.string({ unit: fc.constantFrom(...ATOM_CHARS), minLength: 30, maxLength: 160 });
const argArb = fc.oneof(
  { arbitrary: atomArb, weight: 4 },
  { arbitrary: quotedArb, weight: 4 },
  { arbitrary: fc.constantFrom('NIL', '()'), weight: 1 },
  { arbitrary: longArb, weight: 1 },
);
const litBytesArb = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 40, size: 'medium' }).map((u) => Buffer.from(u)),
      fc.constantFrom('\r\n', '\n', '\r', 'a1 NOOP\r\n', '{5}\r\n', '{3+}\r\n', '"', '\\', '\x00').map(b),
    ),
    { maxLength: 5 },
  )
  .map((parts) => Buffer.concat(parts));
const decisionArb = fc.constantFrom<Decision>('buffer', 'buffer', 'stream', 'reject');
const litArb = fc.record({ bytes: litBytesArb, nonSync: fc.boolean(), binary: fc.boolean(), how: decisionArb });
const eolArb = fc.constantFrom<'\r\n' | '\n'>('\r\n', '\r\n', '\n');

const cmdArb: fc.Arbitrary<Cmd> = fc
  .record({
    tag: tagArb,
    pieces: fc.array(fc.record({ args: fc.array(argArb, { maxLength: 3 }), lit: litArb, eol: eolArb }), { maxLength: 3 }),
    lastArgs: fc.array(argArb, { maxLength: 4 }),
    openQuote: fc.option(openQuoteArb, { freq: 5 }),
    lastEol: eolArb,
  })
  .map(({ tag, pieces, lastArgs, openQuote, lastEol }) => {
    const lines: Line[] = pieces.map((p, i) => ({
      text: b(`${i === 0 ? tag : ''}${p.args.map((a) => ` ${a}`).join('')} `),
      lit: p.lit,
      eol: p.eol,
    }));
    const last = `${lines.length === 0 ? tag : ''}${lastArgs.map((a) => ` ${a}`).join('')}${openQuote ?? ''}`;
    lines.push({ text: b(last), lit: null, eol: lastEol });
    return { tag, lines };
  });

/** Either limits no command reaches, or small ones that many do. */
const limitsArb: fc.Arbitrary<FramerLimits> = fc.oneof(
  fc.constant(ROOMY),
  fc.record({ maxLineLength: fc.integer({ min: 70, max: 200 }), maxCommandSize: fc.integer({ min: 80, max: 400 }) }),
);

// ---- the model ----------------------------------------------------------

/**
 * What a conforming client sends for cmds and what the framer must report,
 * given the session's decisions. The client stops sending a command once it
 * would wait for a continuation that never comes (a refused synchronizing
 * literal, or a synchronizing literal after the command was answered with an
 * error); it sends the rest of a command with non-synchronizing literals anyway.
 */
function model(cmds: readonly Cmd[], limits: FramerLimits): { wire: Buffer; events: NormEvent[]; decisions: Decision[] } {
  const wire: Buffer[] = [];
  const events: NormEvent[] = [];
  const decisions: Decision[] = [];
  let streamId = 1;
  for (const cmd of cmds) {
    let bytes = 0;
    let dropping = false;
    const segs: NormSegment[] = [];
    for (const { text, lit, eol } of cmd.lines) {
      const body = Buffer.concat([text, b(lit ? header(lit) : '')]);
      wire.push(body, b(eol));
      if (!dropping) {
        const lf = body.length + eol.length - 1;
        if (lf > limits.maxLineLength) {
          events.push({ t: 'error', reason: 'line-too-long', tag: cmd.tag });
          dropping = true;
        } else if ((bytes += lf + 1) > limits.maxCommandSize) {
          events.push({ t: 'error', reason: 'command-too-large', tag: cmd.tag });
          dropping = true;
        }
      }
      if (dropping) {
        if (!lit?.nonSync) break;
        wire.push(lit.bytes);
        continue;
      }
      segs.push({ k: 'text', s: text.toString('latin1') });
      if (!lit) {
        events.push({ t: 'command', segs: [...segs] });
        break;
      }
      events.push({ t: 'literal', size: lit.bytes.length, nonSync: lit.nonSync, binary: lit.binary, segs: [...segs] });
      decisions.push(lit.how);
      if (lit.how === 'reject') {
        if (!lit.nonSync) break;
        dropping = true;
        wire.push(lit.bytes);
        continue;
      }
      wire.push(lit.bytes);
      if (lit.how === 'buffer') {
        segs.push({ k: 'literal', s: lit.bytes.toString('latin1'), binary: lit.binary });
        bytes += lit.bytes.length;
      } else {
        if (lit.bytes.length > 0) events.push({ t: 'data', s: lit.bytes.toString('latin1') });
        events.push({ t: 'end', id: streamId });
        segs.push({ k: 'stream', size: lit.bytes.length, binary: lit.binary, id: streamId++ });
      }
    }
  }
  return { wire: Buffer.concat(wire), events, decisions };
}

const decideBy =
  (decisions: readonly Decision[]) =>
  (_: unknown, i: number): Decision => {
    const d = decisions[i];
    if (d === undefined) throw new Error(`unexpected literal announce #${i}`);
    return d;
  };

// ---- properties ---------------------------------------------------------

test('framer: any command stream frames as the model says, at any chunking', () => {
  fc.assert(
    fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 5 }), limitsArb, fc.array(fc.nat(), { maxLength: 30, size: 'max' }), (cmds, limits, cuts) => {
      const { wire, events, decisions } = model(cmds, limits);
      const decide = decideBy(decisions);
      assert.deepEqual(runFramer([wire], limits, decide), events, 'whole');
      assert.deepEqual(runFramer(chunkAt(wire, cuts), limits, decide), events, 'random chunks');
      assert.deepEqual(runFramer(bytewise(wire), limits, decide), events, '1-byte chunks');
    }),
    { numRuns: 400 },
  );
});

test('framer: streamed literals arrive byte-exact at any chunking, then literal-end, then the rest of the command', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 3000, size: 'max' }).map((u) => Buffer.from(u)),
      fc.boolean(),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 40, size: 'max' }),
      (data, nonSync, binary, cuts) => {
        const lit = `${binary ? '~' : ''}{${data.length}${nonSync ? '+' : ''}}`;
        const wire = Buffer.concat([b(`A1 APPEND INBOX (\\Seen) ${lit}\r\n`), data, b(' UTF8 (~{1}\r\n'), b('x'), b(')\r\nA2 NOOP\r\n')]);
        const expected: NormEvent[] = [
          { t: 'literal', size: data.length, nonSync, binary, segs: [{ k: 'text', s: 'A1 APPEND INBOX (\\Seen) ' }] },
          ...(data.length > 0 ? [{ t: 'data' as const, s: data.toString('latin1') }] : []),
          { t: 'end', id: 1 },
          {
            t: 'literal',
            size: 1,
            nonSync: false,
            binary: true,
            segs: [
              { k: 'text', s: 'A1 APPEND INBOX (\\Seen) ' },
              { k: 'stream', size: data.length, binary, id: 1 },
              { k: 'text', s: ' UTF8 (' },
            ],
          },
          {
            t: 'command',
            segs: [
              { k: 'text', s: 'A1 APPEND INBOX (\\Seen) ' },
              { k: 'stream', size: data.length, binary, id: 1 },
              { k: 'text', s: ' UTF8 (' },
              { k: 'literal', s: 'x', binary: true },
              { k: 'text', s: ')' },
            ],
          },
          { t: 'command', segs: [{ k: 'text', s: 'A2 NOOP' }] },
        ];
        const decide = (_: unknown, i: number): Decision => (i === 0 ? 'stream' : 'buffer');
        for (const chunks of [[wire], chunkAt(wire, cuts), bytewise(wire)]) {
          // Every literal-chunk holds bytes of the literal only, in order, and
          // keeps them after later input arrived (the sink may write them later).
          let streamed = 0;
          const held: Buffer[] = [];
          const events = runFramer(chunks, ROOMY, decide, (ev) => {
            if (ev.type === 'literal-chunk') {
              assert.ok(ev.data.equals(data.subarray(streamed, streamed + ev.data.length)));
              streamed += ev.data.length;
              held.push(ev.data);
            }
          });
          assert.equal(streamed, data.length);
          assert.ok(Buffer.concat(held).equals(data), 'streamed chunks were overwritten');
          assert.deepEqual(events, expected);
        }
      },
    ),
    { numRuns: 200 },
  );
});

// ---- literal headers and quoting ----------------------------------------

test('framer: a {n} inside a quoted string is not a literal header', () => {
  const decide = (): Decision => 'buffer';
  for (const line of ['a LOGIN "x {5}', 'a LOGIN "x\\" {5}', 'a LOGIN "\\\\\\" ~{5+}']) {
    assert.deepEqual(runFramer([b(`${line}\r\n`)], ROOMY, decide), [{ t: 'command', segs: [{ k: 'text', s: line }] }], line);
  }
  // A closed quoted string ending in a backslash escape: the header after it is real.
  const events = runFramer([b('a LOGIN "x\\\\" {2}\r\nab\r\n')], ROOMY, decide);
  assert.deepEqual(events.at(-1), {
    t: 'command',
    segs: [
      { k: 'text', s: 'a LOGIN "x\\\\" ' },
      { k: 'literal', s: 'ab', binary: false },
      { k: 'text', s: '' },
    ],
  });
});

test('framer: literal headers the grammar does not allow are plain text', () => {
  for (const line of ['a X {}', 'a X {+}', 'a X {12345678901}', 'a X {5', 'a X 5}', 'a X {-1}', 'a X {5++}', 'a X ~~{5}x']) {
    assert.deepEqual(
      runFramer([b(`${line}\r\n`)], ROOMY, () => 'buffer'),
      [{ t: 'command', segs: [{ k: 'text', s: line }] }],
      line,
    );
  }
});

test('framer: a huge announced literal is announced without reading any of it', () => {
  for (const nonSync of [false, true]) {
    const framer = new CommandFramer(ROOMY);
    const after = b('0123456789 more bytes\r\n');
    framer.push(Buffer.concat([b(`a APPEND INBOX {4294967295${nonSync ? '+' : ''}}\r\n`), after]));
    const ev = framer.next();
    assert.equal(ev?.type, 'literal');
    assert.ok(ev?.type === 'literal');
    assert.equal(ev.announce.size, 4294967295);
    assert.equal(ev.announce.nonSync, nonSync);
    assert.equal(framer.buffered, after.length, 'nothing after the header was consumed');
    assert.ok(framer.awaitingDecision);
    assert.equal(framer.next(), null);
    assert.equal(framer.buffered, after.length);
    assert.equal(framer.literalFits(ev.announce.size), false);
    framer.rejectLiteral();
    if (nonSync) {
      // The client sends the 4 GiB anyway: everything is literal data, skipped unstored.
      assert.equal(framer.next(), null);
      assert.equal(framer.buffered, 0);
      framer.push(b('b NOOP\r\n'));
      assert.equal(framer.next(), null);
    } else {
      // The client waits for "+", gets the tagged reply and goes on: the bytes are a new command.
      assert.deepEqual(framer.next(), { type: 'command', segments: [{ kind: 'text', bytes: b('0123456789 more bytes') }] });
    }
  }
});

test('framer: acceptLiteral/rejectLiteral without a pending literal throw', () => {
  const framer = new CommandFramer(ROOMY);
  assert.throws(() => framer.acceptLiteral('buffer'));
  assert.throws(() => framer.rejectLiteral());
});

// ---- refusing literals --------------------------------------------------

test('framer: a refused non-synchronizing literal and the rest of its command are skipped unstored', () => {
  const framer = new CommandFramer({ maxLineLength: 1000, maxCommandSize: 10_000 });
  framer.push(b('a APPEND INBOX {1000000+}\r\n'));
  assert.equal(framer.next()?.type, 'literal');
  framer.rejectLiteral();
  const chunk = Buffer.alloc(4096, 'x');
  chunk.write('\r\nz DELETE INBOX\r\n', 100, 'latin1');
  for (let sent = 0; sent < 1_000_000; sent += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, 1_000_000 - sent));
    framer.push(piece);
    assert.equal(framer.next(), null, 'literal bytes never surface as commands');
    assert.equal(framer.buffered, 0, 'skipped bytes are not kept');
  }
  // The rest of the refused command, with a second non-synchronizing literal, then a new command.
  framer.push(b(' {6+}\r\nc X\r\n) "tail {9}"\r\nb NOOP\r\n'));
  assert.deepEqual(framer.next(), { type: 'command', segments: [{ kind: 'text', bytes: b('b NOOP') }] });
  assert.equal(framer.next(), null);
});

test('framer: the bytes of a refused command do not count against the next command', () => {
  // Regression: the tail line of a refused command used to stay in the command size count.
  const limits = { maxLineLength: 200, maxCommandSize: 100 };
  const tail = ` ${'x'.repeat(80)}`;
  const next = `b SELECT ${'y'.repeat(40)}`;
  const events = runFramer([b(`a APPEND INBOX {3+}\r\nabc${tail}\r\n${next}\r\n`)], limits, () => 'reject');
  assert.deepEqual(events.slice(1), [{ t: 'command', segs: [{ k: 'text', s: next }] }]);
});

test('framer: an over-long line inside a refused command ends the refusal quietly', () => {
  // Regression: this used to report a second error and then swallow the next command.
  const limits = { maxLineLength: 100, maxCommandSize: 10_000 };
  const wire = b(`a APPEND INBOX {3+}\r\nabc ${'x'.repeat(300)}\r\nb NOOP\r\n`);
  for (const chunks of [[wire], bytewise(wire)]) {
    assert.deepEqual(runFramer(chunks, limits, () => 'reject').slice(1), [{ t: 'command', segs: [{ k: 'text', s: 'b NOOP' }] }]);
  }
});

// ---- limits and resynchronisation ---------------------------------------

test('framer: line-too-long reports the tag, stays bounded and resynchronises at the next line', () => {
  const limits = { maxLineLength: 100, maxCommandSize: 10_000 };
  const framer = new CommandFramer(limits);
  const events: unknown[] = [];
  framer.push(b('t1 SEARCH TEXT '));
  for (let i = 0; i < 1000; i++) {
    framer.push(Buffer.alloc(50, 'a'));
    for (let ev = framer.next(); ev; ev = framer.next()) events.push(ev);
    assert.ok(framer.buffered <= 150, 'an over-long line is dropped as it arrives');
  }
  framer.push(b('aaa\r\nt2 NOOP\r\n'));
  for (let ev = framer.next(); ev; ev = framer.next()) events.push(ev);
  assert.deepEqual(events, [
    { type: 'error', reason: 'line-too-long', tag: 't1' },
    { type: 'command', segments: [{ kind: 'text', bytes: b('t2 NOOP') }] },
  ]);
});

test('framer: the line limit counts the bytes before LF, CR included', () => {
  const limits = { maxLineLength: 10, maxCommandSize: 10_000 };
  assert.deepEqual(runFramer([b('a 34567890\nb\n')], limits, () => 'buffer')[0], { t: 'command', segs: [{ k: 'text', s: 'a 34567890' }] });
  assert.deepEqual(runFramer([b('a 3456789\r\nb\n')], limits, () => 'buffer')[0], { t: 'command', segs: [{ k: 'text', s: 'a 3456789' }] });
  assert.deepEqual(
    runFramer([b('a 34567890\r\nb\n')], limits, () => 'buffer'),
    [
      { t: 'error', reason: 'line-too-long', tag: 'a' },
      { t: 'command', segs: [{ k: 'text', s: 'b' }] },
    ],
  );
});

test('framer: an over-long line ending in a non-synchronizing literal does not smuggle the literal as commands', () => {
  // Regression: the literal's bytes used to be framed as commands after the error.
  const limits = { maxLineLength: 100, maxCommandSize: 10_000 };
  const msg = 'a2 DELETE INBOX\r\n';
  const wire = b(`a1 APPEND INBOX (${'x'.repeat(200)}) {${msg.length}+}\r\n${msg} "q {4+}"\r\na3 NOOP\r\n`);
  for (const chunks of [[wire], bytewise(wire)]) {
    assert.deepEqual(
      runFramer(chunks, limits, () => 'buffer'),
      [
        { t: 'error', reason: 'line-too-long', tag: 'a1' },
        { t: 'command', segs: [{ k: 'text', s: 'a3 NOOP' }] },
      ],
    );
  }
});

test('framer: command-too-large reports the tag and skips the rest of the command', () => {
  const limits = { maxLineLength: 1000, maxCommandSize: 50 };
  // A buffered literal the session accepted without checking literalFits() counts against the limit.
  const wire = b(`c1 LOGIN {40}\r\n${'p'.repeat(40)} {3+}\r\nabc {2+}\r\nxy\r\nc2 NOOP\r\n`);
  for (const chunks of [[wire], bytewise(wire)]) {
    const events = runFramer(chunks, limits, () => 'buffer');
    assert.deepEqual(events.slice(1), [
      { t: 'error', reason: 'command-too-large', tag: 'c1' },
      { t: 'command', segs: [{ k: 'text', s: 'c2 NOOP' }] },
    ]);
  }
  const f = new CommandFramer(limits);
  f.push(b('c1 LOGIN {40}\r\n'));
  f.next();
  assert.equal(f.literalFits(35), true);
  assert.equal(f.literalFits(36), false);
});

test('framer: error tags are the command tag when there is one', () => {
  assert.equal(tagOf(b('a1 NOOP')), 'a1');
  assert.equal(tagOf(b('x]}~ NOOP')), 'x]}~', 'tag = ASTRING-CHAR except "+": "]" and "}" are allowed');
  assert.equal(tagOf(b('a+b NOOP')), null);
  assert.equal(tagOf(b('* NOOP')), null);
  assert.equal(tagOf(b('(a) NOOP')), null);
  assert.equal(tagOf(b(' a NOOP')), null);
  assert.equal(tagOf(b('a')), null, 'no separator: the line may not be complete');
  assert.equal(tagOf(b(`${'t'.repeat(64)} x`)), 't'.repeat(64));
  assert.equal(tagOf(b(`${'t'.repeat(65)} x`)), null);
  const limits = { maxLineLength: 80, maxCommandSize: 10_000 };
  assert.deepEqual(runFramer([b(`${'*'.repeat(100)}\r\nb NOOP\r\n`)], limits, () => 'buffer')[0], { t: 'error', reason: 'line-too-long', tag: null });
});

test('framer: a line arriving one byte at a time costs linear time', () => {
  // Joining chunks by copying the whole pending line each time would take minutes here.
  const size = 1 << 20;
  const framer = new CommandFramer({ maxLineLength: size, maxCommandSize: 2 * size });
  const line = Buffer.alloc(size - 2, 'a');
  line.write('t ', 0);
  const started = performance.now();
  for (let i = 0; i < line.length; i++) {
    framer.push(line.subarray(i, i + 1));
    assert.equal(framer.next(), null);
  }
  framer.push(Buffer.from('\r\n'));
  const ev = framer.next();
  assert.ok(ev?.type === 'command' && ev.segments[0]?.kind === 'text' && ev.segments[0].bytes.equals(line));
  assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
});

test('framer: a dropped command with thousands of literals is skipped in batches (finding 6, issue 18)', () => {
  const framer = new CommandFramer(ROOMY);
  const lits = ' {3+}\r\nabc'.repeat(1000);
  framer.push(b(`a APPEND INBOX {3+}\r\nabc${lits}\r\nb NOOP\r\n`));
  const first = framer.next();
  assert.equal(first?.type, 'literal');
  framer.rejectLiteral();
  let skips = 0;
  let ev = framer.next();
  for (let i = 0; i < 100 && ev?.type === 'skipped'; i++, ev = framer.next()) skips++;
  // 1,001 literals to skip, at most 256 per call.
  assert.equal(skips, 3);
  assert.deepEqual(ev, { type: 'command', segments: [{ kind: 'text', bytes: b('b NOOP') }] });
});
