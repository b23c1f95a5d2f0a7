/**
 * PREVIEW (RFC 8970): the text extraction (first text part, markup removed,
 * whitespace collapsed, at most 200 characters) and FETCH PREVIEW with and
 * without LAZY over real sockets, in rev1 (literal) and UTF-8 (quoted) form.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { analyzeMessage } from '../src/mime/analyze.js';
import { htmlText, messagePreview, PREVIEW_CHARS, previewPart } from '../src/imap/preview.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'));

const PLAIN = crlf(['Subject: plain', '', 'Hello   Bob,', '', '\tthe  report', 'is late.', '']);

const ALTERNATIVE = crlf([
  'Subject: alt',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="OUT"',
  '',
  '--OUT',
  'Content-Type: multipart/alternative; boundary="IN"',
  '',
  '--IN',
  'Content-Type: text/plain; charset=iso-8859-1',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Gr=FC=DFe aus K=F6ln',
  '--IN',
  'Content-Type: text/html',
  '',
  '<p>HTML version</p>',
  '--IN--',
  '--OUT',
  'Content-Type: text/plain; name="notes.txt"',
  'Content-Disposition: attachment',
  '',
  'attached text',
  '--OUT--',
  '',
]);

const HTML_ONLY = crlf([
  'Subject: html',
  'Content-Type: text/html; charset=utf-8',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from(
    '<html><head><title>T</title><style>p{color:red}</style></head><body><!-- hidden --><p>First&nbsp;para &amp; <b>bo</b>ld</p><script>alert(1)</script><div>Second &#x263A; &lt;ok&gt;</div></body></html>',
  ).toString('base64'),
  '',
]);

const NO_TEXT = crlf(['Subject: pic', 'Content-Type: image/png', 'Content-Transfer-Encoding: base64', '', 'iVBORw0KGgo=', '']);

const LONG = crlf(['Subject: long', 'Content-Type: text/plain; charset=utf-8', '', `${'😀'.repeat(150)} ${'word '.repeat(100)}`, '']);

/** The preview of a message, reading its bytes as the server reads the blob. */
function preview(bytes: Buffer): Promise<string> {
  return messagePreview(analyzeMessage(bytes).root, async (start, end) => bytes.subarray(start, end));
}

describe('preview text (RFC 8970 §3.3)', () => {
  test('plain text, whitespace collapsed', async () => {
    assert.equal(await preview(PLAIN), 'Hello Bob, the report is late.');
  });

  test('the first text part, decoded (quoted-printable, ISO-8859-1), before HTML and attachments', async () => {
    assert.equal(await preview(ALTERNATIVE), 'Grüße aus Köln');
  });

  test('HTML: tags, comments, head, script and style removed, entities decoded; base64 decoded', async () => {
    assert.equal(await preview(HTML_ONLY), 'First para & bold Second ☺ <ok>');
  });

  test('no text part: the empty string', async () => {
    assert.equal(previewPart(analyzeMessage(NO_TEXT).root), null);
    assert.equal(await preview(NO_TEXT), '');
  });

  test('at most 200 characters, counted in code points and never splitting one', async () => {
    const p = await preview(LONG);
    assert.equal([...p].length, PREVIEW_CHARS);
    assert.ok(p.startsWith(`${'😀'.repeat(150)} word`));
    assert.ok(!/[\uD800-\uDBFF]$/.test(p));
  });

  test('reads a bounded prefix of a huge part', async () => {
    const huge = crlf(['Subject: huge', '', `start ${'y'.repeat(5_000_000)}`, '']);
    const analysis = analyzeMessage(huge);
    let read = 0;
    const p = await messagePreview(analysis.root, async (start, end) => {
      read += end - start;
      return huge.subarray(start, end);
    });
    assert.ok(p.startsWith('start yyy'));
    assert.ok(read <= 64 * 1024, `read ${read} octets`);
  });

  test('htmlText keeps inline runs together and survives unclosed markup', () => {
    assert.equal(htmlText('a<b>b</b>c<br>d'), 'abc d');
    assert.equal(htmlText('x <script>never closed').trim(), 'x');
    assert.equal(htmlText('y <!-- open comment').trim(), 'y');
    assert.equal(htmlText('&bogus; &#0; &#xD800;'), '&bogus; &#0; &#xD800;');
    // 'İ' lower-cases to two code units: tag positions must still line up.
    assert.equal(htmlText('İİİ<SCRIPT>x</SCRIPT>ok<P>then'), 'İİİ ok then');
  });
});

describe('FETCH PREVIEW (RFC 8970)', () => {
  let srv: TestServer;
  let c: RawClient;

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('preview', 'pw');
    ({ client: c } = await RawClient.connect(srv.imapsPort, { tls: true }));
    await c.command('l', 'LOGIN preview pw');
    for (const m of [PLAIN, ALTERNATIVE, HTML_ONLY, NO_TEXT]) {
      assert.match((await c.command('a', Buffer.concat([Buffer.from(`APPEND INBOX {${m.length}+}\r\n`), m]))).tagged, /^a OK/);
    }
    await c.command('s', 'SELECT INBOX');
  });
  after(async () => {
    c.close();
    await srv.stop();
  });

  test('§3.2 example: FETCH 1 (PREVIEW)', async () => {
    const r = await c.command('A1', 'FETCH 1 (PREVIEW)');
    assert.deepEqual(r.lines, ['* 1 FETCH (PREVIEW "Hello Bob, the report is late.")']);
    assert.match(r.tagged, /^A1 OK/);
  });

  test('§5 example 2: PREVIEW (LAZY) in a list, an empty string when there is no text, never NIL', async () => {
    const r = await c.command('B1', 'FETCH 3:4 (UID PREVIEW (LAZY) RFC822.SIZE)');
    assert.equal(r.lines.length, 2);
    const html = Buffer.from('First para & bold Second ☺ <ok>');
    assert.match(r.lines[0]!, /^\* 3 FETCH \(UID 3 PREVIEW \{\d+\}\r\n/);
    assert.ok(r.lines[0]!.includes(`PREVIEW {${html.length}}\r\n${html.toString('latin1')} RFC822.SIZE `), r.lines[0]);
    assert.match(r.lines[1]!, /^\* 4 FETCH \(UID 4 PREVIEW "" RFC822\.SIZE \d+\)$/);
  });

  test('bare PREVIEW with its modifier, and with fetch-modifiers after it', async () => {
    assert.deepEqual((await c.command('b', 'FETCH 1 PREVIEW (LAZY)')).lines, ['* 1 FETCH (PREVIEW "Hello Bob, the report is late.")']);
    const r = await c.command('u', 'UID FETCH 1 PREVIEW (LAZY) (CHANGEDSINCE 1)');
    assert.match(r.tagged, /^u OK/);
    // CHANGEDSINCE turned CONDSTORE on: HIGHESTMODSEQ comes first.
    assert.match(r.lines[r.lines.length - 1]!, /^\* 1 FETCH \(UID 1 PREVIEW "Hello Bob, the report is late\." MODSEQ \(\d+\)\)$/);
    assert.match((await c.command('u', 'UID FETCH 1 PREVIEW (CHANGEDSINCE 1)')).tagged, /^u OK/);
  });

  test('8-bit preview text: a literal in IMAP4rev1, a quoted string after ENABLE UTF8=ACCEPT', async () => {
    const rev1 = await c.command('r', 'FETCH 2 PREVIEW');
    const text = Buffer.from('Grüße aus Köln');
    assert.equal(rev1.lines[0], `* 2 FETCH (PREVIEW {${text.length}}\r\n${text.toString('latin1')})`);
    const { client: u } = await RawClient.connect(srv.imapsPort, { tls: true });
    await u.command('l', 'LOGIN preview pw');
    await u.command('e', 'ENABLE UTF8=ACCEPT');
    await u.command('s', 'EXAMINE INBOX');
    assert.deepEqual((await u.command('f', 'FETCH 2 PREVIEW')).lines, [`* 2 FETCH (PREVIEW "${text.toString('latin1')}")`]);
    u.close();
  });

  test('errors: unknown modifiers, a modifier list after another item, PREVIEW modifiers mixed with fetch-modifiers', async () => {
    for (const bad of [
      'FETCH 1 (PREVIEW (FOO))',
      'FETCH 1 (FLAGS (LAZY))',
      'FETCH 1 PREVIEW (FOO)',
      'FETCH 1 FLAGS (LAZY)',
      'FETCH 1 PREVIEW (LAZY CHANGEDSINCE 1)',
      'FETCH 1 (PREVIEW (LAZY) (LAZY))',
      'FETCH 1 (PREVIEW ())',
    ]) {
      assert.match((await c.command('b', bad)).tagged, /^b BAD/, bad);
    }
  });
});
