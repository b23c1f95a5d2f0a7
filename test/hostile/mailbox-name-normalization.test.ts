/**
 * Finding 19 (issue 18): mailbox names are NFC at every entry point, names
 * with noncharacters, a byte order mark or controls are refused with
 * NO [CANNOT], and INBOX is matched in ASCII case only.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { after, before, describe, test } from 'node:test';
import { dotStuff, LmtpClient } from '../helpers/lmtp-client.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';

let srv: TestServer;
let c: RawClient;
let n = 0;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('eve', 'pw');
  c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
  assert.match((await run('ENABLE UTF8=ACCEPT')).tagged, /^OK/);
});
after(async () => {
  c.close();
  await srv.stop();
});

/** Runs a command written in UTF-8; the reply decoded as UTF-8. */
async function run(command: string, client = c): Promise<{ lines: string[]; tagged: string }> {
  const tag = `t${n++}`;
  const r = await client.command(tag, Buffer.from(command, 'utf8'));
  const utf8 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
  return { lines: r.lines.map(utf8), tagged: utf8(r.tagged).slice(tag.length + 1) };
}

async function mailboxId(name: string): Promise<string> {
  const r = await run(`STATUS "${name}" (MAILBOXID)`);
  const m = /MAILBOXID \(([^)]+)\)/.exec(r.lines.join('\n'));
  assert.ok(m, `${name}: ${r.tagged}`);
  return m[1]!;
}

async function messages(name: string): Promise<number> {
  const m = /MESSAGES (\d+)/.exec((await run(`STATUS "${name}" (MESSAGES)`)).lines.join('\n'));
  assert.ok(m);
  return Number(m[1]);
}

describe('finding 19: mailbox names are normalized and checked', () => {
  test('NFC and NFD "café" are one mailbox at every entry point', async () => {
    assert.match((await run(`CREATE "${NFD}"`)).tagged, /^OK/);
    // Stored in NFC, so a client sees the composed form.
    const listed = (await run('LIST "" "caf*"')).lines;
    assert.deepEqual(listed, [`* LIST (\\HasNoChildren) "/" "${NFC}"`]);
    assert.match((await run(`CREATE "${NFC}"`)).tagged, /^NO \[ALREADYEXISTS\]/);
    const id = await mailboxId(NFC);
    assert.equal(await mailboxId(NFD), id);
    assert.deepEqual((await run(`LIST "" "${NFD}"`)).lines, listed);

    const msg = 'Subject: n\r\n\r\nbody\r\n';
    assert.match((await run(`APPEND "${NFD}" {${msg.length}+}\r\n${msg}`)).tagged, /^OK/);
    assert.match((await run(`SELECT "${NFD}"`)).tagged, /^OK/);
    assert.match((await run(`COPY 1 "${NFD}"`)).tagged, /^OK/);
    assert.equal(await messages(NFC), 2);
    assert.match((await run(`SETMETADATA "${NFD}" (/private/comment "hi")`)).tagged, /^OK/);
    assert.match((await run(`GETMETADATA "${NFC}" /private/comment`)).lines.join(), /"hi"/);

    // A rev1 client's modified UTF-7 of the decomposed form finds it too.
    const rev1 = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    assert.match((await run('SELECT "cafe&AwE-"', rev1)).tagged, /^OK/);
    rev1.close();

    // LMTP +detail in the decomposed form delivers there (once the owner opted the mailbox in, finding 12).
    assert.match((await run(`SETMETADATA "${NFD}" (/private/vendor/mailkeep/detail-delivery "yes")`)).tagged, /^OK/);
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    client.send(`LHLO test\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<eve+${NFD}@example.com>\r\nDATA\r\n`);
    const head = await client.replies(4);
    assert.equal(head.at(-1)!.code, 354, head.map((r) => r.last).join('\n'));
    client.send(dotStuff(Buffer.from(msg)));
    assert.equal((await client.reply()).code, 250);
    client.close();
    assert.equal(await messages(NFC), 3);

    // RENAME normalizes both names.
    assert.match((await run(`RENAME "${NFD}" "x\u0301y"`)).tagged, /^OK/);
    assert.equal(await mailboxId('x\u0301y'.normalize('NFC')), id);
    assert.equal(await mailboxId('x\u0301y'), id);
    assert.match((await run(`RENAME "x\u0301y" "${NFC}"`)).tagged, /^OK/);
    assert.match((await run('CLOSE')).tagged, /^OK/);

    // LIST's reference is normalized with its pattern.
    assert.match((await run(`CREATE "${NFD}/sub"`)).tagged, /^OK/);
    assert.deepEqual((await run(`LIST "${NFD}/" "%"`)).lines, [`* LIST (\\HasNoChildren) "/" "${NFC}/sub"`]);
  });

  test('noncharacters, byte order marks, controls and unpaired surrogates are refused with NO [CANNOT]', async () => {
    const bad = ['a\ufffeb', 'a\uffffb', 'a\ufdd0b', 'a\ufdefb', 'a\u{1fffe}b', 'a\u{10ffff}b', '\ufeffINBOX', 'a\ufeff', 'a\u0085b', 'a\u2028b'];
    for (const name of bad) {
      for (const cmd of [`CREATE "${name}"`, `SELECT "${name}"`, `STATUS "${name}" (MESSAGES)`, `RENAME "${NFC}" "${name}"`, `LIST "" "${name}"`]) {
        assert.match((await run(cmd)).tagged, /^NO \[CANNOT\]/, JSON.stringify(cmd));
      }
    }
    // The same in modified UTF-7: a BOM before INBOX, an unpaired surrogate.
    const rev1 = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    assert.match((await run('SELECT "&,v8-INBOX"', rev1)).tagged, /^NO \[CANNOT\]/);
    assert.match((await run('CREATE "a&2AA-b"', rev1)).tagged, /^NO \[CANNOT\]/);
    rev1.close();
    // Nothing was created.
    const names = (await run('LIST "" "*"')).lines.join('\n');
    assert.doesNotMatch(names, /[\ufffe\uffff\ufdd0\ufdef\ufeff\u0085\u2028]|\u{1fffe}|\u{10ffff}/u);
  });

  test('a mailbox stored in another normalization form before this change is found by either form, and RENAME fixes it', async () => {
    const nfc = 'ol\u00e9';
    const nfd = 'ole\u0301';
    assert.match((await run(`CREATE "${nfc}/kid"`)).tagged, /^OK/);
    const id = await mailboxId(`${nfc}/kid`);
    // What an older release stored for a client that sent NFD: the name as it came.
    const sql = `UPDATE mailboxes SET name = replace(name, '${nfc}', '${nfd}') WHERE name LIKE '${nfc}%'`;
    if (srv.config.store.url) {
      const db = new pg.Client({ connectionString: srv.config.store.url });
      await db.connect();
      assert.equal((await db.query(sql)).rowCount, 2);
      await db.end();
    } else {
      const db = new Database(join(srv.dataDir, 'mailkeep.sqlite3'));
      assert.equal(db.prepare(sql).run().changes, 2);
      db.close();
    }
    assert.deepEqual((await run('LIST "" "ol*"')).lines, [`* LIST (\\HasChildren) "/" "${nfd}"`, `* LIST (\\HasNoChildren) "/" "${nfd}/kid"`]);
    assert.equal(await mailboxId(`${nfd}/kid`), id);
    assert.equal(await mailboxId(`${nfc}/kid`), id);
    // RENAME to the composed form moves the mailbox and its inferiors to NFC names.
    assert.match((await run(`RENAME "${nfd}" "${nfc}"`)).tagged, /^OK/);
    assert.deepEqual((await run('LIST "" "ol*"')).lines, [`* LIST (\\HasChildren) "/" "${nfc}"`, `* LIST (\\HasNoChildren) "/" "${nfc}/kid"`]);
    assert.equal(await mailboxId(`${nfd}/kid`), id);
  });

  test('INBOX matches in ASCII case only: a dotless ı is another name', async () => {
    const inbox = await mailboxId('INBOX');
    assert.equal(await mailboxId('iNbOx'), inbox);
    assert.match((await run('SELECT "\u0131nbox"')).tagged, /^NO \[NONEXISTENT\]/);
    assert.match((await run('CREATE "\u0131nbox"')).tagged, /^OK/);
    assert.notEqual(await mailboxId('\u0131nbox'), inbox);
    assert.match((await run('CREATE "\u0130NBOX/x"')).tagged, /^OK/);
    assert.match((await run('LIST "" "\u0130NBOX*"')).lines.join(), /"\u0130NBOX\/x"/);
    assert.equal((await run('LIST "" "INBOX/*"')).lines.length, 0);
  });

  test('a name sent in another form is answered with LIST … OLDNAME (RFC 9051 §6.3.2, §6.3.4-§6.3.6)', async () => {
    const sent = 'n\u0303o';
    const stored = '\u00f1o';
    const created = await run(`CREATE "${sent}"`);
    assert.match(created.tagged, /^OK/);
    assert.deepEqual(created.lines, [`* LIST () "/" "${stored}" ("OLDNAME" ("${sent}"))`]);
    // Already NFC: nothing extra.
    const plain = await run(`CREATE "${stored}/x"`);
    assert.deepEqual(plain.lines, []);

    const rev2 = await RawClient.login(srv.imapsPort, 'eve', 'pw');
    try {
      assert.match((await run('ENABLE IMAP4rev2 UTF8=ACCEPT', rev2)).tagged, /^OK/);
      const selected = await run(`EXAMINE "${sent}"`, rev2);
      assert.ok(selected.lines.includes(`* LIST () "/" "${stored}" ("OLDNAME" ("${sent}"))`), selected.lines.join('\n'));
      const same = await run(`EXAMINE "${stored}"`, rev2);
      assert.ok(same.lines.includes(`* LIST () "/" "${stored}"`), same.lines.join('\n'));
    } finally {
      rev2.close();
    }

    const renamed = await run(`RENAME "${stored}/x" "${stored}/y\u0301"`);
    assert.deepEqual(renamed.lines, [`* LIST () "/" "${stored}/\u00fd" ("OLDNAME" ("${stored}/y\u0301"))`]);
    const deleted = await run(`DELETE "${stored}/y\u0301"`);
    assert.deepEqual(deleted.lines, [`* LIST (\\NonExistent) "/" "${stored}/\u00fd" ("OLDNAME" ("${stored}/y\u0301"))`]);
  });
});
