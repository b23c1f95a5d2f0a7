/**
 * `[admin] metrics = false` over real sockets: /metrics answers 404 while the
 * health checks still answer, and IMAP, POP3 and LMTP work as usual. The
 * recorders were no-ops: a server started afterwards in the same process
 * (one registry per process) scrapes zero commands, logins, deliveries and
 * bytes until its own client moves them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dotStuff, LmtpClient } from './helpers/lmtp-client.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { parseScrape, sampleSum, type Scrape } from './helpers/prometheus.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

/** The counters the hot path adds to. */
const HOT = [
  'mailkeep_commands_total',
  'mailkeep_command_duration_seconds_count',
  'mailkeep_logins_total',
  'mailkeep_lmtp_deliveries_total',
  'mailkeep_bytes_total',
];

function metricsUrl(srv: TestServer): string {
  return `http://127.0.0.1:${srv.server.ports.admin}/metrics`;
}

async function scrape(srv: TestServer): Promise<Scrape> {
  const res = await fetch(metricsUrl(srv));
  assert.equal(res.status, 200);
  return parseScrape(await res.text());
}

test('with [admin] metrics = false nothing is recorded and /metrics is 404; mail is served all the same', async () => {
  const off = await startTestServer({ adminPort: await freePort(), admin: { metrics: false } });
  try {
    await off.addUser('quiet-user', 'secret-one');
    const res = await fetch(metricsUrl(off));
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    assert.equal((await fetch(`http://127.0.0.1:${off.server.ports.admin}/healthz`)).status, 200);

    // LMTP delivery, then the message over IMAP and POP3.
    const { client: lmtp } = await LmtpClient.connect(off.lmtpPort);
    lmtp.send('LHLO test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<quiet-user@example.com>\r\nDATA\r\n');
    assert.deepEqual(
      (await lmtp.replies(4)).map((r) => r.code),
      [250, 250, 250, 354],
    );
    lmtp.send(dotStuff(Buffer.from('Subject: unmetered\r\n\r\nhello\r\n')));
    assert.deepEqual(
      (await lmtp.replies(1)).map((r) => r.code),
      [250],
    );
    lmtp.close();
    const imap = await RawClient.login(off.imapsPort, 'quiet-user', 'secret-one');
    assert.match((await imap.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    const fetched = await imap.command('f', 'FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    assert.match(fetched.tagged, /^f OK/);
    assert.match(fetched.lines.join('\n'), /Subject: unmetered/);
    assert.match((await imap.command('x', 'XBOGUS')).tagged, /^x BAD/);
    await imap.command('o', 'LOGOUT');
    imap.close();
    const pop = await Pop3Client.login(off.pop3sPort, 'quiet-user', 'secret-one');
    assert.match(await pop.command('STAT'), /^\+OK 1 /);
    await pop.command('QUIT');
    pop.close();
  } finally {
    await off.stop();
  }

  const on = await startTestServer({ adminPort: await freePort() });
  try {
    const first = await scrape(on);
    for (const name of HOT) assert.equal(sampleSum(first, name), 0, `${name} after a server with metrics off`);
    assert.ok(first.types.has('process_cpu_user_seconds_total'), 'process metrics are on again');
    await on.addUser('loud-user', 'secret-two');
    const imap = await RawClient.login(on.imapsPort, 'loud-user', 'secret-two');
    assert.match((await imap.command('n', 'NOOP')).tagged, /^n OK/);
    await imap.command('o', 'LOGOUT');
    imap.close();
    const second = await scrape(on);
    assert.equal(sampleSum(second, 'mailkeep_commands_total', { protocol: 'imap', command: 'NOOP', result: 'OK' }), 1);
    assert.equal(sampleSum(second, 'mailkeep_logins_total', { protocol: 'imap', outcome: 'succeeded' }), 1);
    assert.ok(sampleSum(second, 'mailkeep_bytes_total', { protocol: 'imap', direction: 'in' }) > 0);
  } finally {
    await on.stop();
  }
});
