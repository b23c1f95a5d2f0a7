/**
 * Messages holding NUL octets (APPEND with literal8, RFC 3516 §4.4; LMTP
 * BDAT with BODY=BINARYMIME, RFC 3030) over real sockets: a non-BINARY
 * literal never carries NUL (RFC 9051 §9: a literal is *CHAR8), each NUL
 * arrives as 0x80 at the same size; BINARY sends the stored bytes as
 * literal8 (RFC 3516 §4.3); sizes and BODYSTRUCTURE stay consistent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LmtpClient } from './helpers/lmtp-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The stored bytes as a non-BINARY literal carries them: NUL → 0x80. */
const nul80 = (bytes: Buffer): Buffer => Buffer.from(bytes.map((c) => (c === 0 ? 0x80 : c)));

/** A NUL in the first header line (so BODY[]<0.20> has one), a binary body full of them. */
const SINGLE_HEADER = b(
  'X-Odd: a\0b\r\nFrom: a@example.com\r\nSubject: single\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n',
);
const SINGLE_BODY = b('\0\0start\0middle\r\n\0end\0');
const SINGLE = Buffer.concat([SINGLE_HEADER, SINGLE_BODY]);

/** Part 1 binary with NUL; part 2 base64 decoding to NUL; part 3 plain text. */
const BIN_PART = b('\0\0binary\0part\r\nwith\0NULs\r\n\0');
const B64_DECODED = b('a\0b\0\0c');
const MULTI_HEADER = b('From: a@example.com\r\nSubject: multi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n');
const MULTI = Buffer.concat([
  MULTI_HEADER,
  b('--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
  BIN_PART,
  b('\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'),
  b(B64_DECODED.toString('base64')),
  b('\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b--\r\n'),
]);

/** Bigger than FETCH's STREAM_THRESHOLD (128 KB): the streamed paths. */
const BIG_HEADER = b('Subject: big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n');
const BIG_BODY = Buffer.alloc(200_000, 0x61);
for (let i = 0; i < BIG_BODY.length; i += 997) BIG_BODY[i] = 0;
const BIG = Buffer.concat([BIG_HEADER, BIG_BODY]);

/** A literal in a response: `{n}` or literal8 `~{n}`. */
interface Literal {
  binary: boolean;
  bytes: Buffer;
  /** Offsets in the response line. */
  start: number;
  end: number;
}

/** A FETCH item's value: a literal, or the raw text of anything else. */
type Item = ({ kind: 'literal' } & Literal) | { kind: 'text'; text: string };

/**
 * Parses `* n FETCH (...)` strictly enough to prove it well-formed: balanced
 * lists, quoted strings, literal sizes that match. Returns the items by name
 * and checks that no NUL appears anywhere but inside a literal8.
 */
function parseFetch(line: Buffer): Map<string, Item> {
  const head = /^\* \d+ FETCH \(/.exec(line.subarray(0, 40).toString('latin1'));
  assert.ok(head, line.subarray(0, 80).toString('latin1'));
  let pos = head[0].length;
  const literals: Literal[] = [];
  const value = (): Item => {
    const c = line[pos];
    if (c === 0x7b || c === 0x7e) {
      const m = /^(~?)\{(\d+)\}\r\n/.exec(line.subarray(pos, pos + 32).toString('latin1'));
      assert.ok(m, `bad literal at ${pos}`);
      const start = pos + m[0].length;
      const end = start + Number(m[2]);
      assert.ok(end <= line.length, 'literal runs past the response');
      const lit: Literal = { binary: m[1] === '~', bytes: line.subarray(start, end), start, end };
      literals.push(lit);
      pos = end;
      return { kind: 'literal', ...lit };
    }
    const from = pos;
    if (c === 0x22) {
      for (pos++; line[pos] !== 0x22; pos++) {
        assert.ok(line[pos] !== 0x0d && line[pos] !== 0x0a && pos < line.length, 'unterminated quoted string');
        if (line[pos] === 0x5c) pos++;
      }
      pos++;
    } else if (c === 0x28) {
      for (pos++; line[pos] !== 0x29; ) {
        assert.ok(pos < line.length, 'unbalanced list');
        if (line[pos] === 0x20) pos++;
        else value();
      }
      pos++;
    } else {
      while (pos < line.length && line[pos] !== 0x20 && line[pos] !== 0x29 && line[pos] !== 0x28) pos++;
      assert.ok(pos > from, `empty value at ${pos}`);
    }
    return { kind: 'text', text: line.subarray(from, pos).toString('latin1') };
  };
  const items = new Map<string, Item>();
  while (line[pos] !== 0x29) {
    if (items.size > 0) assert.equal(line[pos++], 0x20);
    // The name, e.g. BODY[HEADER.FIELDS (X-ODD)]<0>: up to a space outside brackets.
    const from = pos;
    for (let depth = 0; depth > 0 || line[pos] !== 0x20; pos++) {
      assert.ok(pos < line.length, 'item name runs past the response');
      if (line[pos] === 0x5b) depth++;
      if (line[pos] === 0x5d) depth--;
    }
    const name = line.subarray(from, pos++).toString('latin1');
    items.set(name, value());
  }
  assert.equal(pos, line.length - 1, 'bytes after the closing parenthesis');
  // RFC 9051 §9: CHAR8 (%x01-ff) in a literal; NUL only inside literal8 (RFC 3516 §4.3).
  for (let at = line.indexOf(0); at >= 0; at = line.indexOf(0, at + 1)) {
    assert.ok(
      literals.some((l) => l.binary && l.start <= at && at < l.end),
      `NUL at ${at} outside a literal8`,
    );
  }
  return items;
}

/** The literal named `name`, checked to be of the expected kind. */
function literalItem(items: Map<string, Item>, name: string, binary: boolean): Buffer {
  const item = items.get(name);
  assert.ok(item && item.kind === 'literal', `${name}: ${JSON.stringify(item)} in ${[...items.keys()].join(', ')}`);
  assert.equal(item.binary, binary, `${name} sent as ${item.binary ? 'literal8' : 'literal'}`);
  return item.bytes;
}

function textItem(items: Map<string, Item>, name: string): string {
  const item = items.get(name);
  assert.ok(item && item.kind === 'text', `${name}: ${JSON.stringify(item)}`);
  return item.text;
}

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('nul', 'pw');
});
after(async () => srv.stop());

let boxes = 0;
/** A logged-in session with a new mailbox selected, holding the messages APPENDed as literal8 (RFC 3516 §4.4); INBOX when none. */
async function selected(...messages: Buffer[]): Promise<RawClient> {
  const { client: c } = await RawClient.connect(srv.imapsPort, { tls: true });
  assert.match((await c.command('l', 'LOGIN nul pw')).tagged, /^l OK/);
  const name = messages.length > 0 ? `n${++boxes}` : 'INBOX';
  if (messages.length > 0) assert.match((await c.command('c', `CREATE ${name}`)).tagged, /^c OK/);
  for (const m of messages) {
    assert.match((await c.command('a', Buffer.concat([b(`APPEND ${name} ~{${m.length}+}\r\n`), m]))).tagged, /^a OK \[APPENDUID/);
  }
  assert.match((await c.command('s', `SELECT ${name}`)).tagged, /^s OK/);
  return c;
}

/** FETCH of one message: its items, parsed and checked. */
async function fetchOne(c: RawClient, seq: number, items: string): Promise<Map<string, Item>> {
  const r = await c.command('f', `FETCH ${seq} (${items})`);
  assert.match(r.tagged, /^f OK/, `${items}: ${r.tagged}`);
  const lines = r.lines.filter((l) => / FETCH \(/.test(l));
  assert.equal(lines.length, 1, r.lines.join('\n'));
  return parseFetch(b(lines[0]!));
}

/** The whole message: BODY[] with NUL as 0x80 at the stored size, BINARY[] the stored bytes as literal8. */
async function checkWhole(c: RawClient, seq: number, stored: Buffer): Promise<void> {
  const f = await fetchOne(c, seq, 'BODY.PEEK[] RFC822.SIZE BINARY.PEEK[] BINARY.SIZE[]');
  assert.deepEqual(literalItem(f, 'BODY[]', false), nul80(stored));
  assert.equal(textItem(f, 'RFC822.SIZE'), String(stored.length));
  assert.deepEqual(literalItem(f, 'BINARY[]', true), stored);
  assert.equal(textItem(f, 'BINARY.SIZE[]'), String(stored.length));
}

describe('NUL bytes in FETCH responses', () => {
  test('single-part binary message: every non-BINARY literal has 0x80 for NUL, BINARY is literal8 with the stored bytes', async () => {
    const c = await selected(SINGLE);
    await checkWhole(c, 1, SINGLE);
    let f = await fetchOne(c, 1, 'BODY.PEEK[TEXT] BODY.PEEK[HEADER] BODY.PEEK[1] BODY.PEEK[]<0.20> BODY.PEEK[TEXT]<2.5> BODY.PEEK[HEADER.FIELDS (X-Odd)]');
    assert.deepEqual(literalItem(f, 'BODY[TEXT]', false), nul80(SINGLE_BODY));
    assert.deepEqual(literalItem(f, 'BODY[HEADER]', false), nul80(SINGLE_HEADER));
    assert.deepEqual(literalItem(f, 'BODY[1]', false), nul80(SINGLE_BODY));
    assert.deepEqual(literalItem(f, 'BODY[]<0>', false), nul80(SINGLE.subarray(0, 20)));
    assert.deepEqual(literalItem(f, 'BODY[TEXT]<2>', false), nul80(SINGLE_BODY.subarray(2, 7)));
    assert.deepEqual(literalItem(f, 'BODY[HEADER.FIELDS (X-ODD)]', false), b('X-Odd: a\x80b\r\n\r\n'));
    f = await fetchOne(c, 1, 'BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1]<1.4>');
    assert.deepEqual(literalItem(f, 'BINARY[1]', true), SINGLE_BODY);
    assert.equal(textItem(f, 'BINARY.SIZE[1]'), String(SINGLE_BODY.length));
    assert.deepEqual(literalItem(f, 'BINARY[1]<1>', true), SINGLE_BODY.subarray(1, 5));
    // RFC822 and RFC822.TEXT (not PEEK) set \Seen: FLAGS come along.
    f = await fetchOne(c, 1, 'RFC822 RFC822.TEXT RFC822.HEADER BODYSTRUCTURE ENVELOPE');
    assert.deepEqual(literalItem(f, 'RFC822', false), nul80(SINGLE));
    assert.deepEqual(literalItem(f, 'RFC822.TEXT', false), nul80(SINGLE_BODY));
    assert.deepEqual(literalItem(f, 'RFC822.HEADER', false), nul80(SINGLE_HEADER));
    assert.match(textItem(f, 'FLAGS'), /\\Seen/);
    assert.match(textItem(f, 'BODYSTRUCTURE'), new RegExp(`^\\("application" "octet-stream" NIL NIL NIL "binary" ${SINGLE_BODY.length} `, 'i'));
    c.close();
  });

  test('multipart: the binary part, the base64 part that decodes to NUL, the text part', async () => {
    const c = await selected(MULTI);
    await checkWhole(c, 1, MULTI);
    const f = await fetchOne(
      c,
      1,
      'BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[TEXT] BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[3] BODYSTRUCTURE BODY',
    );
    assert.deepEqual(literalItem(f, 'BODY[1]', false), nul80(BIN_PART));
    assert.deepEqual(literalItem(f, 'BODY[2]', false), b(B64_DECODED.toString('base64')));
    assert.deepEqual(literalItem(f, 'BODY[TEXT]', false), nul80(MULTI.subarray(MULTI_HEADER.length)));
    assert.deepEqual(literalItem(f, 'BINARY[1]', true), BIN_PART);
    assert.equal(textItem(f, 'BINARY.SIZE[1]'), String(BIN_PART.length));
    // Decoded content holding NUL is never sent as a plain literal.
    assert.deepEqual(literalItem(f, 'BINARY[2]', true), B64_DECODED);
    assert.equal(textItem(f, 'BINARY.SIZE[2]'), String(B64_DECODED.length));
    // RFC 3516 §4.3: without NUL, a string rather than literal8.
    const plain = f.get('BINARY[3]');
    assert.ok(plain && (plain.kind === 'text' ? plain.text === '"plain text"' : !plain.binary && plain.bytes.equals(b('plain text'))), JSON.stringify(plain));
    const structure = textItem(f, 'BODYSTRUCTURE');
    assert.match(
      structure,
      new RegExp(
        `^\\(\\("application" "octet-stream" NIL NIL NIL "binary" ${BIN_PART.length} NIL NIL NIL NIL\\)\\("application" "octet-stream" NIL NIL NIL "base64" `,
        'i',
      ),
    );
    assert.match(textItem(f, 'BODY'), /^\(\(/);
    c.close();
  });

  test('sections over the streaming threshold: BODY[] streams without NUL, BINARY[] streams as literal8', async () => {
    const c = await selected(BIG);
    await checkWhole(c, 1, BIG);
    let f = await fetchOne(c, 1, 'BODY.PEEK[TEXT]<1000.150000>');
    assert.deepEqual(literalItem(f, 'BODY[TEXT]<1000>', false), nul80(BIG_BODY.subarray(1000, 151_000)));
    f = await fetchOne(c, 1, 'BINARY.PEEK[1] BINARY.SIZE[1]');
    assert.deepEqual(literalItem(f, 'BINARY[1]', true), BIG_BODY);
    assert.equal(textItem(f, 'BINARY.SIZE[1]'), String(BIG_BODY.length));
    c.close();
  });

  test('several messages in one FETCH (one window): each gets its own bytes', async () => {
    const clean = b('Subject: clean\r\n\r\nno nul here\r\n');
    const expected = [SINGLE, clean, MULTI, SINGLE];
    const c = await selected(...expected);
    const r = await c.command('f', 'FETCH 1:4 (BODY.PEEK[] BINARY.PEEK[])');
    assert.match(r.tagged, /^f OK/);
    const responses = r.lines.filter((l) => / FETCH \(/.test(l)).map((l) => parseFetch(b(l)));
    assert.equal(responses.length, 4);
    responses.forEach((f, i) => {
      assert.deepEqual(literalItem(f, 'BODY[]', false), nul80(expected[i]!));
      assert.deepEqual(literalItem(f, 'BINARY[]', expected[i]!.includes(0)), expected[i]!);
    });
    // The stored bytes were not changed by the first FETCH.
    await checkWhole(c, 4, SINGLE);
    c.close();
  });

  test('a message delivered over LMTP with BDAT BODY=BINARYMIME', async () => {
    const body = b('\0lmtp\0body\r\n\0');
    const message = Buffer.concat([b('Subject: lmtp\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), body]);
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    client.send('LHLO test\r\nMAIL FROM:<s@example.org> BODY=BINARYMIME\r\nRCPT TO:<nul@example.com>\r\n');
    assert.deepEqual(
      (await client.replies(3)).map((r) => r.code),
      [250, 250, 250],
    );
    client.send(Buffer.concat([b(`BDAT ${message.length} LAST\r\n`), message]));
    // LMTP (RFC 2033 §4.2): BDAT LAST is answered once per recipient.
    assert.deepEqual(
      (await client.replies(1)).map((r) => r.code),
      [250],
    );
    client.close();

    const c = await selected();
    // Stored behind the trace fields LMTP adds.
    await checkWhole(c, 1, Buffer.concat([b('Return-Path: <s@example.org>\r\nDelivered-To: nul@example.com\r\n'), message]));
    const f = await fetchOne(c, 1, 'BODY.PEEK[TEXT] BINARY.PEEK[1]');
    assert.deepEqual(literalItem(f, 'BODY[TEXT]', false), nul80(body));
    assert.deepEqual(literalItem(f, 'BINARY[1]', true), body);
    c.close();
  });
});
