/**
 * FETCH answers messages in batches (store round trips per 256 messages,
 * section bytes read together up to a memory budget, one write per batch) and
 * streams sections too big for memory. These tests cross every boundary of
 * that: batch and budget edges with mixed sizes, a message between the
 * streaming threshold and the small-read limit, one above both, exact literal
 * sizes throughout, and a message expunged by another session that must still
 * be fetchable within a batch (RFC 2180 §4.1).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('batch', 'pw');
});
after(async () => srv.stop());

const session = (): Promise<RawClient> => RawClient.login(srv.imapsPort, 'batch', 'pw');

/** Message i: a header and a body of `bodySize` octets, with lines that vary per message (and one starting with "."). */
function message(i: number, bodySize: number): Buffer {
  const header = Buffer.from(`From: sender${i}@example.com\r\nSubject: message ${i}\r\nMessage-ID: <m${i}@example.com>\r\n\r\n`);
  const line = Buffer.from(`${`.line of message ${i} `.padEnd(70, String.fromCharCode(97 + (i % 26)))}\r\n`);
  const body = Buffer.alloc(bodySize);
  for (let at = 0; at < bodySize; at += line.length) line.copy(body, at, 0, Math.min(line.length, bodySize - at));
  return Buffer.concat([header, body]);
}

/** Body sizes: mostly small and varied, with messages above the streaming threshold (128 KiB) and above the small-read limit (256 KiB). */
function bodySize(i: number): number {
  if (i === 7) return 700 * 1024;
  if (i === 130 || i === 257) return 200 * 1024;
  if (i % 50 === 3) return 60 * 1024;
  return (i * 7919) % 9000;
}

/** The literals of a response line, in order, checked to be framed exactly ({n} then n octets). */
function literalsOf(line: string): { rest: string; literals: Buffer[] } {
  const literals: Buffer[] = [];
  let rest = '';
  let at = 0;
  const re = /\{(\d+)\}\r\n/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const start = m.index + m[0].length;
    literals.push(Buffer.from(line.slice(start, start + Number(m[1])), 'latin1'));
    rest += `${line.slice(at, m.index)}{}`;
    at = start + Number(m[1]);
    re.lastIndex = at;
  }
  return { rest: rest + line.slice(at), literals };
}

async function fill(c: RawClient, name: string, messages: Buffer[]): Promise<void> {
  assert.match((await c.command('c', `CREATE ${name}`)).tagged, /OK/);
  // MULTIAPPEND (RFC 3502) with LITERAL+ (RFC 7888): 20 messages per command.
  for (let i = 0; i < messages.length; i += 20) {
    const parts: Buffer[] = [Buffer.from(`APPEND ${name}`)];
    for (const m of messages.slice(i, i + 20)) parts.push(Buffer.from(` {${m.length}+}\r\n`), m);
    assert.match((await c.command('a', Buffer.concat(parts), 30_000)).tagged, /OK/);
  }
}

test('FETCH across batch and memory-budget boundaries returns every byte, literal sizes exact', { timeout: 180_000 }, async () => {
  const c = await session();
  const messages = Array.from({ length: 300 }, (_, i) => message(i + 1, bodySize(i + 1)));
  await fill(c, 'mixed', messages);
  assert.match((await c.command('s', 'SELECT mixed')).tagged, /OK/);
  const r = await c.command('f', 'FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[] BODY.PEEK[TEXT]<2.100> ENVELOPE)', 60_000);
  assert.match(r.tagged, /^f OK/);
  assert.equal(r.lines.length, messages.length);
  r.lines.forEach((line, k) => {
    const m = messages[k]!;
    const { rest, literals } = literalsOf(line);
    assert.equal(
      rest.replace(/ENVELOPE \(.*\)\)$/, 'ENVELOPE ...)'),
      `* ${k + 1} FETCH (UID ${k + 1} RFC822.SIZE ${m.length} BODY[HEADER.FIELDS (SUBJECT)] {} BODY[] {} BODY[TEXT]<2> {} ENVELOPE ...)`,
      `message ${k + 1}`,
    );
    assert.equal(literals[0]!.toString(), `Subject: message ${k + 1}\r\n\r\n`);
    assert.ok(literals[1]!.equals(m), `BODY[] of message ${k + 1}`);
    const text = m.subarray(m.indexOf('\r\n\r\n') + 4);
    assert.ok(literals[2]!.equals(text.subarray(2, 102)), `BODY[TEXT]<2.100> of message ${k + 1}`);
    assert.match(line, new RegExp(`ENVELOPE \\(NIL "message ${k + 1}" \\(\\(NIL NIL "sender${k + 1}" "example.com"\\)\\)`));
  });
  // BODY[] (not PEEK) of a range with a streamed message: \Seen reported in each response.
  const seen = await c.command('g', 'FETCH 5:9 BODY[]', 60_000);
  assert.match(seen.tagged, /^g OK/);
  assert.equal(seen.lines.length, 5);
  seen.lines.forEach((line, k) => {
    const { rest, literals } = literalsOf(line);
    assert.match(rest, new RegExp(`^\\* ${k + 5} FETCH \\(BODY\\[\\] \\{\\} FLAGS \\(\\\\Seen( \\\\Recent)?\\)\\)$`));
    assert.ok(literals[0]!.equals(messages[k + 4]!));
  });
  c.close();
});

test('a message expunged by another session is still fetched within its batch (RFC 2180 §4.1)', { timeout: 120_000 }, async () => {
  const a = await session();
  const messages = Array.from({ length: 40 }, (_, i) => message(1000 + i, bodySize(i + 1)));
  await fill(a, 'shared', messages);
  assert.match((await a.command('s', 'SELECT shared')).tagged, /OK/);
  const b = await session();
  assert.match((await b.command('s', 'SELECT shared')).tagged, /OK/);
  assert.match((await b.command('d', 'UID STORE 7,20 +FLAGS.SILENT (\\Deleted)')).tagged, /OK/);
  assert.match((await b.command('x', 'EXPUNGE')).tagged, /OK/);
  b.close();
  // RFC 9051 §7.4.1: no EXPUNGE during FETCH, so A still numbers 40 messages and gets them all.
  const r = await a.command('f', 'FETCH 1:* (UID BODY.PEEK[] ENVELOPE)', 30_000);
  assert.match(r.tagged, /^f OK/);
  const fetched = r.lines.filter((l) => / FETCH /.test(l));
  assert.equal(fetched.length, 40);
  fetched.forEach((line, k) => {
    assert.match(line, new RegExp(`^\\* ${k + 1} FETCH \\(UID ${k + 1} BODY\\[\\] \\{${messages[k]!.length}\\}\\r\\n`));
    assert.ok(literalsOf(line).literals[0]!.equals(messages[k]!), `message ${k + 1}`);
  });
  // The expunges are reported after the FETCH completed (a NOOP at the latest).
  const noop = await a.command('n', 'NOOP');
  const expunges = [...r.lines, ...noop.lines].filter((l) => /^\* \d+ EXPUNGE$/.test(l));
  // Either order numbers the same two messages (RFC 9051 §7.5.1: each EXPUNGE renumbers the ones after it).
  assert.ok(['* 20 EXPUNGE,* 7 EXPUNGE', '* 7 EXPUNGE,* 19 EXPUNGE'].includes(expunges.join()), expunges.join());
  a.close();
});

test('a FETCH to a client that stops reading keeps its bytes while other sessions FETCH (pooled read slabs)', { timeout: 180_000 }, async () => {
  // The slow client's responses wait in the server's socket queue, pointing into the
  // slabs their bodies were read into; the busy session's FETCHes take slabs from the
  // same pool. A slab given back too early would carry the busy session's bytes.
  const c = await session();
  const slowMessages = Array.from({ length: 300 }, (_, i) => message(2000 + i, 24_000 + i));
  const busyMessages = Array.from({ length: 60 }, (_, i) => message(5000 + i, 24_000 + i));
  await fill(c, 'slow', slowMessages);
  await fill(c, 'busy', busyMessages);
  c.close();

  const slow = await session();
  const busy = await session();
  try {
    assert.match((await slow.command('s', 'SELECT slow')).tagged, /OK/);
    slow.rawSocket().pause();
    slow.send('f FETCH 1:* BODY.PEEK[]\r\n');

    assert.match((await busy.command('s', 'SELECT busy')).tagged, /OK/);
    for (let round = 0; round < 5; round++) {
      const r = await busy.command(`b${round}`, 'FETCH 1:* BODY.PEEK[]', 30_000);
      assert.match(r.tagged, /OK/);
      r.lines.forEach((line, k) => assert.ok(literalsOf(line).literals[0]!.equals(busyMessages[k]!), `busy message ${k + 1}`));
    }

    slow.rawSocket().resume();
    const r = await slow.readTagged('f', 60_000);
    assert.match(r.tagged, /^f OK/);
    assert.equal(r.lines.length, slowMessages.length);
    r.lines.forEach((line, k) => assert.ok(literalsOf(line).literals[0]!.equals(slowMessages[k]!), `slow message ${k + 1}`));
  } finally {
    slow.close();
    busy.close();
  }
});
