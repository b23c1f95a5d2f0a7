/**
 * `mailkeep store copy`: an installation built through a real server (APPEND,
 * STORE, EXPUNGE, CREATE/RENAME, SUBSCRIBE, METADATA, LMTP to two recipients,
 * a password, an alias, a quota) is copied by the real CLI while no server
 * runs, and a server on the copy must answer IMAP exactly as before: same
 * LOGIN, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, UIDs, MODSEQs, flags, EMAILIDs,
 * byte-identical BODY[], BODYSTRUCTURE, metadata, subscriptions and quota;
 * QRESYNC from before the move gets the right VANISHED; new mailboxes and
 * messages continue the old allocators. Every table travels: each dump
 * section of the copy equals the source's (admin users, API tokens, audit
 * log, sign-ins, app passwords, SCRAM keys, Sieve scripts and memory,
 * account states); after the copy an app password, SCRAM-SHA-256 and an API
 * token still work and the active Sieve script is still active; a replacing
 * copy clears the target's admin rows first. SQLite → SQLite always runs;
 * SQLite → PostgreSQL (and back) when MAILKEEP_TEST_PG names a server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { APP_PASSWORD_LIMITS, asAppPassword, generateAppPassword } from '../src/auth/app-passwords.js';
import { Administration } from '../src/auth/administration.js';
import { hashPassword } from '../src/auth/password.js';
import { deriveScramCredentials } from '../src/auth/scram-keys.js';
import { openStore } from '../src/store/open.js';
import { DUMP_SECTIONS, type DumpKey, type DumpRecord } from '../src/store/types.js';
import { keyOf } from '../src/store/copy/sections.js';
import { addToken, callApi } from './helpers/admin-api.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { b64, ScramClient, unb64 } from './helpers/scram-client.js';
import { mailkeep } from './cli-helpers.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from './helpers/pg-database.js';
import { dotStuff, LmtpClient } from './helpers/lmtp-client.js';
import { RawClient, type Reply } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

const PASSWORDS: Record<string, string> = { alice: 'alice-secret', bob: 'bob-secret' };

function ok(r: Reply): Reply {
  assert.match(r.tagged, / OK /, r.tagged);
  return r;
}

function code(r: Reply, name: string): number {
  const m = new RegExp(`\\[${name} (\\d+)\\]`).exec(r.lines.join('\n'));
  assert.ok(m, `no ${name} in ${r.lines.join('\n')}`);
  return Number(m[1]);
}

async function login(port: number, user: string): Promise<RawClient> {
  const { client } = await RawClient.connect(port, { tls: true });
  ok(await client.command('L', `LOGIN ${user} ${PASSWORDS[user]}`));
  return client;
}

async function append(c: RawClient, mailbox: string, flags: string, bytes: Buffer): Promise<Reply> {
  return ok(await c.command('A', Buffer.concat([Buffer.from(`APPEND "${mailbox}" (${flags}) "05-Mar-2024 10:00:00 +0100" {${bytes.length}+}\r\n`), bytes])));
}

const mail = (n: number): Buffer =>
  Buffer.from(
    `From: Ann <ann@example.org>\r\nTo: alice@example.com\r\nSubject: note ${n}\r\nDate: Tue, 5 Mar 2024 10:00:0${n} +0100\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
      `caf\u00e9 ${n}\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>${n}</p>\r\n--x--\r\n`,
    'utf8',
  );

/** Everything a client can see of an account, as the raw replies (\\Recent left out: claiming it is a session's side effect). */
async function observe(port: number, user: string): Promise<Record<string, string>> {
  const c = await login(port, user);
  try {
    const seen: Record<string, string> = {};
    const raw = (r: Reply) =>
      ok(r)
        .lines.filter((l) => !/^\* \d+ RECENT$/.test(l))
        .map((l) => l.replace(/ ?\\Recent(?=[ )])/g, ''))
        .join('\n');
    seen.list = raw(await c.command('l', 'LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ SIZE))'));
    seen.quota = raw(await c.command('q', 'GETQUOTAROOT INBOX'));
    seen.serverMetadata = raw(await c.command('m', 'GETMETADATA (DEPTH infinity) "" (/private /shared)'));
    const names = [...seen.list.matchAll(/^\* LIST \([^)]*\) "\/" "?([^"\r\n]+)"?$/gm)].map((m) => m[1]!);
    assert.ok(names.length >= 2, seen.list);
    for (const name of names) {
      seen[`select ${name}`] = raw(await c.command('s', `SELECT "${name}" (CONDSTORE)`));
      seen[`fetch ${name}`] = raw(
        await c.command('f', 'UID FETCH 1:* (UID MODSEQ FLAGS INTERNALDATE SAVEDATE RFC822.SIZE EMAILID BODYSTRUCTURE ENVELOPE BODY.PEEK[])'),
      );
      seen[`metadata ${name}`] = raw(await c.command('g', `GETMETADATA (DEPTH infinity) "${name}" (/private /shared)`));
    }
    return seen;
  } finally {
    c.close();
  }
}

/** One LMTP transaction to several recipients (one stored base, a composite per recipient). */
async function lmtpDeliver(port: number, to: readonly string[], message: Buffer): Promise<void> {
  const { client } = await LmtpClient.connect(port);
  try {
    client.send(`LHLO test\r\nMAIL FROM:<ann@example.org>\r\n${to.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
    const head = await client.replies(2 + to.length + 1);
    assert.equal(head.at(-1)!.code, 354, head.map((r) => r.last).join('\n'));
    client.send(dotStuff(message));
    assert.deepEqual(
      (await client.replies(to.length)).map((r) => r.code),
      to.map(() => 250),
    );
  } finally {
    client.close();
  }
}

/** What the test remembers of the source besides the observation. */
interface Before {
  seen: Record<string, Record<string, string>>;
  inbox: { uidValidity: number; uidNext: number; modseqBeforeExpunge: number; expunged: number[]; changedAfter: number[] };
  uidValidities: number[];
  /** Id of the last mailbox created (then deleted) in the source, from its MAILBOXID (RFC 8474). */
  goneMailboxId: number;
  /** Alice's app password ("Phone") and its id. */
  appPassword: { password: string; id: number };
  /** An API token made in the source. */
  token: string;
}

/** Every record of every dump section of a store (JSON per section), read through the store's own dump. */
async function dumpAll(where: { dataDir: string; url: string | null }): Promise<Record<string, string>> {
  const store = await openStore(where);
  try {
    const out: Record<string, string> = {};
    for (const section of DUMP_SECTIONS) {
      const records: DumpRecord[] = [];
      let after: DumpKey | null = null;
      for (;;) {
        const page = await store.dumpPage(section, after, 500);
        if (page.length === 0) break;
        records.push(...page);
        after = keyOf(page.at(-1)!);
      }
      out[section] = JSON.stringify(records);
    }
    return out;
  } finally {
    await store.close();
  }
}

/** Logs in over IMAP with SCRAM-SHA-256 (RFC 7677, SASL-IR); returns the tagged line. */
async function scramLogin(port: number, user: string, password: string): Promise<string> {
  const { client } = await RawClient.connect(port, { tls: true });
  try {
    const sc = new ScramClient('sha256', user, password);
    client.send(`a AUTHENTICATE SCRAM-SHA-256 ${b64(sc.clientFirst)}\r\n`);
    const first = await client.readLine(30_000);
    assert.match(first, /^\+ /, first);
    client.send(`${b64(sc.final(unb64(first.slice(2))))}\r\n`);
    const final = await client.readLine(30_000);
    if (!final.startsWith('+ ')) return final;
    assert.ok(sc.verifies(unb64(final.slice(2))), 'the server proves it knows the keys');
    client.send('\r\n');
    return await client.readLine(30_000);
  } finally {
    client.close();
  }
}

/** The store's id of a mailbox (MAILBOXIDs are random: they no longer carry it). */
async function storeIdOf(srv: TestServer, account: string, mailbox: string): Promise<number> {
  const store = srv.server.store;
  const mb = await store.getMailbox((await store.findAccount(account))!.id, mailbox);
  assert.ok(mb, mailbox);
  return mb.id;
}

/** Builds the source installation through a running SQLite server, observes it, and stops the server. */
async function buildSource(dataDir: string): Promise<Before> {
  const srv = await startTestServer({ dataDir, store: { url: null } });
  try {
    await srv.addUser('alice', PASSWORDS.alice!);
    await srv.addUser('bob', PASSWORDS.bob!);
    const store = srv.server.store;
    const alice = (await store.findAccount('alice'))!;
    await store.addAlias('ali@example.com', alice.id);
    const phone = generateAppPassword(new Set());
    const hash = await hashPassword(asAppPassword(phone.password)!.canonical);
    const entry = { name: 'Phone', lookup: phone.lookup, hash, protocols: ['imap'], expiresAt: null };
    const appPassword = { password: phone.password, id: (await store.addAppPassword(alice.id, entry, new Date(), APP_PASSWORD_LIMITS)).id };
    await store.setQuota(alice.id, { storage: 5_000_000, messages: 500 });
    // Sieve scripts travel too (the copy's verification compares each account's list).
    const sieveQuota = { maxScripts: 10, maxTotalSize: 10_000 };
    // The active one runs at delivery (mail/sieve-delivery.ts): it must leave the LMTP message below in INBOX.
    await store.putSieveScript(alice.id, 'main', 'require "fileinto";\nif false { fileinto "Projects"; }\n', sieveQuota, true);
    await store.putSieveScript(alice.id, 'spare', 'keep;\n', sieveQuota);
    // The rest of the installation: SCRAM keys, Sieve memory, account states, admin users, tokens, audit, sign-ins.
    const bob = (await store.findAccount('bob'))!;
    await store.setScramCredentials(bob.id, bob.passwordHash, await deriveScramCredentials(PASSWORDS.bob!, 4096));
    await store.sieveMemoryPut(alice.id, 'vacation', 'sender-hash', new Date(Date.now() + 86_400_000), new Date());
    await store.sieveMemoryPut(bob.id, 'duplicate', 'id-hash', new Date(Date.now() + 3_600_000), new Date());
    await store.recordLogin(bob.id, { at: new Date(), protocol: 'imap', address: '192.0.2.7' });
    const admin = new Administration(store, { actor: 'cli:test', address: 'local' }, CHEAP_HASHING);
    await admin.addAdminUser('root', 'root-pw');
    await store.claimAdminTotpStep('root', 1234);
    const token = await addToken(store, 'ops');
    await store.addAdminSignIn('a'.repeat(64), { user: 'root', csrf: 'csrf-token', expiresAt: new Date(Date.now() + 3_600_000) });
    // bob's script edits his copy's header: a composite from the body's start (deliver.ts), copied as such.
    await store.putSieveScript(bob.id, 'edit', 'require "editheader";\naddheader "X-Copied" "yes";\n', sieveQuota, true);

    const c = await login(srv.imapsPort, 'alice');
    ok(await c.command('e', 'ENABLE QRESYNC'));
    for (const [i, flags] of ['\\Seen', '\\Seen $Important', '', '\\Draft'].entries()) await append(c, 'INBOX', flags, mail(i + 1));
    let r = ok(await c.command('s', 'SELECT INBOX'));
    const uidValidity = code(r, 'UIDVALIDITY');
    ok(await c.command('f1', 'UID STORE 2 +FLAGS ($Label1 \\Flagged)'));
    const modseqBeforeExpunge = code(ok(await c.command('s2', 'SELECT INBOX')), 'HIGHESTMODSEQ');
    ok(await c.command('f2', 'UID STORE 1,3 +FLAGS (\\Deleted)'));
    ok(await c.command('x', 'EXPUNGE'));
    ok(await c.command('f3', 'UID STORE 4 -FLAGS (\\Draft)'));
    ok(await c.command('c1', 'CREATE Projects/2024'));
    ok(await c.command('c2', 'CREATE Temp'));
    ok(await c.command('c3', 'RENAME Temp Later'));
    ok(await c.command('c4', 'SUBSCRIBE Projects/2024'));
    ok(await c.command('c5', 'UID COPY 2 Projects/2024'));
    await append(c, 'Projects/2024', '$Work', mail(5));
    ok(await c.command('m1', 'SETMETADATA INBOX (/private/comment "inbox note" /shared/comment "v")'));
    ok(await c.command('m2', 'SETMETADATA "" (/private/comment "dark")'));
    ok(await c.command('d', 'DELETE Later'));
    // A UIDVALIDITY far ahead of the clock (as an import adopts one): mailboxes created after the move must go beyond it.
    ok(await c.command('c6', 'CREATE Imported'));
    const imported = (await store.getMailbox(alice.id, 'Imported'))!;
    assert.ok(await store.adoptUidValidity(alice.id, imported.id, Math.floor(Date.now() / 1000) + 1_000_000));
    // The last mailbox id handed out belongs to a deleted mailbox: the copy's allocator must not hand it out again.
    ok(await c.command('c7', 'CREATE Gone'));
    const goneMailboxId = await storeIdOf(srv, 'alice', 'Gone');
    ok(await c.command('c8', 'DELETE Gone'));
    c.close();
    // Two recipients, one of them through the alias: one base blob, two composites (bob's with his own header).
    await lmtpDeliver(srv.lmtpPort, ['ali@example.com', 'bob@example.com'], mail(6));

    const seen = { alice: await observe(srv.imapsPort, 'alice'), bob: await observe(srv.imapsPort, 'bob') };
    assert.match(seen.bob['fetch INBOX']!, /\r?\nX-Copied: yes\r?\n/, "bob's script edited his copy");
    const inboxSelect = seen.alice['select INBOX']!;
    r = { lines: inboxSelect.split('\n'), tagged: '', raw: Buffer.alloc(0) };
    const uidValidities = [...Object.values(seen.alice), ...Object.values(seen.bob)].flatMap((text) =>
      [...text.matchAll(/UIDVALIDITY (\d+)/g)].map((m) => Number(m[1])),
    );
    return {
      seen,
      inbox: { uidValidity, uidNext: code(r, 'UIDNEXT'), modseqBeforeExpunge, expunged: [1, 3], changedAfter: [4, 5] },
      uidValidities,
      goneMailboxId,
      appPassword,
      token,
    };
  } finally {
    // stop() removes only the directory startTestServer made itself, not dataDir.
    await srv.stop();
  }
}

/** Starts a server on the copy and checks that clients cannot tell the move happened. */
async function checkCopy(original: Before, overrides: Record<string, unknown>): Promise<void> {
  const srv = await startTestServer({ ...overrides, adminPort: await freePort() });
  try {
    assert.match(await scramLogin(srv.imapsPort, 'bob', PASSWORDS.bob!), /^a OK/);
    const api = await callApi(srv.server.ports.admin!, 'GET', '/api/v1/audit', { token: original.token });
    assert.equal(api.status, 200, JSON.stringify(api.body));
    assert.ok(api.body.entries.some((e: { action: string; target: string }) => e.action === 'token.add' && e.target === 'ops'));
    assert.deepEqual(await observe(srv.imapsPort, 'alice'), original.seen.alice);
    assert.deepEqual(await observe(srv.imapsPort, 'bob'), original.seen.bob);
    const aliceId = (await srv.server.store.findAccount('alice'))!.id;
    assert.equal((await srv.server.store.getActiveSieveScript(aliceId))?.content, 'require "fileinto";\nif false { fileinto "Projects"; }\n');
    assert.deepEqual(
      (await srv.server.store.listSieveScripts(aliceId)).map((x) => x.name),
      ['main', 'spare'],
    );

    // App passwords travel with their hash and id; a new one gets a later id.
    const phone = await RawClient.login(srv.imapsPort, 'alice', original.appPassword.password);
    phone.close();
    const alice = (await srv.server.store.findAccount('alice'))!;
    const next = generateAppPassword(new Set([original.appPassword.password.slice(0, 4)]));
    const entry = { name: 'Tablet', lookup: next.lookup, hash: 'x', protocols: ['imap'], expiresAt: null };
    assert.ok((await srv.server.store.addAppPassword(alice.id, entry, new Date(), APP_PASSWORD_LIMITS)).id > original.appPassword.id);

    const c = await login(srv.imapsPort, 'alice');
    ok(await c.command('e', 'ENABLE QRESYNC'));
    // RFC 7162 §3.2.5.2: a client that knew the mailbox at modseqBeforeExpunge learns what vanished and changed since.
    const { uidValidity, modseqBeforeExpunge, expunged, changedAfter, uidNext } = original.inbox;
    const r = ok(await c.command('q', `SELECT INBOX (QRESYNC (${uidValidity} ${modseqBeforeExpunge}))`));
    assert.ok(r.lines.includes(`* VANISHED (EARLIER) ${expunged.join(',')}`), r.lines.join('\n'));
    const fetched = r.lines.flatMap((l) => /^\* \d+ FETCH \(.*UID (\d+)/.exec(l)?.[1] ?? []).map(Number);
    assert.deepEqual(
      fetched.sort((a, b) => a - b),
      changedAfter,
    );
    // A new message continues UIDNEXT; a new mailbox gets a UIDVALIDITY never used before.
    const appended = await append(c, 'INBOX', '', mail(7));
    assert.match(appended.tagged, new RegExp(`\\[APPENDUID ${uidValidity} ${uidNext}\\]`));
    ok(await c.command('n', 'CREATE Fresh'));
    const created = await storeIdOf(srv, 'alice', 'Fresh');
    assert.ok(created > original.goneMailboxId, `mailbox id ${created} was handed out before the move`);
    const fresh = code(ok(await c.command('s', 'SELECT Fresh')), 'UIDVALIDITY');
    assert.ok(fresh > Math.max(...original.uidValidities), `${fresh} is not above every UIDVALIDITY used before the move`);
    c.close();
  } finally {
    await srv.stop();
  }
}

describe('mailkeep store copy', () => {
  let base: string;
  let source: string;
  let original: Before;
  let sourceDump: Record<string, string>;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'mailkeep-copy-'));
    source = join(base, 'source');
    original = await buildSource(source);
    sourceDump = await dumpAll({ dataDir: source, url: null });
    for (const section of ['scramKeys', 'sieveMemory', 'adminUsers', 'apiTokens', 'adminAudit', 'adminSignIns']) {
      assert.notEqual(sourceDump[section], '[]', `the source has ${section}`);
    }
  });
  after(() => rm(base, { recursive: true, force: true }));

  test('SQLite to SQLite: a server on the copy answers as before; a non-empty target is refused unless --replace', async () => {
    const target = join(base, 'sqlite-target');
    const run = mailkeep(['store', 'copy', '--from', `sqlite:${source}`, '--to', target]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /copied 2 accounts, \d+ mailboxes, 6 messages .* 2 expunge tombstones, 1 alias and 3 metadata entries/);
    assert.match(run.stdout, /verified/);
    assert.deepEqual(await dumpAll({ dataDir: target, url: null }), sourceDump);
    await checkCopy(original, { dataDir: target, store: { url: null } });

    // The target now holds accounts (and a message the source never had).
    const refused = mailkeep(['store', 'copy', '--from', source, '--to', `sqlite:${target}`]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /already holds 2 account\(s\) \(alice, bob\); refusing/);
    const replaced = mailkeep(['store', 'copy', '--from', source, '--to', target, '--replace']);
    assert.equal(replaced.status, 0, replaced.stderr);
    assert.match(replaced.stdout, /deleted 2 accounts from the target first; copied 2 accounts/);
    // The admin rows made meanwhile in the target (the checks' audit entries) were replaced too; the allocators stay
    // where the checks moved them (raised, never lowered).
    const { counters: _, ...replacedDump } = await dumpAll({ dataDir: target, url: null });
    const { counters: __, ...expected } = sourceDump;
    assert.deepEqual(replacedDump, expected);
  });

  test('usage errors: unknown scheme, same store, missing source', () => {
    assert.equal(mailkeep(['store', 'copy', '--from', 'mysql://x/y', '--to', join(base, 't')]).status, 2);
    assert.equal(mailkeep(['store', 'copy', '--from', source, '--to', `sqlite:${source}`]).status, 2);
    const missing = mailkeep(['store', 'copy', '--from', join(base, 'nothing'), '--to', join(base, 't')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no mailkeep store/);
  });

  test('SQLite to PostgreSQL and back', async (t) => {
    if (!(await pgAvailable())) return t.skip('MAILKEEP_TEST_PG unset');
    const dbs: TestDatabase[] = [await createTestDatabase(), await createTestDatabase()];
    try {
      const [pgTarget, pgRefused] = dbs as [TestDatabase, TestDatabase];
      const run = mailkeep(['store', 'copy', '--from', `sqlite:${source}`, '--to', pgTarget.url]);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /copied 2 accounts, \d+ mailboxes, 6 messages/);

      // PostgreSQL → SQLite on the untouched copy, then check that round trip before using the PG copy.
      const back = join(base, 'back');
      assert.deepEqual(await dumpAll({ dataDir: join(base, 'pg-dump'), url: pgTarget.url }), sourceDump);
      const round = mailkeep(['store', 'copy', '--from', pgTarget.url, '--to', `sqlite:${back}`]);
      assert.equal(round.status, 0, round.stderr);
      assert.deepEqual(await dumpAll({ dataDir: back, url: null }), sourceDump);
      await checkCopy(original, { dataDir: back, store: { url: null } });
      await checkCopy(original, { dataDir: join(base, 'pg-serve'), store: { url: pgTarget.url } });

      // A PostgreSQL target with accounts is refused too.
      assert.equal(mailkeep(['store', 'copy', '--from', source, '--to', pgRefused.url]).status, 0);
      const refused = mailkeep(['store', 'copy', '--from', source, '--to', pgRefused.url]);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /refusing to copy/);
    } finally {
      for (const db of dbs) await db.drop();
    }
  });
});
