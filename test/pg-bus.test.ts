/**
 * The LISTEN/NOTIFY change bus (src/events/pg-bus.ts): payloads, delivery
 * across store instances, the catch-up poll that bounds the delay of a lost
 * notification, and recovery of a dropped LISTEN connection.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import type { AccountId, MailboxId } from '../src/ids.js';
import { notifyStatement, parseChange } from '../src/events/pg-bus.js';
import type { PgStore } from '../src/store/postgres/pg-store.js';
import { openPgStore } from '../src/store/postgres/pg-store.js';
import type { TestDatabase } from './helpers/pg-database.js';
import { createTestDatabase, pgAvailable } from './helpers/pg-database.js';
import { accountWithInbox, deliver, message, waitFor } from './store-fixtures.js';

describe('change notification payloads', () => {
  it('round-trip (account, mailbox, modseq) and reject anything else', () => {
    const sql = notifyStatement({ accountId: 12 as AccountId, mailboxId: 345 as MailboxId, modseq: 6789 });
    assert.equal(sql, "NOTIFY mailkeep_changes, '12:345:6789'");
    assert.deepEqual(parseChange('12:345:6789'), { accountId: 12, mailboxId: 345, modseq: 6789 });
    for (const bad of [undefined, '', '1:2', '1:2:3:4', 'a:2:3', '1:2:-3', "1:2:3'; DROP TABLE x", '1:2:99999999999999999']) {
      assert.equal(parseChange(bad), null, String(bad));
    }
    assert.throws(() => notifyStatement({ accountId: 1 as AccountId, mailboxId: 2 as MailboxId, modseq: 1.5 }), RangeError);
  });
});

const available = await pgAvailable();

describe('PostgreSQL change bus', { skip: available ? false : 'no PostgreSQL test server' }, () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const stores: PgStore[] = [];
  const open = async (catchUpIntervalMs = 1000): Promise<PgStore> => {
    const store = await openPgStore({ url: db.url, catchUpIntervalMs, onError: () => undefined });
    stores.push(store);
    return store;
  };

  before(async () => {
    db = await createTestDatabase();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('wakes subscribers of another instance by NOTIFY, once per change, and ignores stray payloads', async () => {
    const a = await open();
    const b = await open(60_000);
    const { accountId, inbox } = await accountWithInbox(a, 'notify');
    const other = await a.createMailbox(accountId, 'other');
    const woke: number[] = [];
    b.bus.subscribe(accountId, inbox, (m) => woke.push(m));
    await admin.query("NOTIFY mailkeep_changes, 'garbage'");
    await admin.query(`NOTIFY mailkeep_changes, '${accountId}:${inbox}:x'`);
    await deliver(a, accountId, other.id, message('elsewhere'));
    const started = Date.now();
    await deliver(a, accountId, inbox, message('one'));
    // The catch-up poll of b runs once a minute: this is the notification.
    await waitFor(() => woke.length === 1, 1000);
    // Well under the minute of the catch-up poll, with room for a loaded machine.
    assert.ok(Date.now() - started < 5000);
    await deliver(a, accountId, inbox, message('two'));
    await waitFor(() => woke.length === 2, 1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const mb = await b.getMailboxById(accountId, inbox);
    assert.deepEqual(woke, [mb!.highestModSeq - 1, mb!.highestModSeq]);
  });

  it('announces a change that sent no notification within one catch-up interval', async () => {
    const a = await open(100);
    const { accountId, inbox } = await accountWithInbox(a, 'silent');
    const woke: number[] = [];
    a.bus.subscribe(accountId, inbox, (m) => woke.push(m));
    await new Promise((resolve) => setTimeout(resolve, 150));
    // A writer that does not notify (an older node, a manual fix): only the poll can tell.
    await admin.query('UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE account_id = $1 AND mailbox_id = $2', [accountId, inbox]);
    await waitFor(() => woke.length > 0, 500);
    assert.deepEqual(woke, [(await a.getMailboxById(accountId, inbox))!.highestModSeq]);
  });

  it('reconnects a dropped LISTEN connection, wakes every watched mailbox, and hears notifications again', async () => {
    const a = await open(60_000);
    const b = await open(60_000);
    const { accountId, inbox } = await accountWithInbox(a, 'reconnect');
    const woke: number[] = [];
    b.bus.subscribe(accountId, inbox, (m) => woke.push(m));
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND query = 'LISTEN mailkeep_changes' AND pid <> pg_backend_pid()`,
    );
    assert.equal(killed.rowCount, 2, 'both instances had a LISTEN connection');
    // Changes while b is deaf are not lost: the reconnect wakes its watched mailboxes.
    await deliver(a, accountId, inbox, message('while deaf'));
    await waitFor(() => woke.length > 0, 3000);
    const count = woke.length;
    await deliver(a, accountId, inbox, message('after reconnect'));
    await waitFor(() => woke.length > count, 1000);
    assert.equal(woke.at(-1), (await b.getMailboxById(accountId, inbox))!.highestModSeq);
  });

  it('a store refuses to open when its database is not there', async () => {
    const url = new URL(db.url);
    url.pathname = '/mailkeep_test_does_not_exist';
    await assert.rejects(openPgStore({ url: url.toString() }), /does not exist/);
  });
});
