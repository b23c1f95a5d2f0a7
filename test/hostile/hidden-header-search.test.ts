/**
 * Finding 20 (issue 18): a header field after the 2,000th (or after 64 KB of
 * header text) is still found by SEARCH HEADER and TEXT: such a message is
 * matched on its raw header, bounded by the message size.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let c: RawClient;
let n = 0;

async function append(message: string): Promise<void> {
  const r = await c.command(`a${n++}`, `APPEND INBOX {${Buffer.byteLength(message)}+}\r\n${message}`, 10_000);
  assert.match(r.tagged, /^a\d+ OK/);
}

async function search(criteria: string): Promise<string> {
  const r = await c.command(`s${n++}`, `SEARCH ${criteria}`, 10_000);
  assert.match(r.tagged, /^s\d+ OK/, criteria);
  return r.lines.find((l) => l.startsWith('* SEARCH'))!;
}

before(async () => {
  srv = await startTestServer();
  await srv.addUser('eve', 'pw');
  c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
  const filler = (count: number, width: number) => Array.from({ length: count }, (_, i) => `X-Filler-${i}: ${'f'.repeat(width)}\r\n`).join('');
  // 1: 2,500 fields, the targets last.
  await append(`${filler(2497, 4)}X-Hidden: needle-one\r\nSubject: hidden-subject\r\nFrom: Hidden <hidden@example.org>\r\n\r\nbody\r\n`);
  // 2: few fields but 100 KB of header text before the target.
  await append(`${filler(100, 1000)}X-Hidden: needle-two\r\n\r\nbody\r\n`);
  // 3: an ordinary message.
  await append('Subject: plain\r\nX-Hidden: needle-three\r\n\r\nbody\r\n');
  assert.match((await c.command('sel', 'SELECT INBOX')).tagged, /^sel OK/);
});
after(async () => {
  c.close();
  await srv.stop();
});

describe('finding 20: header fields past the indexed ones are searchable', () => {
  test('SEARCH HEADER finds the last of 2,500 fields and a field after 100 KB of header text', async () => {
    assert.equal(await search('HEADER X-Hidden needle-one'), '* SEARCH 1');
    assert.equal(await search('HEADER X-Hidden needle-two'), '* SEARCH 2');
    assert.equal(await search('HEADER X-Hidden needle'), '* SEARCH 1 2 3');
    assert.equal(await search('NOT HEADER X-Hidden needle-one'), '* SEARCH 2 3');
    assert.equal(await search('HEADER X-Filler-2496 ffff'), '* SEARCH 1');
  });

  test('TEXT and the header keys answered from header facts see them too', async () => {
    assert.equal(await search('TEXT needle-one'), '* SEARCH 1');
    assert.equal(await search('TEXT needle-two'), '* SEARCH 2');
    assert.equal(await search('HEADER SUBJECT hidden-subject'), '* SEARCH 1');
    assert.equal(await search('OR HEADER SUBJECT hidden-subject HEADER SUBJECT plain'), '* SEARCH 1 3');
    assert.equal(await search('HEADER FROM hidden@example.org'), '* SEARCH 1');
    assert.equal(await search('HEADER SUBJECT nothing-like-it'), '* SEARCH');
  });
});
