/**
 * /metrics scraped around a short real load over sockets (IMAP logins and
 * commands, a failed login, POP3, an IDLE, LMTP deliveries): every family is
 * present, the counters moved by exactly the load, histograms are sane, and
 * 200 distinct unknown commands leave the command label set as small as the
 * command table. Health: /healthz, /readyz on the admin and public listeners,
 * and 503 once the store is closed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { COMMANDS } from '../src/imap/commands/registry.js';
import { dotStuff, LmtpClient } from './helpers/lmtp-client.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { parseScrape, sampleSum, type Scrape } from './helpers/prometheus.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

const LOGINS = 6;
/** The store the protocol tests run on (scripts/test-pg.sh runs them again on PostgreSQL). */
const STORE = process.env.MAILKEEP_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
const BOGUS = 200;

async function scrape(srv: TestServer): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${srv.server.ports.admin}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseScrape(await res.text());
}

/** Delivers one message over LMTP to `to` (the last an unknown user); returns the final reply codes. */
async function lmtpDeliver(port: number, to: string[]): Promise<number[]> {
  const { client } = await LmtpClient.connect(port);
  try {
    client.send(`LHLO test\r\nMAIL FROM:<a@example.org>\r\n${to.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
    const head = await client.replies(2 + to.length + 1);
    const accepted = head.slice(2, -1).filter((r) => r.code === 250).length;
    client.send(dotStuff(Buffer.from('Subject: metrics\r\n\r\nhello\r\n')));
    return (await client.replies(accepted)).map((r) => r.code);
  } finally {
    client.close();
  }
}

describe('metrics under load', () => {
  let srv: TestServer;
  let before_: Scrape;
  let during: Scrape;
  let after_: Scrape;

  before(async () => {
    srv = await startTestServer({ adminPort: await freePort(), limits: { maxBadCommands: BOGUS + 10 } });
    await srv.addUser('metrics-user-ann', 'secret-one');
    before_ = await scrape(srv);
    for (let i = 0; i < LOGINS; i++) {
      const c = await RawClient.login(srv.imapsPort, 'metrics-user-ann', 'secret-one');
      assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
      assert.match((await c.command('n', 'NOOP')).tagged, /^n OK/);
      assert.match((await c.command('f', 'FETCH 1:* FLAGS')).tagged, /^f (OK|BAD)/);
      await c.command('o', 'LOGOUT');
      c.close();
    }
    const { client: wrong } = await RawClient.connect(srv.imapsPort, { tls: true });
    assert.match((await wrong.command('l', 'LOGIN metrics-user-ann "not-it"', 30_000)).tagged, /^l NO \[AUTHENTICATIONFAILED\]/);
    wrong.close();
    assert.deepEqual(await lmtpDeliver(srv.lmtpPort, ['metrics-user-ann@example.com', 'nobody-here@example.com']), [250]);
    const pop = await Pop3Client.login(srv.pop3sPort, 'metrics-user-ann', 'secret-one');
    assert.match(await pop.command('STAT'), /^\+OK 1 /);
    await pop.command('QUIT');
    pop.close();

    // A session in IDLE while scraping.
    const idler = await RawClient.login(srv.imapsPort, 'metrics-user-ann', 'secret-one');
    await idler.command('s', 'SELECT INBOX');
    idler.send('i IDLE\r\n');
    assert.match(await idler.readLine(), /^\+ /);
    during = await scrape(srv);
    idler.send('DONE\r\n');
    await idler.readTagged('i');

    // Unknown commands, each a new name: the label set must not grow with them.
    for (let i = 0; i < BOGUS; i++) idler.send(`b${i} XBOGUS${i}\r\n`);
    for (let i = 0; i < BOGUS; i++) assert.match((await idler.readTagged(`b${i}`)).tagged, new RegExp(`^b${i} BAD`));
    idler.close();
    after_ = await scrape(srv);
  });
  after(() => srv.stop());

  const delta = (name: string, match: Record<string, string> = {}): number => sampleSum(after_, name, match) - sampleSum(before_, name, match);

  test('every family is present with its type', () => {
    const expected: Record<string, string> = {
      mailkeep_connections: 'gauge',
      mailkeep_idle_sessions: 'gauge',
      mailkeep_commands_total: 'counter',
      mailkeep_command_duration_seconds: 'histogram',
      mailkeep_logins_total: 'counter',
      mailkeep_lmtp_deliveries_total: 'counter',
      mailkeep_lmtp_rejections_total: 'counter',
      mailkeep_bytes_total: 'counter',
      mailkeep_store_commit_duration_seconds: 'histogram',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(after_.types.get(name), type, name);
  });

  test('login, command and delivery counters moved by exactly the load', () => {
    assert.equal(delta('mailkeep_logins_total', { protocol: 'imap', mechanism: 'password', outcome: 'succeeded' }), LOGINS + 1);
    assert.equal(delta('mailkeep_logins_total', { protocol: 'imap', mechanism: 'password', outcome: 'failed' }), 1);
    assert.equal(delta('mailkeep_logins_total', { protocol: 'pop3', mechanism: 'password', outcome: 'succeeded' }), 1);
    assert.equal(delta('mailkeep_commands_total', { protocol: 'imap', command: 'LOGIN', result: 'OK' }), LOGINS + 1);
    assert.equal(delta('mailkeep_commands_total', { protocol: 'imap', command: 'LOGIN', result: 'NO' }), 1);
    assert.equal(delta('mailkeep_commands_total', { protocol: 'imap', command: 'SELECT', result: 'OK' }), LOGINS + 1);
    assert.equal(delta('mailkeep_commands_total', { protocol: 'imap', command: 'NOOP', result: 'OK' }), LOGINS);
    assert.equal(delta('mailkeep_commands_total', { protocol: 'imap', command: 'other', result: 'BAD' }), BOGUS);
    assert.equal(delta('mailkeep_commands_total', { protocol: 'pop3', command: 'STAT', result: 'OK' }), 1);
    assert.equal(delta('mailkeep_lmtp_deliveries_total', { outcome: 'stored' }), 1);
    assert.equal(delta('mailkeep_lmtp_rejections_total'), 1);
    // Latency observations: one per command counted.
    assert.equal(
      delta('mailkeep_command_duration_seconds_count', { protocol: 'imap', command: 'SELECT' }),
      delta('mailkeep_commands_total', { protocol: 'imap', command: 'SELECT' }),
    );
    assert.ok(delta('mailkeep_store_commit_duration_seconds_count', { store: STORE }) >= 2, 'the delivery and the logins committed');
    assert.ok(delta('mailkeep_bytes_total', { protocol: 'imap', direction: 'in' }) > BOGUS * 10);
    assert.ok(delta('mailkeep_bytes_total', { protocol: 'imap', direction: 'out' }) > BOGUS * 10);
    assert.ok(delta('mailkeep_bytes_total', { protocol: 'lmtp', direction: 'in' }) > 0);
  });

  test('the gauges saw the idling session over TLS', () => {
    assert.equal(sampleSum(during, 'mailkeep_idle_sessions'), 1);
    assert.equal(sampleSum(during, 'mailkeep_connections', { protocol: 'imap', tls: 'yes' }), 1);
    assert.equal(sampleSum(during, 'mailkeep_connections', { protocol: 'imap', tls: 'no' }), 0);
  });

  test('histogram buckets are cumulative and +Inf equals the count', () => {
    let checked = 0;
    for (const family of ['mailkeep_command_duration_seconds', 'mailkeep_store_commit_duration_seconds']) {
      const series = new Map<string, { le: number; value: number }[]>();
      for (const s of after_.samples.filter((x) => x.name === `${family}_bucket`)) {
        const { le, ...rest } = s.labels;
        const key = JSON.stringify(rest);
        series.set(key, [...(series.get(key) ?? []), { le: le === '+Inf' ? Infinity : Number(le), value: s.value }]);
      }
      for (const [key, buckets] of series) {
        buckets.sort((a, b) => a.le - b.le);
        for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${family} ${key} not cumulative`);
        assert.equal(buckets.at(-1)!.le, Infinity);
        assert.equal(buckets.at(-1)!.value, sampleSum(after_, `${family}_count`, JSON.parse(key)), `${family} ${key}`);
        checked++;
      }
    }
    assert.ok(checked > 10);
  });

  test('label values stay within closed sets: no bogus command names, no user names', () => {
    const commands = new Set(after_.samples.filter((s) => s.labels.protocol === 'imap' && s.labels.command).map((s) => s.labels.command!));
    assert.ok(commands.size <= COMMANDS.size + 1, `${commands.size} imap command labels`);
    assert.ok(commands.has('other'));
    const all = after_.samples.flatMap((s) => Object.values(s.labels));
    assert.ok(!all.some((v) => v.includes('XBOGUS')));
    assert.ok(!all.some((v) => v.includes('metrics-user-ann') || v.includes('example.com')));
    assert.ok(after_.samples.length < 3000, `${after_.samples.length} samples`);
  });
});

describe('health', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ adminPort: await freePort(), httpPort: await freePort() });
  });
  after(() => srv.stop());

  test('healthz and readyz answer 200 on the admin and public listeners; metrics are not public', async () => {
    const admin = `http://127.0.0.1:${srv.server.ports.admin}`;
    const pub = `http://127.0.0.1:${srv.server.ports.http}`;
    for (const base of [admin, pub]) {
      const health = await fetch(`${base}/healthz`, { redirect: 'manual' });
      assert.equal(health.status, 200);
      assert.equal(await health.text(), 'ok\n');
    }
    const ready = await fetch(`${admin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, reasons: [] });
    const publicReady = await fetch(`${pub}/readyz`, { redirect: 'manual' });
    assert.equal(publicReady.status, 200);
    assert.equal(await publicReady.text(), 'ok\n');
    assert.equal((await fetch(`${pub}/metrics`, { redirect: 'manual' })).status, 301);
  });

  test('readyz is 503 once the store is closed: reasons on the admin listener only', async () => {
    await srv.server.store.close();
    const ready = await fetch(`http://127.0.0.1:${srv.server.ports.admin}/readyz`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { ready: boolean; reasons: string[] };
    assert.equal(body.ready, false);
    assert.match(body.reasons.join('; '), /store unreachable/);
    const pub = await fetch(`http://127.0.0.1:${srv.server.ports.http}/readyz`, { redirect: 'manual' });
    assert.equal(pub.status, 503);
    assert.equal(await pub.text(), 'not ready\n');
    assert.equal((await fetch(`http://127.0.0.1:${srv.server.ports.admin}/healthz`)).status, 200);
  });
});

test('a taken admin port is logged and skipped: mail is served all the same', async () => {
  const held = createServer();
  held.listen(0, '127.0.0.1');
  await once(held, 'listening');
  const port = (held.address() as { port: number }).port;
  const lines: string[] = [];
  const log = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const srv = await startTestServer({ adminPort: port, log: { level: 'warn' } }, log);
  try {
    assert.equal(srv.server.ports.admin, undefined);
    assert.ok(
      lines.some((l) => l.includes('the admin listener is disabled') && l.includes('admin-port')),
      lines.join(''),
    );
    const c = await RawClient.connect(srv.imapPort);
    assert.match(c.greeting, /^\* OK/);
    c.client.close();
  } finally {
    await srv.stop();
    held.close();
  }
});
