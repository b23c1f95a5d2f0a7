/**
 * Finding 12 (issue 18): anyone who can send mail can address `alice+Sent@…`,
 * so a `+detail` must not file a forged message into Sent, Drafts or any
 * mailbox its owner did not open to deliveries. With the default
 * lmtp.detail-delivery = "opt-in" only mailboxes alice marked with the
 * private annotation /private/vendor/mailkeep/detail-delivery "yes" (IMAP
 * SETMETADATA, RFC 5464) take a detail; everything else lands in INBOX.
 * "unless-special-use" also opens mailboxes without a special use (RFC 6154);
 * "off" sends every detail to INBOX. `mailkeep deliver` follows the same rule,
 * for +detail and for --mailbox.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DETAIL_DELIVERY_ENTRY } from '../../src/mail/deliver.js';
import { openStore } from '../../src/store/open.js';
import type { MailStore } from '../../src/store/types.js';
import { BIN, cleanEnv } from '../cli-helpers.js';
import { dotStuff, LmtpClient } from '../helpers/lmtp-client.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Special-use mailboxes besides the configured defaults (Drafts, Sent, Trash, Junk, Archive). */
const EXTRA_SPECIAL = [
  ['AllMail', '\\All'],
  ['Starred', '\\Flagged'],
] as const;
const SPECIAL = ['Drafts', 'Sent', 'Trash', 'Junk', 'Archive', 'AllMail', 'Starred'];

/** Creates alice with her special-use mailboxes and two ordinary ones, `Lists` and `Projects`. */
async function setUpAlice(store: MailStore): Promise<void> {
  const alice = await store.createAccount('alice', 'x');
  for (const [name, use] of EXTRA_SPECIAL) await store.createMailbox(alice.id, name, use);
  await store.createMailbox(alice.id, 'Lists');
  await store.createMailbox(alice.id, 'Projects');
}

/** Subjects of the messages in each of alice's mailboxes that hold any. */
async function subjects(store: MailStore): Promise<Record<string, string[]>> {
  const alice = (await store.findAccount('alice'))!;
  const out: Record<string, string[]> = {};
  for (const mb of await store.listMailboxes(alice.id)) {
    const uids = (await store.listSummaries(alice.id, mb.id)).map((s) => s.uid);
    const texts = await Promise.all((await store.getRecords(alice.id, mb.id, uids)).map(async (r) => (await store.blobs.read(r.blobId)).toString()));
    const found = texts.map((t) => /^Subject: (.*)$/m.exec(t)?.[1]?.trim() ?? '?');
    if (found.length > 0) out[mb.name] = found.sort();
  }
  return out;
}

/** One LMTP transaction per detail (its subject names it); every recipient must get 250. */
async function deliverByLmtp(port: number, details: readonly string[]): Promise<void> {
  const { client } = await LmtpClient.connect(port);
  assert.equal((await client.command('LHLO test')).code, 250);
  for (const detail of details) {
    assert.equal((await client.command('MAIL FROM:<mallory@evil.example>')).code, 250);
    const rcpt = await client.command(`RCPT TO:<alice+${detail}@example.com>`);
    assert.equal(rcpt.code, 250, rcpt.last);
    assert.equal((await client.command('DATA')).code, 354);
    client.send(dotStuff(Buffer.from(`From: alice@example.com\r\nSubject: ${detail}\r\n\r\nforged\r\n`)));
    const reply = await client.reply();
    assert.equal(reply.code, 250, reply.last);
  }
  client.close();
}

const DETAILS = [...SPECIAL, 'Lists', 'Projects', 'Nonexistent', 'INBOX'];

describe('finding 12: +detail delivery into a mailbox is opt-in', () => {
  describe('lmtp.detail-delivery = "opt-in" (the default)', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startTestServer({ lmtp: { domains: ['example.com'] } });
      await setUpAlice(srv.server.store);
    });
    after(() => srv.stop());

    it('files nothing into special-use or un-opted mailboxes; the mailbox alice opted in takes its detail', async () => {
      const store = srv.server.store;
      const alice = (await store.findAccount('alice'))!;
      const projects = (await store.getMailbox(alice.id, 'Projects'))!;
      await store.setMetadata(alice.id, projects.id, [[DETAIL_DELIVERY_ENTRY, Buffer.from('yes')]]);
      await deliverByLmtp(srv.lmtpPort, DETAILS);
      const inbox = DETAILS.filter((d) => d !== 'Projects').sort();
      assert.deepEqual(await subjects(store), { INBOX: inbox, Projects: ['Projects'] });
    });

    it('an opt-in set by the user with IMAP SETMETADATA opens the mailbox; a value other than "yes" or removing it closes it', async () => {
      await srv.addUser('carol', 'pw');
      const store = srv.server.store;
      const carol = (await store.findAccount('carol'))!;
      await store.createMailbox(carol.id, 'Lists');
      const imap = await RawClient.login(srv.imapsPort, 'carol', 'pw');
      const lists = async (): Promise<number> => (await store.mailboxCounts(carol.id, (await store.getMailbox(carol.id, 'Lists'))!.id)).messages;
      const send = async (): Promise<void> => {
        const { client } = await LmtpClient.connect(srv.lmtpPort);
        for (const line of ['LHLO t', 'MAIL FROM:<>', 'RCPT TO:<carol+Lists@example.com>', 'DATA']) await client.command(line);
        client.send(dotStuff(Buffer.from('Subject: x\r\n\r\nx\r\n')));
        assert.equal((await client.reply()).code, 250);
        client.close();
      };
      await send();
      assert.equal(await lists(), 0, 'not opted in: INBOX');
      assert.match((await imap.command('m1', `SETMETADATA Lists (${DETAIL_DELIVERY_ENTRY} "yes")`)).tagged, /^m1 OK/);
      await send();
      assert.equal(await lists(), 1, 'opted in');
      assert.match((await imap.command('m2', `SETMETADATA Lists (${DETAIL_DELIVERY_ENTRY} "no")`)).tagged, /^m2 OK/);
      await send();
      assert.match((await imap.command('m3', `SETMETADATA Lists (${DETAIL_DELIVERY_ENTRY} NIL)`)).tagged, /^m3 OK/);
      await send();
      assert.equal(await lists(), 1, '"no" and NIL close it again');
      await imap.command('z', 'LOGOUT');
    });
  });

  describe('lmtp.detail-delivery = "unless-special-use"', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startTestServer({ lmtp: { domains: ['example.com'], detailDelivery: 'unless-special-use' } });
      await setUpAlice(srv.server.store);
    });
    after(() => srv.stop());

    it('ordinary mailboxes take their detail; special-use ones only when opted in', async () => {
      const store = srv.server.store;
      const alice = (await store.findAccount('alice'))!;
      const junk = (await store.getMailbox(alice.id, 'Junk'))!;
      await store.setMetadata(alice.id, junk.id, [[DETAIL_DELIVERY_ENTRY, Buffer.from('YES')]]);
      await deliverByLmtp(srv.lmtpPort, DETAILS);
      const inbox = DETAILS.filter((d) => !['Lists', 'Projects', 'Junk'].includes(d)).sort();
      assert.deepEqual(await subjects(store), { INBOX: inbox, Junk: ['Junk'], Lists: ['Lists'], Projects: ['Projects'] });
    });
  });

  describe('lmtp.detail-delivery = "off"', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startTestServer({ lmtp: { domains: ['example.com'], detailDelivery: 'off' } });
      await setUpAlice(srv.server.store);
    });
    after(() => srv.stop());

    it('every detail goes to INBOX, opted in or not', async () => {
      const store = srv.server.store;
      const alice = (await store.findAccount('alice'))!;
      const projects = (await store.getMailbox(alice.id, 'Projects'))!;
      await store.setMetadata(alice.id, projects.id, [[DETAIL_DELIVERY_ENTRY, Buffer.from('yes')]]);
      await deliverByLmtp(srv.lmtpPort, ['Sent', 'Projects']);
      assert.deepEqual(await subjects(store), { INBOX: ['Projects', 'Sent'] });
    });
  });

  describe('mailkeep deliver', () => {
    let dir: string;
    let dataDir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mailkeep-detail-'));
      dataDir = join(dir, 'data');
      const store = await openStore({ dataDir });
      try {
        await setUpAlice(store);
        const alice = (await store.findAccount('alice'))!;
        const projects = (await store.getMailbox(alice.id, 'Projects'))!;
        await store.setMetadata(alice.id, projects.id, [[DETAIL_DELIVERY_ENTRY, Buffer.from('yes')]]);
      } finally {
        await store.close();
      }
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('follows the same rule for +detail and --mailbox', async () => {
      const run = (args: string[], subject: string, env: Record<string, string> = {}): void => {
        const input = `From: alice@example.com\r\nSubject: ${subject}\r\n\r\nforged\r\n`;
        const r = spawnSync(process.execPath, [BIN, 'deliver', '--data-dir', dataDir, ...args], { input, env: cleanEnv(env), timeout: 60_000 });
        assert.equal(r.status, 0, r.stderr.toString());
      };
      run(['--to', 'alice+Sent@example.com'], 'detail Sent');
      run(['--to', 'alice', '--mailbox', 'Drafts'], 'mailbox Drafts');
      run(['--to', 'alice', '--mailbox', 'Lists'], 'mailbox Lists');
      run(['--to', 'alice+Projects@example.com'], 'detail Projects');
      run(['--to', 'alice', '--mailbox', 'Lists'], 'mailbox Lists unless-special-use', { MAILKEEP_LMTP__DETAIL_DELIVERY: 'unless-special-use' });
      const store = await openStore({ dataDir });
      try {
        assert.deepEqual(await subjects(store), {
          INBOX: ['detail Sent', 'mailbox Drafts', 'mailbox Lists'],
          Lists: ['mailbox Lists unless-special-use'],
          Projects: ['detail Projects'],
        });
      } finally {
        await store.close();
      }
    });
  });
});
