/**
 * CONDSTORE and QRESYNC (RFC 7162) transcripts, adapted from the RFC's
 * examples, plus the two-device resync scenario and imapflow's qresync mode.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let boxes = 0;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('sync', 'pw');
});
after(async () => srv.stop());

const session = (): Promise<RawClient> => RawClient.login(srv.imapsPort, 'sync', 'pw');

async function fill(c: RawClient, n: number): Promise<string> {
  const name = `cs${++boxes}`;
  await c.command('c', `CREATE ${name}`);
  for (let i = 1; i <= n; i++) {
    const msg = `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
    await c.command('a', `APPEND ${name} {${msg.length}+}\r\n${msg}`);
  }
  return name;
}

const num = (re: RegExp, lines: string[]): number => {
  for (const l of lines) {
    const m = re.exec(l);
    if (m) return Number(m[1]);
  }
  throw new Error(`no match for ${re} in ${lines.join(' | ')}`);
};

describe('CONDSTORE', () => {
  test('SELECT (CONDSTORE), FETCH MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE and STATUS HIGHESTMODSEQ', async () => {
    const c = await session();
    const name = await fill(c, 3);
    let r = await c.command('s', `SELECT ${name} (CONDSTORE)`);
    const highest = num(/^\* OK \[HIGHESTMODSEQ (\d+)\]/, r.lines);
    r = await c.command('f', 'FETCH 1:* (FLAGS MODSEQ)');
    assert.equal(r.lines.length, 3);
    for (const l of r.lines) assert.match(l, /^\* \d FETCH \(FLAGS \([^)]*\) MODSEQ \(\d+\)\)$/);

    r = await c.command('st', 'STORE 2 +FLAGS (\\Seen)');
    const m2 = num(/^\* 2 FETCH \(UID 2 FLAGS \(.*\) MODSEQ \((\d+)\)\)$/, r.lines);
    assert.ok(m2 > highest);
    r = await c.command('cs', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
    assert.deepEqual(
      r.lines.map((l) => l.replace(/ \\Recent/, '')),
      [`* 2 FETCH (FLAGS (\\Seen) MODSEQ (${m2}))`],
    );

    // RFC 7162 §3.1.3: a conditional STORE on a message changed since fails for that message only.
    r = await c.command('u', `STORE 1:3 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Flagged)`);
    assert.match(r.tagged, /^u OK \[MODIFIED 2\]/);
    assert.equal(r.lines.filter((l) => /\\Flagged/.test(l)).length, 2);

    r = await c.command('sx', `STATUS Sent (HIGHESTMODSEQ MESSAGES)`);
    assert.match(r.lines[0]!, /^\* STATUS Sent \(HIGHESTMODSEQ \d+ MESSAGES 0\)$/);
    c.close();
  });
});

describe('QRESYNC', () => {
  test('ENABLE QRESYNC, VANISHED instead of EXPUNGE, HIGHESTMODSEQ on EXPUNGE', async () => {
    const c = await session();
    const name = await fill(c, 4);
    let r = await c.command('e', 'ENABLE QRESYNC');
    assert.deepEqual(r.lines, ['* ENABLED CONDSTORE QRESYNC']);
    await c.command('s', `SELECT ${name}`);
    await c.command('d', 'STORE 2:3 +FLAGS.SILENT (\\Deleted)');
    r = await c.command('x', 'EXPUNGE');
    assert.deepEqual(r.lines, ['* VANISHED 2:3']);
    assert.match(r.tagged, /^x OK \[HIGHESTMODSEQ \d+\]/);
    r = await c.command('s2', 'SELECT INBOX');
    assert.equal(r.lines[0], '* OK [CLOSED] Previous mailbox closed');
    c.close();
  });

  test('two devices: A reconnects with QRESYNC and learns exactly what B did', async () => {
    const a = await session();
    const name = await fill(a, 6);
    await a.command('e', 'ENABLE QRESYNC');
    let r = await a.command('s', `SELECT ${name}`);
    const validity = num(/^\* OK \[UIDVALIDITY (\d+)\]/, r.lines);
    const known = num(/^\* OK \[HIGHESTMODSEQ (\d+)\]/, r.lines);
    a.close(); // device A goes offline

    const b = await session();
    await b.command('s', `SELECT ${name}`);
    await b.command('f', 'UID STORE 1 +FLAGS (\\Seen)');
    await b.command('f2', 'UID STORE 4 +FLAGS ($Work)');
    await b.command('m', 'UID MOVE 2 Archive');
    await b.command('d', 'UID STORE 5 +FLAGS.SILENT (\\Deleted)');
    await b.command('x', 'UID EXPUNGE 5');
    b.close();

    const a2 = await session();
    await a2.command('e', 'ENABLE QRESYNC');
    r = await a2.command('s', `SELECT ${name} (QRESYNC (${validity} ${known} 1:6))`);
    assert.match(r.tagged, /OK \[READ-WRITE\]/);
    const vanished = r.lines.filter((l) => l.startsWith('* VANISHED'));
    assert.deepEqual(vanished, ['* VANISHED (EARLIER) 2,5']);
    const fetches = r.lines.filter((l) => / FETCH /.test(l)).map((l) => l.replace(/ MODSEQ \(\d+\)/, ''));
    assert.deepEqual(fetches, ['* 1 FETCH (UID 1 FLAGS (\\Seen))', '* 3 FETCH (UID 4 FLAGS ($Work))']);
    assert.ok(r.lines.includes('* 4 EXISTS'));
    // A wrong UIDVALIDITY means a full resync: no VANISHED, no FETCH.
    r = await a2.command('s2', `EXAMINE ${name} (QRESYNC (${validity + 1} ${known}))`);
    assert.ok(!r.lines.some((l) => /VANISHED|FETCH/.test(l)));
    // UID FETCH ... (CHANGEDSINCE ... VANISHED).
    r = await a2.command('uf', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${known} VANISHED)`);
    assert.equal(r.lines[0], '* VANISHED (EARLIER) 2,5');
    assert.equal(r.lines.filter((l) => / FETCH /.test(l)).length, 2);
    a2.close();
  });

  test('QRESYNC parameters without ENABLE QRESYNC are refused', async () => {
    const c = await session();
    const r = await c.command('s', 'SELECT INBOX (QRESYNC (1 1))');
    assert.match(r.tagged, /^s BAD/);
    c.close();
  });
});

test('imapflow in qresync mode syncs flags and expunges', async () => {
  const setup = await session();
  const name = await fill(setup, 3);
  setup.close();
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: srv.imapsPort,
    secure: true,
    auth: { user: 'sync', pass: 'pw' },
    tls: { rejectUnauthorized: false },
    logger: false,
    qresync: true,
  });
  await c.connect();
  try {
    assert.ok(c.enabled.has('QRESYNC'));
    const mb = await c.mailboxOpen(name);
    assert.ok(typeof mb.highestModseq === 'bigint' && mb.highestModseq > 0n);
    const expunged: number[] = [];
    c.on('expunge', (e: { uid?: number; vanished?: boolean }) => {
      if (e.uid) expunged.push(e.uid);
    });
    const other = await session();
    await other.command('s', `SELECT ${name}`);
    await other.command('d', 'UID STORE 2 +FLAGS.SILENT (\\Deleted)');
    await other.command('x', 'UID EXPUNGE 2');
    other.close();
    await c.noop();
    assert.deepEqual(expunged, [2]);
    const msgs = [];
    for await (const m of c.fetch('1:*', { uid: true, flags: true }, { changedSince: 1n })) msgs.push(m.uid);
    assert.deepEqual(msgs, [1, 3]);
  } finally {
    await c.logout();
  }
});

describe('UIDONLY (RFC 9586)', () => {
  test('no sequence numbers: UIDFETCH, VANISHED, BAD [UIDREQUIRED]', async () => {
    const c = await session();
    const name = await fill(c, 3);
    let r = await c.command('e', 'ENABLE UIDONLY');
    assert.deepEqual(r.lines, ['* ENABLED UIDONLY']);
    await c.command('s', `SELECT ${name}`);
    r = await c.command('f', 'FETCH 1 FLAGS');
    assert.match(r.tagged, /^f BAD \[UIDREQUIRED\]/);
    r = await c.command('uf', 'UID FETCH 2:3 (FLAGS)');
    assert.deepEqual(
      r.lines.map((l) => l.replace(/ ?\\Recent/, '')),
      ['* 2 UIDFETCH (FLAGS ())', '* 3 UIDFETCH (FLAGS ())'],
    );
    r = await c.command('us', 'UID STORE 3 +FLAGS (\\Deleted)');
    assert.match(r.lines[0]!, /^\* 3 UIDFETCH \(FLAGS \(\\Deleted/);
    r = await c.command('x', 'EXPUNGE');
    assert.deepEqual(r.lines, ['* VANISHED 3']);
    r = await c.command('q', 'UID SEARCH 1:2');
    assert.match(r.tagged, /^q BAD \[UIDREQUIRED\]/);
    r = await c.command('q2', 'UID SEARCH UID 1:2');
    assert.deepEqual(r.lines, ['* SEARCH 1 2']);
    c.close();
  });
});
