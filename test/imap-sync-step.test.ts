/**
 * The one sync step (DESIGN "the one idea", issue 16 items 1–3): every
 * answer shows the mailbox as it is when the command runs, a keyword is
 * announced in FLAGS before any FETCH shows it, and a conditional .SILENT
 * STORE still reports each changed message's MODSEQ. Transcripts over real
 * sockets, written from RFC 9051 §6.4.5–§6.4.6, §7.3.5, §7.5.1 and RFC 7162
 * §3.1.3, plus python3 imaplib reading the first FETCH line as scripts do.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let box = 0;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('sync', 'pw');
});
after(async () => srv.stop());

const session = (): Promise<RawClient> => RawClient.login(srv.imapsPort, 'sync', 'pw');

/** A fresh mailbox with n messages (each with `flags`); opened by each session with `verbs` (SELECT or EXAMINE). */
async function mailboxWith(n: number, flags: string, ...verbs: string[]): Promise<{ name: string; clients: RawClient[] }> {
  const name = `sync${++box}`;
  const setup = await session();
  await setup.command('c', `CREATE ${name}`);
  for (let i = 1; i <= n; i++) {
    const msg = `Subject: message ${i}\r\nDate: Mon, 7 Dec 2026 10:0${i}:00 +0000\r\nMessage-ID: <${i}.${name}@test>\r\n\r\nbody ${i}\r\n`;
    await setup.command(`a${i}`, `APPEND ${name} (${flags}) {${msg.length}+}\r\n${msg}`);
  }
  setup.close();
  const clients: RawClient[] = [];
  for (const verb of verbs) {
    const c = await session();
    assert.match((await c.command('s', `${verb} ${name}`)).tagged, /OK/);
    clients.push(c);
  }
  return { name, clients };
}

/** The FETCH lines for one message in a reply. */
function fetchesOf(lines: readonly string[], seq: number): string[] {
  return lines.filter((l) => l.startsWith(`* ${seq} FETCH `));
}

describe('answers show the mailbox as it is now (item 1)', () => {
  test('UID FETCH FLAGS after another session removed a flag: one FETCH, with the current flags', async () => {
    const {
      clients: [a, b],
    } = await mailboxWith(1, '\\Seen \\Answered', 'SELECT', 'EXAMINE');
    assert.match((await a!.command('s', 'STORE 1 -FLAGS (\\Answered)')).tagged, /^s OK/);
    const r = await b!.command('f', 'UID FETCH 1 (FLAGS)');
    assert.deepEqual(fetchesOf(r.lines, 1), ['* 1 FETCH (UID 1 FLAGS (\\Seen))']);
  });

  test('FETCH FLAGS after another session added a flag', async () => {
    const {
      clients: [a, b],
    } = await mailboxWith(2, '', 'SELECT', 'SELECT');
    await a!.command('s', 'STORE 2 +FLAGS.SILENT (\\Flagged)');
    const r = await b!.command('f', 'FETCH 2 (FLAGS)');
    assert.equal(fetchesOf(r.lines, 2).length, 1, r.lines.join('\n'));
    assert.match(fetchesOf(r.lines, 2)[0]!, /^\* 2 FETCH \(FLAGS \(\\Flagged( \\Recent)?\)\)$/);
  });

  test("SEARCH, SORT and THREAD on flags see another session's STORE at once", async () => {
    const {
      clients: [a, b],
    } = await mailboxWith(3, '', 'SELECT', 'EXAMINE');
    await a!.command('s', 'STORE 1,3 +FLAGS.SILENT (\\Flagged)');
    const search = await b!.command('q', 'SEARCH FLAGGED');
    assert.equal(
      search.lines.find((l) => l.startsWith('* SEARCH')),
      '* SEARCH 1 3',
    );
    await a!.command('s2', 'STORE 3 -FLAGS.SILENT (\\Flagged)');
    const sort = await b!.command('q2', 'SORT (DATE) UTF-8 FLAGGED');
    assert.equal(
      sort.lines.find((l) => l.startsWith('* SORT')),
      '* SORT 1',
    );
    await a!.command('s3', 'STORE 2 +FLAGS.SILENT (\\Flagged)');
    const thread = await b!.command('q3', 'THREAD ORDEREDSUBJECT UTF-8 FLAGGED');
    assert.equal(
      thread.lines.find((l) => l.startsWith('* THREAD')),
      '* THREAD (1)(2)',
    );
  });

  test("a non-UID FETCH does not report another session's expunge, but shows its flag changes (RFC 9051 §7.5.1)", async () => {
    const {
      clients: [a, b],
    } = await mailboxWith(3, '', 'SELECT', 'SELECT');
    await a!.command('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a!.command('e', 'EXPUNGE');
    // A's message 1 is now UID 2, B's message 2.
    await a!.command('s', 'STORE 1 +FLAGS.SILENT (\\Answered)');
    const r = await b!.command('f', 'FETCH 1:3 (FLAGS)');
    assert.ok(!r.lines.some((l) => /EXPUNGE/.test(l)), r.lines.join('\n'));
    assert.equal(fetchesOf(r.lines, 2).length, 1, r.lines.join('\n'));
    assert.match(fetchesOf(r.lines, 2)[0]!, /\\Answered/);
    const n = await b!.command('n', 'NOOP');
    assert.deepEqual(
      n.lines.filter((l) => /EXPUNGE/.test(l)),
      ['* 1 EXPUNGE'],
    );
  });

  test('python3 imaplib reads the first FETCH line: it shows the current flags', async () => {
    const {
      name,
      clients: [a],
    } = await mailboxWith(1, '\\Seen \\Answered', 'SELECT');
    const script = `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)
m.login('sync', 'pw')
m.select(sys.argv[2], readonly=True)
sys.stdout.write('ready\\n'); sys.stdout.flush()
sys.stdin.readline()
typ, data = m.uid('FETCH', '1', '(FLAGS)')
print(data[0].decode())
m.logout()
`;
    const child = execFile('python3', ['-c', script, String(srv.imapsPort), name]);
    const out: string[] = [];
    const ready = new Promise<void>((resolve) =>
      child.stdout!.on('data', (d: Buffer) => {
        out.push(d.toString());
        if (out.join('').includes('ready')) resolve();
      }),
    );
    const done = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await ready;
    await a!.command('s', 'STORE 1 -FLAGS (\\Answered)');
    child.stdin!.end('go\n');
    assert.equal(await done, 0);
    // imaplib's data[0] is the first FETCH response without its "* 1 FETCH" head.
    assert.deepEqual(
      out
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('1 (')),
      ['1 (UID 1 FLAGS (\\Seen))'],
    );
  });
});

describe('keywords are announced before a FETCH shows them (item 2)', () => {
  test("another session's new keyword: FLAGS and PERMANENTFLAGS come first", async () => {
    const {
      clients: [a, b, ro],
    } = await mailboxWith(2, '', 'SELECT', 'SELECT', 'EXAMINE');
    await a!.command('s', 'STORE 1 +FLAGS ($Label1)');
    const r = await b!.command('n', 'NOOP');
    const flags = r.lines.findIndex((l) => l.startsWith('* FLAGS ('));
    const fetch = r.lines.findIndex((l) => l.startsWith('* 1 FETCH'));
    assert.ok(flags >= 0 && flags < fetch, r.lines.join('\n'));
    assert.match(r.lines[flags]!, /\$Label1\)$/);
    assert.match(r.lines[flags + 1]!, /^\* OK \[PERMANENTFLAGS \(.*\$Label1 \\\*\)\]/);
    // A read-only session is told the flags too; its PERMANENTFLAGS stay empty.
    const rr = await ro!.command('f', 'FETCH 1 (FLAGS)');
    assert.ok(rr.lines[0]!.startsWith('* FLAGS (') && rr.lines[0]!.includes('$Label1'), rr.lines.join('\n'));
    assert.equal(rr.lines[1], '* OK [PERMANENTFLAGS ()] Read-only mailbox');
    // Announced once.
    await a!.command('s2', 'STORE 2 +FLAGS ($Label1)');
    const again = await b!.command('n2', 'NOOP');
    assert.ok(!again.lines.some((l) => l.startsWith('* FLAGS')), again.lines.join('\n'));
  });

  test('a keyword arriving with a COPY or an APPEND is announced before FETCH uses it', async () => {
    const {
      name,
      clients: [a, b],
    } = await mailboxWith(1, '', 'SELECT', 'SELECT');
    const other = `${name}-src`;
    await a!.command('c', `CREATE ${other}`);
    const msg = 'Subject: copied\r\n\r\nx\r\n';
    await a!.command('a', `APPEND ${other} ($Copied) {${msg.length}+}\r\n${msg}`);
    await a!.command('x', `SELECT ${other}`);
    await a!.command('cp', `COPY 1 ${name}`);
    await a!.command('ap', `APPEND ${name} ($Appended) {${msg.length}+}\r\n${msg}`);
    const r = await b!.command('f', 'FETCH 1:* (FLAGS)');
    const flags = r.lines.findIndex((l) => l.startsWith('* FLAGS ('));
    const firstFetch = r.lines.findIndex((l) => / FETCH \(/.test(l));
    assert.ok(flags >= 0 && flags < firstFetch, r.lines.join('\n'));
    assert.ok(r.lines[flags]!.includes('$Copied') && r.lines[flags]!.includes('$Appended'), r.lines[flags]);
  });
});

describe('conditional STORE with .SILENT (item 3)', () => {
  test('STORE (UNCHANGEDSINCE) +FLAGS.SILENT answers a FETCH with MODSEQ for each changed message (RFC 7162 §3.1.3)', async () => {
    const {
      clients: [a],
    } = await mailboxWith(3, '', 'SELECT');
    const f = await a!.command('f', 'FETCH 1:3 (MODSEQ)');
    const modseqs = f.lines.filter((l) => / FETCH /.test(l)).map((l) => Number(/MODSEQ \((\d+)\)/.exec(l)![1]));
    const since = Math.max(...modseqs);
    const r = await a!.command('s', `STORE 1:2 (UNCHANGEDSINCE ${since}) +FLAGS.SILENT (\\Flagged)`);
    assert.match(r.tagged, /^s OK/);
    const lines = r.lines.filter((l) => / FETCH /.test(l));
    assert.equal(lines.length, 2, r.lines.join('\n'));
    for (const [k, l] of lines.entries()) assert.match(l, new RegExp(`^\\* ${k + 1} FETCH \\(.*MODSEQ \\((\\d+)\\)`));
    assert.ok(lines.every((l) => Number(/MODSEQ \((\d+)\)/.exec(l)![1]) > since));
    // Message 3 was not in the set; a message already flagged is not changed and not reported.
    const again = await a!.command('s2', `STORE 1 (UNCHANGEDSINCE 999999999) +FLAGS.SILENT (\\Flagged)`);
    assert.deepEqual(
      again.lines.filter((l) => / FETCH /.test(l)),
      [],
    );
    // Without UNCHANGEDSINCE, .SILENT stays silent.
    const silent = await a!.command('s3', 'STORE 3 +FLAGS.SILENT (\\Seen)');
    assert.deepEqual(silent.lines, []);
  });
});

describe('\\Recent in a read-only session', () => {
  test('a message arriving while EXAMINEd is recent there, and still recent for the next SELECT (RFC 3501 §2.3.2)', async () => {
    const {
      name,
      clients: [ro],
    } = await mailboxWith(1, '', 'EXAMINE');
    const w = await session();
    const msg = 'Subject: new\r\n\r\nx\r\n';
    await w.command('a', `APPEND ${name} {${msg.length}+}\r\n${msg}`);
    const n = await ro!.command('n', 'NOOP');
    // Message 1 was never claimed either (EXAMINE saw it recent and left it so).
    assert.deepEqual(n.lines, ['* 2 EXISTS', '* 2 RECENT']);
    const f = await ro!.command('f', 'FETCH 2 (FLAGS)');
    assert.deepEqual(f.lines, ['* 2 FETCH (FLAGS (\\Recent))']);
    const rw = await session();
    const s = await rw.command('s', `SELECT ${name}`);
    assert.ok(s.lines.includes('* 2 RECENT'), s.lines.join('\n'));
    // Claimed now: a message that arrives next is recent in the read-write session only.
    await w.command('a2', `APPEND ${name} {${msg.length}+}\r\n${msg}`);
    assert.deepEqual((await rw.command('n', 'NOOP')).lines, ['* 3 EXISTS', '* 3 RECENT']);
    assert.deepEqual((await ro!.command('n2', 'NOOP')).lines, ['* 3 EXISTS', '* 2 RECENT']);
  });
});
