/**
 * The POP3 wire layer without sockets: the message encoder (CRLF, byte-
 * stuffing, TOP's line limit, octet counts) against a line-by-line model at
 * random chunk boundaries, and the shared line buffer's framing and limits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LineBuffer, type LineEvent } from '../src/net/line-buffer.js';
import { MessageEncoder } from '../src/pop3/wire/message-encoder.js';
import { bodyLines, errLine, okLine } from '../src/pop3/wire/response.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function chunkAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** Runs the encoder over chunks; returns the bytes it produced and its octet count. */
function encode(chunks: Buffer[], stuff: boolean, top: number | null): { out: Buffer; octets: number; done: boolean } {
  const enc = new MessageEncoder({ stuff, bodyLines: top });
  const pieces: Buffer[] = [];
  for (const c of chunks) {
    pieces.push(...enc.push(c));
    if (enc.done) break;
  }
  pieces.push(...enc.end());
  return { out: Buffer.concat(pieces), octets: enc.octets, done: enc.done };
}

/** The obvious line-by-line version of the same rules (RFC 1939 §3, §7). */
function model(msg: Buffer, stuff: boolean, top: number | null): { out: Buffer; octets: number } {
  const parts = msg.toString('latin1').split('\n');
  const last = parts.pop()!; // after the last LF: an unterminated line, or ''
  const lines = parts.map((l) => l + (l.endsWith('\r') ? '\n' : '\r\n'));
  if (last !== '') lines.push(`${last}\r\n`);
  const sent: string[] = [];
  let inBody = false;
  let left = top ?? Infinity;
  for (const line of lines) {
    sent.push(line);
    if (top === null) continue;
    // The blank line ends the header; then `top` body lines follow.
    if (!inBody) inBody = line === '\r\n';
    else left--;
    if (inBody && left === 0) break;
  }
  const octets = sent.reduce((n, l) => n + l.length, 0);
  return { out: b(sent.map((l) => (stuff && l.startsWith('.') ? `.${l}` : l)).join('')), octets };
}

/** Messages made of the characters that matter: dots, CR, LF, and a letter. */
const messageArb = fc.array(fc.constantFrom('.', '\r', '\n', '\r\n', 'a', 'Subject: x', '..'), { maxLength: 60 }).map((xs) => b(xs.join('')));
const cutsArb = fc.array(fc.nat(400), { maxLength: 12 });

describe('MessageEncoder', () => {
  test('matches the line model at every chunking, with and without stuffing, whole and TOP', () => {
    fc.assert(
      fc.property(messageArb, cutsArb, fc.boolean(), fc.option(fc.nat(4), { nil: null }), (msg, cuts, stuff, top) => {
        const want = model(msg, stuff, top);
        const whole = encode([msg], stuff, top);
        const cut = encode(chunkAt(msg, cuts), stuff, top);
        const bytewise = encode(
          [...msg].map((x) => Buffer.from([x])),
          stuff,
          top,
        );
        for (const got of [whole, cut, bytewise]) {
          assert.equal(got.out.toString('latin1'), want.out.toString('latin1'));
          assert.equal(got.octets, want.octets);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('the CRLF-clean fast path sends what the general path sends, at every chunking', () => {
    fc.assert(
      fc.property(messageArb, cutsArb, (raw, cuts) => {
        // model(…, false) is the message with CRLF line ends throughout: what crlfClean promises.
        const msg = model(raw, false, null).out;
        const want = encode([msg], true, null);
        const enc = new MessageEncoder({ stuff: true, bodyLines: null, crlfClean: true });
        const pieces = chunkAt(msg, cuts).flatMap((c) => enc.push(c));
        pieces.push(...enc.end());
        assert.equal(Buffer.concat(pieces).toString('latin1'), want.out.toString('latin1'));
        assert.equal(enc.octets, msg.length);
        assert.equal(want.octets, msg.length);
      }),
      { numRuns: 2000 },
    );
  });

  test('unstuffing what RETR sends gives back octets bytes, and no line of it is a lone "."', () => {
    fc.assert(
      fc.property(messageArb, cutsArb, (msg, cuts) => {
        const { out, octets } = encode(chunkAt(msg, cuts), true, null);
        const text = out.toString('latin1');
        assert.ok(text === '' || text.endsWith('\r\n'));
        const lines = text === '' ? [] : text.slice(0, -2).split('\r\n');
        assert.ok(!lines.includes('.'), 'a line of only "." would end the response early');
        const unstuffed = lines.map((l) => (l.startsWith('.') ? l.slice(1) : l));
        assert.equal(Buffer.byteLength(unstuffed.map((l) => `${l}\r\n`).join(''), 'latin1'), octets);
      }),
      { numRuns: 1000 },
    );
  });

  test('worked examples', () => {
    const crlf = b('Subject: a\r\n\r\n.hidden\r\nbody\r\n');
    assert.equal(encode([crlf], true, null).out.toString('latin1'), 'Subject: a\r\n\r\n..hidden\r\nbody\r\n');
    assert.equal(encode([crlf], true, null).octets, crlf.length, 'CRLF messages keep their stored size');
    const lf = b('Subject: a\n\nline\n.\n');
    const r = encode([lf], true, null);
    assert.equal(r.out.toString('latin1'), 'Subject: a\r\n\r\nline\r\n..\r\n');
    assert.equal(r.octets, lf.length + 4, 'each bare LF adds one octet');
    assert.equal(encode([b('no end')], true, null).out.toString('latin1'), 'no end\r\n');
    assert.equal(encode([b('no end')], true, null).octets, 8);
    assert.equal(encode([b('')], true, null).octets, 0);
    // TOP 0: header and blank line; TOP beyond the body: all of it.
    assert.equal(encode([b('A: 1\r\nB: 2\r\n\r\nx\r\ny\r\n')], true, 0).out.toString('latin1'), 'A: 1\r\nB: 2\r\n\r\n');
    assert.equal(encode([b('A: 1\r\n\r\nx\r\ny\r\n')], true, 1).out.toString('latin1'), 'A: 1\r\n\r\nx\r\n');
    assert.equal(encode([b('A: 1\r\n\r\nx\r\ny')], true, 99).out.toString('latin1'), 'A: 1\r\n\r\nx\r\ny\r\n');
    // A header without a blank line is sent whole.
    assert.equal(encode([b('A: 1\r\nB: 2')], true, 0).out.toString('latin1'), 'A: 1\r\nB: 2\r\n');
  });

  test('hands unchanged spans out as views of the input, not copies', () => {
    const chunk = b('Subject: a\r\n\r\nbody\r\n');
    const pieces = new MessageEncoder({ stuff: true, bodyLines: null }).push(chunk);
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0]!.buffer, chunk.buffer);
    assert.equal(pieces[0]!.byteOffset, chunk.byteOffset);
  });
});

/** All events of a reader fed the chunks. */
function readAll(chunks: Buffer[], max: number): Array<string | null> {
  const r = new LineBuffer(max);
  const out: Array<string | null> = [];
  const drain = (): void => {
    for (let ev: LineEvent | null; (ev = r.nextLine()); ) out.push(ev.type === 'line' ? ev.bytes.toString('latin1') : null);
  };
  for (const c of chunks) {
    r.push(c);
    drain();
  }
  return out;
}

describe('LineBuffer (POP3 commands)', () => {
  test('splits at CRLF or LF wherever the chunks break, and reports each overlong line once', () => {
    const lineArb = fc.tuple(fc.stringMatching(/^[A-Z0-9 .]{0,30}$/), fc.constantFrom('\r\n', '\n'));
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 20 }), cutsArb, (lines, cuts) => {
        const max = 20;
        const input = b(lines.map(([t, e]) => t + e).join(''));
        const want = lines.map(([t]) => (t.length > max ? null : t));
        assert.deepEqual(readAll(chunkAt(input, cuts), max), want);
        assert.deepEqual(
          readAll(
            [...input].map((x) => Buffer.from([x])),
            max,
          ),
          want,
        );
      }),
      { numRuns: 1000 },
    );
  });

  test('an endless line is reported at once and never buffered beyond the limit', () => {
    const r = new LineBuffer(100);
    r.push(b('x'.repeat(150)));
    assert.deepEqual(r.nextLine(), { type: 'too-long' });
    assert.equal(r.buffered, 0);
    for (let i = 0; i < 100; i++) r.push(b('y'.repeat(1000)));
    assert.equal(r.buffered, 0);
    assert.equal(r.nextLine(), null);
    r.push(b('yyy\r\nNOOP\r\n'));
    assert.equal(r.nextLine()?.type, 'line');
    assert.equal(r.nextLine(), null);
  });

  test('hasLine sees pipelined commands; clear() drops them (STLS)', () => {
    const r = new LineBuffer(100);
    r.push(b('STLS\r\nUSER evil\r\nPA'));
    assert.equal((r.nextLine() as { bytes: Buffer }).bytes.toString(), 'STLS');
    assert.equal(r.hasLine, true);
    r.clear();
    assert.equal(r.hasLine, false);
    assert.equal(r.nextLine(), null);
  });
});

describe('responses', () => {
  test('status lines carry no control characters and stay within 512 octets', () => {
    assert.equal(okLine('').toString(), '+OK\r\n');
    assert.equal(errLine('SYS/TEMP', 'a\r\nb').toString(), '-ERR [SYS/TEMP] a??b\r\n');
    assert.ok(errLine('AUTH', 'é'.repeat(1000)).length <= 512);
  });

  test('multi-line bodies are byte-stuffed', () => {
    assert.equal(bodyLines(['.x', 'y']).toString(), '..x\r\ny\r\n');
  });
});
