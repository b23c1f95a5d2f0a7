/**
 * The live-session registry (net/live-sessions.ts): every protocol's sessions
 * are listed with what they are doing, and a kick ends them the protocol's way
 * — an IMAP client in IDLE gets `* BYE` at once, a POP3 client `-ERR` — while
 * other users' sessions go on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('erin', 'pw-erin');
  await srv.addUser('finn', 'pw-finn');
});
after(async () => srv.stop());

describe('live sessions', () => {
  test('sessions are listed with user, protocol, TLS, mailbox and command; a kick ends only the matching ones', async () => {
    const erin = await RawClient.login(srv.imapsPort, 'erin', 'pw-erin');
    const finn = await RawClient.login(srv.imapsPort, 'finn', 'pw-finn');
    const { client: pop } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      assert.match((await erin.command('s', 'SELECT INBOX')).tagged, /^s OK/);
      erin.send('i IDLE\r\n');
      assert.match(await erin.readLine(), /^\+ /);
      await pop.command('USER erin');
      assert.match(await pop.command('PASS pw-erin', 20_000), /^\+OK/);

      const listed = srv.server.sessions.list((s) => s.user !== null);
      const erinImap = listed.find((s) => s.protocol === 'imap' && s.user?.name === 'erin');
      assert.ok(erinImap, JSON.stringify(listed));
      assert.equal(erinImap.mailbox, 'INBOX');
      assert.equal(erinImap.command, 'IDLE');
      assert.equal(erinImap.tls, true);
      assert.equal(erinImap.user?.credential, 'password');
      assert.equal(erinImap.remoteAddress, '127.0.0.1');
      const erinPop = listed.find((s) => s.protocol === 'pop3' && s.user?.name === 'erin');
      assert.ok(erinPop);
      assert.equal(erinPop.tls, true);
      assert.equal(erinPop.command, null);
      assert.ok(listed.some((s) => s.user?.name === 'finn' && s.command === null && s.mailbox === null));

      const kicked = srv.server.sessions.kick((s) => s.user?.name === 'erin', 'Session ended by the administrator');
      assert.equal(kicked, 2);
      // RFC 9051 §7.1.5: BYE may come at any time, IDLE included.
      assert.match(await erin.readLine(10_000), /^\* BYE Session ended by the administrator/);
      assert.match(await pop.readLine(10_000), /^-ERR/);
      // Finn goes on.
      assert.match((await finn.command('n', 'NOOP')).tagged, /^n OK/);
      const deadline = Date.now() + 10_000;
      while (srv.server.sessions.list((s) => s.user?.name === 'erin').length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        srv.server.sessions.list((s) => s.user?.name === 'erin'),
        [],
      );
    } finally {
      erin.close();
      finn.close();
      pop.close();
    }
  });
});
