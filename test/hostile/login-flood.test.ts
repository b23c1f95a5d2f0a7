/**
 * Issue 18, finding 4: a flood of bad LOGINs from several addresses must not
 * starve a real user's login, nor another user's file I/O (APPEND), because
 * password hashes are capped overall and per address, queued within a bound,
 * and addresses without failures go first.
 */
import { strict as assert } from 'node:assert';
import { afterEach, describe, it } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { PRODUCTION_HASHING_CONFIG } from '../helpers/cheap-hashing.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FLOOD_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
const CONNECTIONS_PER_ADDRESS = 80;
/** Each flooding connection stops after this many attempts, or when the test ends. */
const MAX_ATTEMPTS_PER_CONNECTION = 1000;
/**
 * Pause after a refusal. A failure is answered after its hash, so the hash
 * flood itself is as fast as the server allows; refusals cost no hash, and
 * retrying them at once would only measure how many cheap answers two loaded
 * cores can write (client and server share this process).
 */
const RETRY_AFTER_REFUSAL_MS = 1000;

interface Flood {
  /** Answers received so far, by kind. */
  answers: { failed: number; refused: number };
  /** Flooding addresses that have had a verified failure. */
  failedFrom: Set<string>;
  stop(): Promise<void>;
}

/** 400 connections from 5 addresses, each sending a bad LOGIN again as soon as the last one is answered. */
async function startFlood(port: number): Promise<Flood> {
  const answers = { failed: 0, refused: 0 };
  let stopped = false;
  const failedFrom = new Set<string>();
  const clients = await Promise.all(
    FLOOD_ADDRESSES.flatMap((localAddress) =>
      Array.from({ length: CONNECTIONS_PER_ADDRESS }, async () => ({ ...(await RawClient.connect(port, { localAddress })), localAddress })),
    ),
  );
  const loops = clients.map(async ({ client, localAddress }) => {
    for (let i = 0; i < MAX_ATTEMPTS_PER_CONNECTION && !stopped; i++) {
      const r = await client.command('f', 'LOGIN flood x', 60_000).catch(() => null);
      if (r === null) return;
      if (r.tagged.includes('[UNAVAILABLE]')) {
        answers.refused++;
        await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_REFUSAL_MS));
      } else {
        answers.failed++;
        failedFrom.add(localAddress);
      }
    }
  });
  return {
    answers,
    failedFrom,
    async stop() {
      stopped = true;
      for (const { client } of clients) client.close();
      await Promise.all(loops);
    },
  };
}

/**
 * Waits until every flooding address has had an attempt verified (hashed) and
 * failed: the flood is real, and past the first burst, whose attempts cannot
 * be told from honest ones.
 */
async function waitForFailures(flood: Flood): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (flood.failedFrom.size < FLOOD_ADDRESSES.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(flood.failedFrom.size, FLOOD_ADDRESSES.length, `failures from ${[...flood.failedFrom].join(', ')}`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

describe('hostile: login flood (finding 4)', () => {
  let srv: TestServer | null = null;
  let flood: Flood | null = null;
  afterEach(async () => {
    await flood?.stop();
    flood = null;
    await srv?.stop();
    srv = null;
  });

  for (const variant of [
    { name: 'default limits (the address limit refuses most of the flood unhashed)', authThrottle: {} },
    // No address limit and no tarpit: every flood attempt wants a hash, so only the gate's fairness protects the real user.
    {
      name: 'without the address limit or tarpit (the hash gate alone)',
      authThrottle: { maxFailuresPerIp: 1_000_000, maxFailuresPerAccount: 1_000_000, baseDelayMs: 0, maxDelayMs: 0 },
    },
  ]) {
    it(`finding 4: a real user from 127.0.0.9 logs in within 5 s, and another user's APPEND answers within 5 s: ${variant.name}`, async (t) => {
      // Hashes at production cost: the flood is of real hashes.
      srv = await startTestServer({
        plaintextAuth: { allowInsecure: true },
        auth: PRODUCTION_HASHING_CONFIG.auth,
        authThrottle: { ...PRODUCTION_HASHING_CONFIG.authThrottle, ...variant.authThrottle },
      });
      await srv.addUser('real', 'right');
      await srv.addUser('busy', 'right');
      const { client: busy } = await RawClient.connect(srv.imapPort, { localAddress: '127.0.0.8' });
      assert.match((await busy.command('a', 'LOGIN busy right')).tagged, /^a OK/);

      flood = await startFlood(srv.imapPort);
      await waitForFailures(flood);

      const { client } = await RawClient.connect(srv.imapPort, { localAddress: '127.0.0.9' });
      const login = await timed(() => client.command('a', 'LOGIN real right', 30_000));
      assert.match(login.value.tagged, /^a OK/);
      assert.ok(login.ms < 5000, `LOGIN took ${Math.round(login.ms)} ms during the flood`);

      const message = 'Subject: during the flood\r\n\r\nhello\r\n';
      busy.send(`b APPEND INBOX {${message.length}+}\r\n${message}\r\n`);
      const append = await timed(() => busy.readTagged('b', 30_000));
      assert.match(append.value.tagged, /^b OK/);
      assert.ok(append.ms < 5000, `APPEND took ${Math.round(append.ms)} ms during the flood`);
      assert.ok(flood.answers.failed + flood.answers.refused >= 10, 'the flood was still being answered');
      t.diagnostic(
        `LOGIN ${Math.round(login.ms)} ms, APPEND ${Math.round(append.ms)} ms; flood answers: ${flood.answers.failed} failed, ${flood.answers.refused} refused`,
      );
      client.close();
      busy.close();
    });
  }
});
