/**
 * Sieve editheader (RFC 5293) at delivery stores the body once: one LMTP
 * transaction to five recipients, three of them editing the header in
 * different ways, one deleting Content-Type (its copy is a blob of its own:
 * the MIME structure changed), one without a script. Every copy reads back,
 * over IMAP (BODY[], BODY[HEADER], BODYSTRUCTURE, RFC822.SIZE, SEARCH) and
 * POP3 (RETR), as exactly the edited message; the data directory holds the
 * shared message once; a backup restores the same bytes.
 * Runs on SQLite and, with MAILKEEP_TEST_STORE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { putScript } from '../src/mail/sieve-scripts.js';
import { analyzeMessage } from '../src/mime/analyze.js';
import { restoreSqlite } from '../src/store/backup/restore.js';
import { backupSqlite } from '../src/store/backup/sqlite-backup.js';
import { openStore } from '../src/store/open.js';
import type { MailStore } from '../src/store/types.js';
import { dotStuff, LmtpClient } from './helpers/lmtp-client.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const body = [
  '--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n',
  `The zanzibar figures are in.\r\n${'Revenue up, costs down, nothing else to report.\r\n'.repeat(400)}`,
  '--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The zanzibar figures are in.</p>\r\n--b1--\r\n',
].join('');
const fields = [
  'From: Ann <ann@example.org>\r\n',
  'To: team@example.com\r\n',
  'Subject: Quarterly numbers\r\n',
  'X-Spam: yes\r\n',
  'Message-ID: <q1@example.org>\r\n',
  'Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n',
  'MIME-Version: 1.0\r\n',
  'Content-Type: multipart/alternative; boundary="b1"\r\n',
];
const MESSAGE = `${fields.join('')}\r\n${body}`;
const without = (name: string): string => fields.filter((f) => !f.startsWith(`${name}:`)).join('');

/** Each recipient's script, the mailbox its copy goes to, and the header of that copy after the trace lines. */
const RECIPIENTS = {
  ann: { script: 'require "editheader"; addheader "X-Sieve" "ann\'s rule";', mailbox: 'INBOX', header: `X-Sieve: ann's rule\r\n${fields.join('')}` },
  ben: {
    script: 'require "editheader"; deleteheader "subject"; addheader :last "X-Tag" "ben";',
    mailbox: 'INBOX',
    header: `${without('Subject')}X-Tag: ben\r\n`,
  },
  cat: {
    script: 'require ["editheader", "fileinto", "mailbox"]; deleteheader :contains "x-spam" "yes"; addheader "X-Filed" "cat"; fileinto :create "Filed";',
    mailbox: 'Filed',
    header: `X-Filed: cat\r\n${without('X-Spam')}`,
  },
  // The structure changes (text/plain now): stored as a blob of its own.
  dora: { script: 'require "editheader"; deleteheader "content-type";', mailbox: 'INBOX', header: without('Content-Type') },
  eve: { script: null, mailbox: 'INBOX', header: fields.join('') },
} as const;
type Name = keyof typeof RECIPIENTS;
const NAMES = Object.keys(RECIPIENTS) as Name[];

/** The bytes recipient `name`'s copy must have. */
function expected(name: Name): Buffer {
  return Buffer.from(`Return-Path: <ann@example.org>\r\nDelivered-To: ${name}@example.com\r\n${RECIPIENTS[name].header}\r\n${body}`);
}

/** The literal of `item` (e.g. "BODY[]") in a FETCH response. */
function literal(raw: Buffer, item: string): Buffer {
  const at = raw.indexOf(`${item} {`);
  assert.ok(at >= 0, `${item} in ${raw.toString('latin1').slice(0, 300)}`);
  const open = at + item.length + 2;
  const close = raw.indexOf('}\r\n', open);
  const n = Number(raw.subarray(open, close).toString('latin1'));
  return raw.subarray(close + 3, close + 3 + n);
}

/** Plain blobs (rows with bytes of their own) and composite rows, and the plain blobs' bytes: the store's own view, either backend. */
async function blobCounts(srv: TestServer): Promise<{ plain: number; composite: number; bytes: number }> {
  const sql = `SELECT count(*) FILTER (WHERE base_id IS NULL) AS plain, count(*) FILTER (WHERE base_id IS NOT NULL) AS composite,
                      coalesce(sum(size) FILTER (WHERE base_id IS NULL), 0) AS bytes FROM blobs`;
  const url = srv.config.store.url;
  let row: Record<string, unknown>;
  if (url) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      row = (await client.query(sql)).rows[0] as Record<string, unknown>;
    } finally {
      await client.end();
    }
  } else {
    const db = new Database(join(srv.dataDir, 'mailkeep.sqlite3'), { readonly: true });
    try {
      row = db.prepare(sql).get() as Record<string, unknown>;
    } finally {
      db.close();
    }
    // On SQLite only plain blobs have files.
    const files = (
      await Promise.all((await readdir(join(srv.dataDir, 'blobs'))).filter((d) => d !== 'tmp').map((d) => readdir(join(srv.dataDir, 'blobs', d))))
    ).flat();
    assert.equal(files.length, Number(row.plain), 'one file per plain blob');
  }
  return { plain: Number(row.plain), composite: Number(row.composite), bytes: Number(row.bytes) };
}

describe('editheader at delivery: per-recipient headers over one stored body', () => {
  let srv: TestServer;
  let store: MailStore;
  let grew: { plain: number; composite: number; bytes: number };

  before(async () => {
    srv = await startTestServer({ domains: ['example.com'] });
    store = srv.server.store;
    for (const name of NAMES) {
      await srv.addUser(name, 'pw');
      const script = RECIPIENTS[name].script;
      const account = (await store.findAccount(name))!;
      if (script !== null) assert.deepEqual(await putScript(store, srv.config.sieve, account.id, 'main', script, true), []);
    }
    const before = await blobCounts(srv);
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    try {
      client.send(`LHLO test\r\nMAIL FROM:<ann@example.org>\r\n${NAMES.map((n) => `RCPT TO:<${n}@example.com>\r\n`).join('')}DATA\r\n`);
      const head = await client.replies(2 + NAMES.length + 1);
      assert.equal(head.at(-1)!.code, 354);
      client.send(dotStuff(Buffer.from(MESSAGE)));
      assert.deepEqual(
        (await client.replies(NAMES.length)).map((r) => r.code),
        NAMES.map(() => 250),
      );
    } finally {
      client.close();
    }
    const now = await blobCounts(srv);
    grew = { plain: now.plain - before.plain, composite: now.composite - before.composite, bytes: now.bytes - before.bytes };
  });
  after(async () => {
    await srv?.stop();
  });

  it('stores the shared message once: a composite per recipient, a blob of its own only where the structure changed', () => {
    // The message itself and dora's copy; ann, ben, cat and eve are composites over the message.
    assert.deepEqual(grew, { plain: 2, composite: 4, bytes: MESSAGE.length + expected('dora').length });
  });

  it('serves each copy over IMAP as exactly the edited message: BODY[], BODY[HEADER], BODYSTRUCTURE, RFC822.SIZE', async () => {
    for (const name of NAMES) {
      const want = expected(name);
      const analysis = analyzeMessage(want);
      const imap = await RawClient.login(srv.imapsPort, name, 'pw');
      try {
        assert.match((await imap.command('s', `SELECT ${RECIPIENTS[name].mailbox}`)).tagged, /^s OK/);
        const r = await imap.command('f', 'FETCH 1 (RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER] BODY.PEEK[])');
        assert.match(r.tagged, /^f OK/);
        assert.deepEqual(literal(r.raw, 'BODY[]'), want, `${name}: BODY[]`);
        assert.deepEqual(literal(r.raw, 'BODY[HEADER]'), want.subarray(0, analysis.root.bs), `${name}: BODY[HEADER]`);
        assert.ok(r.raw.includes(`RFC822.SIZE ${want.length} `), `${name}: RFC822.SIZE`);
        assert.ok(r.raw.includes(Buffer.concat([Buffer.from('BODYSTRUCTURE '), analysis.bodyStructure])), `${name}: BODYSTRUCTURE`);
        const text = literal((await imap.command('t', 'FETCH 1 BODY.PEEK[1]')).raw, 'BODY[1]');
        assert.match(text.toString(), name === 'dora' ? /^--b1\r\n/ : /^The zanzibar figures/, `${name}: BODY[1]`);
      } finally {
        imap.close();
      }
    }
  });

  it('finds the copies by SEARCH BODY and by their own header fields, not the original ones', async () => {
    const search = async (name: Name, criteria: string): Promise<string> => {
      const imap = await RawClient.login(srv.imapsPort, name, 'pw');
      try {
        await imap.command('s', `SELECT ${RECIPIENTS[name].mailbox}`);
        const r = await imap.command('q', `SEARCH ${criteria}`);
        assert.match(r.tagged, /^q OK/);
        return r.lines.find((l) => l.startsWith('* SEARCH'))!;
      } finally {
        imap.close();
      }
    };
    for (const name of NAMES) assert.equal(await search(name, 'BODY zanzibar'), '* SEARCH 1', `${name}: BODY`);
    assert.equal(await search('ann', 'HEADER X-Sieve "ann\'s"'), '* SEARCH 1');
    assert.equal(await search('ann', 'SUBJECT Quarterly'), '* SEARCH 1');
    assert.equal(await search('ben', 'SUBJECT Quarterly'), '* SEARCH', 'the subject was deleted');
    assert.equal(await search('ben', 'HEADER Subject ""'), '* SEARCH');
    assert.equal(await search('ben', 'HEADER X-Tag ben'), '* SEARCH 1');
    assert.equal(await search('cat', 'HEADER X-Spam yes'), '* SEARCH', 'the X-Spam field was deleted');
    assert.equal(await search('cat', 'HEADER X-Filed cat'), '* SEARCH 1');
    assert.equal(await search('eve', 'HEADER X-Spam yes'), '* SEARCH 1');
    assert.equal(await search('eve', 'HEADER X-Sieve ""'), '* SEARCH');
  });

  it('serves each copy over POP3 RETR as exactly the edited message', async () => {
    for (const name of NAMES.filter((n) => RECIPIENTS[n].mailbox === 'INBOX')) {
      const pop = await Pop3Client.login(srv.pop3sPort, name, 'pw');
      try {
        const r = await pop.multi('RETR 1');
        assert.match(r.status, /^\+OK/);
        assert.equal(`${r.lines.join('\r\n')}\r\n`, expected(name).toString('latin1'), `${name}: RETR`);
      } finally {
        pop.close();
      }
    }
  });

  it('keeps the bytes through mailkeep backup and restore', {
    skip: process.env.MAILKEEP_TEST_STORE === 'postgres' ? 'SQLite backups only' : false,
  }, async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'mailkeep-editheader-'));
    try {
      await backupSqlite({ dataDir: srv.dataDir, target: join(scratch, 'backup') });
      await restoreSqlite({ from: join(scratch, 'backup'), dataDir: join(scratch, 'data') });
      const restored = await openStore({ dataDir: join(scratch, 'data') });
      try {
        for (const name of NAMES) {
          const account = (await restored.findAccount(name))!;
          const mb = (await restored.getMailbox(account.id, RECIPIENTS[name].mailbox))!;
          const [summary] = await restored.listSummaries(account.id, mb.id);
          const [record] = await restored.getRecords(account.id, mb.id, [summary!.uid]);
          assert.deepEqual(await restored.blobs.read(record!.blobId), expected(name), `${name}: restored bytes`);
          assert.deepEqual(await restored.getAnalysis(record!.blobId), analyzeMessage(expected(name)), `${name}: restored analysis`);
        }
      } finally {
        await restored.close();
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
