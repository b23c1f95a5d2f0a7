/**
 * Issue 18, findings 7, 8 and 23: the login throttle over real sockets, from
 * distinct loopback addresses (127.0.0.0/8 is all loopback on Linux).
 * Short tarpit delays keep the runs quick; the limits are the defaults.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Pop3Client } from '../helpers/pop3-client.js';
import { RawClient } from '../helpers/raw-client.js';
import { PRODUCTION_HASHING_CONFIG } from '../helpers/cheap-hashing.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FAST_TARPIT = { baseDelayMs: 50, maxDelayMs: 200 };
/** A 32 MiB scrypt takes seconds on a loaded 2-core box, and attempts queue for hash slots. */
const ANSWER_MS = 60_000;

/** Connects from `localAddress` and sends one LOGIN; resolves to the tagged answer. */
async function loginFrom(port: number, localAddress: string, user: string, password: string): Promise<string> {
  const { client } = await RawClient.connect(port, { localAddress });
  try {
    return (await client.command('a', `LOGIN ${user} ${password}`, ANSWER_MS)).tagged;
  } finally {
    client.close();
  }
}

describe('hostile: login throttle', () => {
  let srv: TestServer;

  before(async () => {
    // The counts live in the store here (SQLite, or PostgreSQL with MAILKEEP_TEST_STORE=postgres); the flood test uses memory.
    // Hashes at production cost, so a burst's verifications overlap as they would in production.
    srv = await startTestServer({
      plaintextAuth: { allowInsecure: true },
      auth: PRODUCTION_HASHING_CONFIG.auth,
      authThrottle: { ...PRODUCTION_HASHING_CONFIG.authThrottle, ...FAST_TARPIT, sharedState: true },
    });
    for (const name of ['bob', 'carol', 'dave', 'erin']) await srv.addUser(name, 'right');
  });
  after(() => srv.stop());

  it('finding 8: a burst of 60 LOGINs from one address verifies 10 and refuses the rest, the correct password included', async () => {
    const conns = await Promise.all(Array.from({ length: 60 }, () => RawClient.connect(srv.imapPort, { localAddress: '127.0.0.2' })));
    const clients = conns.map((c) => c.client);
    try {
      const wrong = clients.slice(0, 59);
      for (const c of wrong) c.send('a LOGIN erin wrong\r\n');
      const answers: string[] = [];
      // Immediate refusals arrive first; once 49 are in, 10 attempts are counted against the address.
      const pending = wrong.map((c) => c.readTagged('a', ANSWER_MS).then((r) => answers.push(r.tagged)));
      const deadline = Date.now() + 30_000;
      while (answers.filter((a) => a.includes('[UNAVAILABLE]')).length < 49 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(answers.filter((a) => a.includes('[UNAVAILABLE]')).length, 49, `refused before verifying: ${answers.join(' | ')}`);
      const correct = await clients[59]!.command('a', 'LOGIN erin right', ANSWER_MS);
      assert.match(correct.tagged, /^a NO \[UNAVAILABLE\]/, 'the correct password beyond the limit is refused unchecked');
      await Promise.all(pending);
      assert.equal(answers.filter((a) => a.includes('[AUTHENTICATIONFAILED]')).length, 10, 'exactly the limit was verified');
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('finding 7: 20 failures for bob from 20 addresses do not lock bob out of a fresh or a trusted address', async () => {
    // bob reads his mail from 127.0.3.1 before the attack.
    assert.match(await loginFrom(srv.imapPort, '127.0.3.1', 'bob', 'right'), /^a OK/);
    const attack = await Promise.all(Array.from({ length: 20 }, (_, i) => loginFrom(srv.imapPort, `127.0.2.${i + 1}`, 'bob', `guess${i}`)));
    assert.ok(
      attack.every((a) => a.includes('[AUTHENTICATIONFAILED]')),
      attack.join(' | '),
    );
    // The attacker's addresses stay refused for bob, even with the right password.
    assert.match(await loginFrom(srv.imapPort, '127.0.2.3', 'bob', 'right'), /^a NO \[UNAVAILABLE\]/);
    // The owner, from an address that has not failed: LOGIN, AUTHENTICATE PLAIN and POP3 all get in.
    assert.match(await loginFrom(srv.imapPort, '127.0.3.2', 'bob', 'right'), /^a OK/);
    const { client } = await RawClient.connect(srv.imapPort, { localAddress: '127.0.3.3' });
    const plain = Buffer.from('\0bob\0right').toString('base64');
    assert.match((await client.command('b', `AUTHENTICATE PLAIN ${plain}`, ANSWER_MS)).tagged, /^b OK/);
    client.close();
    const { client: pop } = await Pop3Client.connect(srv.pop3Port, { localAddress: '127.0.3.4' });
    assert.match(await pop.command('USER bob'), /^\+OK/);
    assert.match(await pop.command('PASS right', ANSWER_MS), /^\+OK/);
    pop.close();
    // From where he logged in before, even after a typo.
    assert.match(await loginFrom(srv.imapPort, '127.0.3.1', 'bob', 'typo'), /AUTHENTICATIONFAILED/);
    assert.match(await loginFrom(srv.imapPort, '127.0.3.1', 'bob', 'right'), /^a OK/);
  });

  it('finding 23: a successful login from a NAT address clears its failures', async () => {
    const nat = '127.0.4.1';
    for (let i = 0; i < 9; i++) assert.match(await loginFrom(srv.imapPort, nat, `nobody${i}`, 'x'), /AUTHENTICATIONFAILED/);
    assert.match(await loginFrom(srv.imapPort, nat, 'carol', 'right'), /^a OK/);
    for (let i = 0; i < 9; i++) assert.match(await loginFrom(srv.imapPort, nat, `nobody${i}`, 'x'), /AUTHENTICATIONFAILED/);
    // 18 failures from the address in this window, but the success in between cleared the first 9.
    assert.match(await loginFrom(srv.imapPort, nat, 'dave', 'right'), /^a OK/);
    // The address limit itself still holds: 10 failures in a row and it is refused.
    for (let i = 0; i < 10; i++) await loginFrom(srv.imapPort, nat, `nobody${i}`, 'x');
    assert.match(await loginFrom(srv.imapPort, nat, 'erin', 'right'), /^a NO \[UNAVAILABLE\]/);
  });
});
