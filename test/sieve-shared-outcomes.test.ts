// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/**
 * The recipients of one LMTP transaction with the same script share the
 * outcomes of its message-pure tests (sieve/message.ts TestOutcomes). Over
 * real LMTP, five accounts with one script whose runs differ by envelope:
 * two edit the header before a header test (RFC 5293), a header test uses a
 * variable set from the envelope, and a :matches group names the folder
 * (RFC 5229 §3.2). Each recipient's copy must land where a run of its own,
 * on its own copy of the bytes (nothing shared), says.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { putScript } from '../src/mail/sieve-scripts.js';
import { parseSieve, runSieve, type SieveRunResult } from '../src/sieve/index.js';
import type { MailStore } from '../src/store/types.js';
import { lmtpTransaction } from './helpers/lmtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SCRIPT = `require ["fileinto", "imap4flags", "variables", "envelope", "subaddress", "editheader", "mailbox"];
if envelope :detail "to" "edit" { addheader "X-Mark" "yes"; }
if header :is "x-mark" "yes" { addflag "marked"; }
if envelope :user :matches "to" "*" { set "me" "\${1}"; }
if header :contains "to" "\${me}" { fileinto :create "Named/\${me}"; stop; }
if header :matches "subject" "[*] *" { fileinto :create "Sub/\${1}"; stop; }
`;
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const RECIPIENTS = ['alice@example.com', 'bob+edit@example.com', 'carol@example.com', 'dave+edit@example.com', 'erin@example.com'];

const mail = (subject: string): string =>
  `From: Ann <ann@example.org>\r\nTo: bob@example.com, carol@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\nbody\r\n`;

let srv: TestServer;
let store: MailStore;

before(async () => {
  srv = await startTestServer({ domains: ['example.com'] });
  store = srv.server.store;
  for (const u of USERS) {
    await srv.addUser(u, 'pw');
    const account = (await store.findAccount(u))!;
    assert.deepEqual(await putScript(store, srv.config.sieve, account.id, 'main', SCRIPT, true), []);
  }
});
after(async () => {
  await srv?.stop();
});

/** Where a run put the message, as "mailbox +flag…" (the implicit keep is INBOX). */
function placed(r: SieveRunResult): string[] {
  assert.equal(r.errors, undefined);
  return r.actions.map((a) =>
    a.type === 'fileinto' || a.type === 'keep' ? `${a.type === 'keep' ? 'INBOX' : a.mailbox}${a.flags.map((f) => ` +${f}`).join('')}` : a.type,
  );
}

/** Each recipient's run on its own copy of the message: the answer without shared outcomes. */
async function unshared(message: string): Promise<string[][]> {
  const p = parseSieve(SCRIPT);
  assert.ok(p.ok);
  const out: string[][] = [];
  for (const to of RECIPIENTS) {
    const ctx = {
      envelope: { from: 'ann@example.org', to },
      userAddresses: [],
      mailboxExists: () => false,
      duplicateSeen: () => false,
      vacationAlreadySent: () => false,
    };
    out.push(placed(await runSieve(p.script, Buffer.from(message), ctx)));
  }
  return out;
}

/** The copies of the message with this subject in the user's mailboxes, as "mailbox +flag…", and whether they carry X-Mark. */
async function stored(user: string, subject: string): Promise<Array<{ where: string; marked: boolean }>> {
  const account = (await store.findAccount(user))!;
  const out: Array<{ where: string; marked: boolean }> = [];
  for (const mb of await store.listMailboxes(account.id)) {
    const uids = (await store.listSummaries(account.id, mb.id)).map((s) => s.uid);
    for (const r of await store.getRecords(account.id, mb.id, uids)) {
      const text = (await store.blobs.read(r.blobId)).toString('latin1');
      if (!text.includes(`Subject: ${subject}\r\n`)) continue;
      const flags = r.flags.filter((f) => !f.startsWith('\\'));
      out.push({ where: `${mb.name}${flags.map((f) => ` +${f}`).join('')}`, marked: /^X-Mark: yes\r$/m.test(text) });
    }
  }
  return out;
}

for (const [subject, want] of [
  ['[proj] hello', [['Sub/proj'], ['Named/bob +marked'], ['Named/carol'], ['Sub/proj +marked'], ['Sub/proj']]],
  ['plain words', [['INBOX'], ['Named/bob +marked'], ['Named/carol'], ['INBOX +marked'], ['INBOX']]],
] as const) {
  test(`one transaction, five recipients, one script: each lands where its own run says ("${subject}")`, async () => {
    const message = mail(subject);
    const expected = await unshared(message);
    assert.deepEqual(expected, want);
    const replies = await lmtpTransaction(srv.lmtpPort, 'ann@example.org', RECIPIENTS, message);
    assert.deepEqual(
      replies.map((r) => r.code),
      [250, 250, 250, 250, 250],
      replies.map((r) => r.last).join('\n'),
    );
    for (const [i, user] of USERS.entries()) {
      const copies = await stored(user, subject);
      assert.deepEqual(
        copies.map((c) => c.where),
        expected[i],
        user,
      );
      // RFC 5293: the edited header is stored for the recipients that edited it, and only for them
      assert.deepEqual(
        copies.map((c) => c.marked),
        [RECIPIENTS[i]!.includes('+edit')],
        user,
      );
    }
  });
}
