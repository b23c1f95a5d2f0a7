/**
 * Issue 18, finding 21: MAILBOXIDs (RFC 8474 §4) were the store's sequential
 * mailbox ids, so any user could tell how many mailboxes the server holds.
 * New mailboxes now get 96 random bits; RENAME keeps a mailbox's id; a
 * mailbox created before (object_id NULL) keeps its derived id. Also the
 * SQLite migration that adds the column and fills the per-mailbox keyword
 * table (finding 22) from the messages already stored.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate, MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('ids', 'pw');
});
after(async () => srv.stop());

/** The MAILBOXID of a response code or STATUS item. */
function mailboxIdIn(text: string): string {
  const m = /MAILBOXID \(([^)]*)\)/.exec(text);
  assert.ok(m, text);
  return m[1]!;
}

async function statusId(c: RawClient, mailbox: string): Promise<string> {
  const r = await c.command('st', `STATUS ${mailbox} (MAILBOXID)`);
  assert.match(r.tagged, /^st OK/);
  return mailboxIdIn(r.lines.join('\n'));
}

/** Makes a mailbox look created before MAILBOXIDs were stored (object_id NULL), whichever backend the server runs on. */
async function forgetStoredId(mailbox: string): Promise<void> {
  if (srv.config.store.url) {
    const client = new pg.Client({ connectionString: srv.config.store.url });
    await client.connect();
    try {
      await client.query('UPDATE mailboxes SET object_id = NULL WHERE name = $1', [mailbox]);
    } finally {
      await client.end();
    }
    return;
  }
  const db = new Database(join(srv.dataDir, 'mailkeep.sqlite3'));
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('UPDATE mailboxes SET object_id = NULL WHERE name = ?').run(mailbox);
  } finally {
    db.close();
  }
}

describe('issue 18: MAILBOXIDs say nothing about other mailboxes', () => {
  test('finding 21: new MAILBOXIDs carry 96 random bits, differ widely, and RENAME, SELECT and STATUS keep them', async () => {
    const c = await RawClient.login(srv.imapsPort, 'ids', 'pw');
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await c.command(`c${i}`, `CREATE box${i}`);
      assert.match(r.tagged, new RegExp(`^c${i} OK`));
      ids.push(mailboxIdIn(r.tagged));
    }
    for (const id of ids) {
      // RFC 8474 §4 objectid; §8.1: a letter first, one case only. 24 hex digits = 96 bits.
      assert.match(id, /^F[0-9a-f]{24}$/);
    }
    assert.equal(new Set(ids).size, ids.length);
    // Consecutive creations are far apart: no counter shows through.
    for (let i = 1; i < ids.length; i++) {
      const gap = BigInt(`0x${ids[i]!.slice(1)}`) - BigInt(`0x${ids[i - 1]!.slice(1)}`);
      assert.ok(gap > 1n << 32n || gap < -(1n << 32n), `${ids[i - 1]} then ${ids[i]}`);
    }
    // RFC 8474 §4: RENAME keeps the MAILBOXID (inferiors too); SELECT and STATUS report the same.
    assert.match((await c.command('p', 'CREATE box0/child')).tagged, /^p OK/);
    const child = await statusId(c, 'box0/child');
    assert.match((await c.command('r', 'RENAME box0 moved')).tagged, /^r OK/);
    assert.equal(await statusId(c, 'moved'), ids[0]);
    assert.equal(await statusId(c, 'moved/child'), child);
    const sel = await c.command('s', 'SELECT moved');
    assert.equal(mailboxIdIn(sel.lines.find((l) => l.includes('MAILBOXID')) ?? ''), ids[0]);
    // RFC 8474 §4 with RFC 9051 §6.3.6: RENAME INBOX makes a new mailbox with a new id; INBOX keeps its own.
    const inbox = await statusId(c, 'INBOX');
    assert.match((await c.command('ri', 'RENAME INBOX fromInbox')).tagged, /^ri OK/);
    assert.equal(await statusId(c, 'INBOX'), inbox);
    assert.notEqual(await statusId(c, 'fromInbox'), inbox);
    // A deleted and recreated name gets a new id.
    assert.match((await c.command('d', 'DELETE box1')).tagged, /^d OK/);
    assert.match((await c.command('c', 'CREATE box1')).tagged, /^c OK/);
    assert.notEqual(await statusId(c, 'box1'), ids[1]);
    c.close();
  });

  test('finding 21: a mailbox from before the stored ids keeps its derived MAILBOXID, through RENAME too', async () => {
    const c = await RawClient.login(srv.imapsPort, 'ids', 'pw');
    assert.match((await c.command('c', 'CREATE legacy')).tagged, /^c OK/);
    await forgetStoredId('legacy');
    // A new session: the name cache of the first one may hold the id it saw.
    const d = await RawClient.login(srv.imapsPort, 'ids', 'pw');
    const derived = await statusId(d, 'legacy');
    assert.match(derived, /^F[0-9a-z]+_[0-9a-z]+$/);
    assert.match((await d.command('r', 'RENAME legacy legacy2')).tagged, /^r OK/);
    assert.equal(await statusId(d, 'legacy2'), derived);
    c.close();
    d.close();
  });

  test('SQLite migration: existing mailboxes get no stored id, and their keywords are counted from their messages', () => {
    const hasTable = (db: Database.Database): boolean =>
      (db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'mailbox_keywords'").pluck().get() as number) === 1;
    const probe = new Database(':memory:');
    let version = 0;
    while (!hasTable(probe) && version < MIGRATIONS.length) migrate(probe, MIGRATIONS.slice(0, ++version));
    probe.close();
    const db = new Database(':memory:');
    migrate(db, MIGRATIONS.slice(0, version - 1));
    db.prepare("INSERT INTO accounts (account_id, name, name_key, password_hash, created_at) VALUES (1, 'a', 'a', 'x', 0)").run();
    db.prepare("INSERT INTO mailboxes (account_id, mailbox_id, name, uid_validity) VALUES (1, 7, 'INBOX', 1)").run();
    const insert = db.prepare(
      "INSERT INTO messages (account_id, mailbox_id, uid, modseq, system_flags, keywords, internal_date, save_date, size, blob_id, email_id) VALUES (1, 7, ?, 1, 0, ?, 0, 0, 1, 'b', 'e')",
    );
    insert.run(1, 'Work $Label1');
    insert.run(2, 'work');
    insert.run(3, '');
    migrate(db);
    assert.deepEqual(db.prepare('SELECT keyword FROM mailbox_keywords WHERE account_id = 1 AND mailbox_id = 7 ORDER BY keyword').pluck().all(), [
      '$label1',
      'work',
    ]);
    assert.equal(db.prepare('SELECT object_id FROM mailboxes WHERE mailbox_id = 7').pluck().get(), null);
    db.close();
  });
});
