/**
 * Login rate (issue 21): logins per second, each on a fresh connection that
 * sends LOGIN then LOGOUT (what a webmail front end does on every page view
 * and a phone on every reconnect), mailkeep against Dovecot in the same run.
 *
 *   node dist/bench/login-rate.js [--runs 3] [--logins 200] [--distinct 30] [--keep]
 *
 * Rows (gated: the first two, the same account and password every time, as
 * clients log in; reported only: the `-distinct` ones, where every login is
 * to an account of its own with its own password, never logged in before, so
 * mailkeep pays its full scrypt hash each time):
 * - login-sequential, login-sequential-distinct: one login after another;
 * - login-50-concurrent, login-50-concurrent-distinct: 50 clients at once;
 * - oauthbearer-sequential, oauthbearer-50-concurrent (mailkeep only: the
 *   reference Dovecot has no OAuth): AUTHENTICATE OAUTHBEARER with SASL-IR and
 *   one JWT from a test issuer on loopback (test/helpers/oidc-issuer.ts), its
 *   signature and claims verified at every login, the issuer's keys cached.
 * - scram-sha-256-sequential, scram-sha-256-50-concurrent (reported only):
 *   mailkeep's AUTHENTICATE SCRAM-SHA-256 (RFC 7677) with the client caching
 *   its SaltedPassword as real clients do (so the client's PBKDF2 is paid
 *   once, not per login), next to Dovecot's LOGIN (PLAIN passwords).
 * Each run measures every row on both servers, the order alternating from
 * run to run (A B, B A, …); the table gives the median of the runs, the
 * ratio mailkeep ÷ Dovecot (≥ 1: mailkeep at least as fast) and each server's
 * CPU time per login (its whole process tree, exited processes included). The cached rows start with one
 * untimed login, so their first verification is not part of the rate.
 * The reference Dovecot stores PLAIN passwords and has no auth cache.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { hashPassword } from '../src/auth/password.js';
import { openStore } from '../src/store/open.js';
import { TEST_AUDIENCE, TestIssuer } from '../test/helpers/oidc-issuer.js';
import type { BenchServer } from './bench-server.js';
import { intOption } from './cli-options.js';
import { startDovecot } from './dovecot.js';
import { ImapClient } from './imap-client.js';
import { startMailkeep, type MailkeepServer } from './mailkeep.js';
import { serverTreeCpuNs } from './proc.js';
import { median } from './stats.js';
import { ScramClient } from '../test/helpers/scram-client.js';

const log = (msg: string): void => void process.stderr.write(`[login rate ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Clients logging in at once in the concurrent rows. */
const CONCURRENT = 50;
/** Hashes computed at once while creating mailkeep's distinct accounts (the machine's two cores). */
const CREATE_PARALLEL = 2;

interface Credential {
  user: string;
  password: string;
}

interface Sample {
  /** Logins per second. */
  rate: number;
  /** The server's CPU milliseconds per login. */
  cpuMs: number;
}

/** Runs `work` on every item with at most `parallel` at once. */
async function pool<T>(items: readonly T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

/** CPU time of the server's process tree so far, its exited processes included (Dovecot's per-connection ones). */
function serverCpuNs(server: BenchServer): number {
  const root = server.pids()[0];
  return root === undefined ? 0 : serverTreeCpuNs(root);
}

/** How a row logs in on a new connection: LOGIN with the credential, or AUTHENTICATE OAUTHBEARER with a token. */
type LogIn = (port: number, c: Credential) => Promise<ImapClient>;

const withPassword: LogIn = (port, c) => ImapClient.login(port, c.user, c.password);

/** RFC 7628 §3.1 with SASL-IR (RFC 4959): one round trip, like LOGIN. */
const withToken =
  (token: string): LogIn =>
  async (port, c) => {
    const client = await ImapClient.connect(port);
    const message = Buffer.from(`n,a=${c.user},\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    await client.ok(`AUTHENTICATE OAUTHBEARER ${message}`);
    return client;
  };

/** SaltedPassword per user, salt and iteration count: what a real SCRAM client remembers between logins. */
const saltedCache = new Map<string, Buffer>();

/** AUTHENTICATE SCRAM-SHA-256, the client's SaltedPassword cached (saltedCache). */
const withScram: LogIn = async (port, c) => {
  const client = await ImapClient.connect(port);
  const scram = new ScramClient('sha256', c.user, c.password);
  let done = false;
  const res = await client.authenticate('SCRAM-SHA-256', scram.clientFirst, (challenge) => {
    if (done) throw new Error('SCRAM: unexpected challenge');
    if (challenge.startsWith('v=')) {
      if (!scram.verifies(challenge)) throw new Error('SCRAM: the server signature does not verify');
      done = true;
      return '';
    }
    const attrs = new Map(challenge.split(',').map((f) => [f[0], f.slice(2)] as const));
    const key = `${c.user}\0${attrs.get('s')}\0${attrs.get('i')}`;
    let salted = saltedCache.get(key);
    if (salted === undefined) saltedCache.set(key, (salted = scram.salted(Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')))));
    return scram.final(challenge, salted);
  });
  if (res.status !== 'OK') throw new Error(`AUTHENTICATE SCRAM-SHA-256: ${res.status} ${res.text}`);
  return client;
};

/** Logs in with each credential on a new connection, `parallel` at once; the rate and the server's CPU per login. */
async function measure(server: BenchServer, creds: readonly Credential[], parallel: number, logIn: LogIn = withPassword): Promise<Sample> {
  const cpu0 = serverCpuNs(server);
  const t0 = performance.now();
  await pool(creds, parallel, async (c) => {
    const client = await logIn(server.port, c);
    await client.logout();
  });
  const seconds = (performance.now() - t0) / 1000;
  return { rate: creds.length / seconds, cpuMs: (serverCpuNs(server) - cpu0) / 1e6 / creds.length };
}

/** Creates mailkeep's distinct accounts through its store, as `mailkeep user add` would, two hashes at a time. */
async function createAccounts(server: MailkeepServer, creds: readonly Credential[]): Promise<void> {
  const store = await openStore({ dataDir: server.dataDir });
  try {
    await pool(creds, CREATE_PARALLEL, async (c) => {
      await store.createAccount(c.user, await hashPassword(c.password));
    });
  } finally {
    await store.close();
  }
}

interface RowSpec {
  name: string;
  parallel: number;
  distinct: boolean;
  /** Logs in with OAUTHBEARER (mailkeep only). */
  token?: boolean;
  /** mailkeep logs in with SCRAM-SHA-256; Dovecot, the reference, with LOGIN. */
  scram?: boolean;
}

const ROWS: readonly RowSpec[] = [
  { name: 'login-sequential', parallel: 1, distinct: false },
  { name: 'login-50-concurrent', parallel: CONCURRENT, distinct: false },
  { name: 'login-sequential-distinct', parallel: 1, distinct: true },
  { name: 'login-50-concurrent-distinct', parallel: CONCURRENT, distinct: true },
  { name: 'oauthbearer-sequential', parallel: 1, distinct: false, token: true },
  { name: 'oauthbearer-50-concurrent', parallel: CONCURRENT, distinct: false, token: true },
  { name: 'scram-sha-256-sequential', parallel: 1, distinct: false, scram: true },
  { name: 'scram-sha-256-50-concurrent', parallel: CONCURRENT, distinct: false, scram: true },
];

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      logins: { type: 'string', default: '200' },
      distinct: { type: 'string', default: '30' },
      keep: { type: 'boolean', default: false },
    },
  });
  const runs = intOption('runs', values.runs, 1, 50);
  const logins = intOption('logins', values.logins, 1, 100_000);
  const distinct = intOption('distinct', values.distinct, 1, 10_000);

  // Atoms only (ImapClient sends LOGIN unquoted); a password per account, unknown before this run.
  const secret = randomBytes(6).toString('hex');
  const fresh: Credential[][][] = Array.from({ length: runs }, (_, r) =>
    ROWS.filter((row) => row.distinct).map((_row, k) =>
      Array.from({ length: distinct }, (_x, i) => ({ user: `login-${r}-${k}-${i}`, password: `pw-${secret}-${r}-${k}-${i}` })),
    ),
  );
  const everyFresh = fresh.flat(2);
  const passwords = new Map(everyFresh.map((c) => [c.user, c.password]));

  const opts = { maxConnections: CONCURRENT + 10, keep: values.keep, quiet: true };
  const issuer = await TestIssuer.start();
  // The bench account's name as the token's email claim, valid for the whole run.
  const token = await issuer.token({ email: 'bench' }, { expiresIn: 24 * 3600 });
  const mailkeep = await startMailkeep({ ...opts, settings: { MAILKEEP_OAUTH__ISSUER: issuer.issuer, MAILKEEP_OAUTH__AUDIENCE: TEST_AUDIENCE } }).catch(
    async (err: unknown) => {
      await issuer.stop();
      throw err;
    },
  );
  const dovecot = await startDovecot({ ...opts, users: ['bench', ...passwords.keys()], passwordOf: (u) => passwords.get(u) ?? 'bench-password' }).catch(
    async (err: unknown) => {
      await mailkeep.stop();
      await issuer.stop();
      throw err;
    },
  );
  const samples = new Map<string, Sample[]>();
  try {
    log(`creating ${everyFresh.length} mailkeep accounts with distinct passwords`);
    await createAccounts(mailkeep, everyFresh);
    for (let r = 0; r < runs; r++) {
      const order = r % 2 === 0 ? [mailkeep, dovecot] : [dovecot, mailkeep];
      for (const server of order) {
        const same = { user: server.user, password: server.password };
        await measure(server, [same], 1); // the untimed first login
        let k = 0;
        for (const row of ROWS) {
          if (row.token && server !== mailkeep) continue;
          const creds = row.distinct ? fresh[r]![k++]! : Array.from({ length: logins }, () => same);
          const logIn = row.token ? withToken(token) : row.scram && server === mailkeep ? withScram : withPassword;
          const s = await measure(server, creds, row.parallel, logIn);
          const key = `${row.name} ${server.name}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          log(`run ${r + 1}/${runs} ${server.name} ${row.name}: ${fmt(s.rate)} logins/s, ${fmt(s.cpuMs)} ms CPU per login`);
        }
      }
    }
  } finally {
    await mailkeep.stop();
    await dovecot.stop();
    await issuer.stop();
  }

  const med = (row: string, server: string, pick: (s: Sample) => number): number => median((samples.get(`${row} ${server}`) ?? []).map(pick));
  const lines = [
    `Servers: ${mailkeep.version}; ${dovecot.version} (PLAIN passwords, no auth cache). ${runs} runs, median; ${logins} logins per same-password row, ${distinct} per distinct row. scram rows: mailkeep AUTHENTICATE SCRAM-SHA-256 (client SaltedPassword cached), Dovecot LOGIN.`,
    '',
    '| row | mailkeep logins/s | Dovecot logins/s | mailkeep ÷ Dovecot | mailkeep CPU ms/login | Dovecot CPU ms/login |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of ROWS) {
    const [m, d] = [med(row.name, 'mailkeep', (s) => s.rate), med(row.name, 'dovecot', (s) => s.rate)];
    const cpu = (server: string): string => fmt(med(row.name, server, (s) => s.cpuMs));
    if (row.token) lines.push(`| ${row.name} | ${fmt(m)} | — | — | ${cpu('mailkeep')} | — |`);
    else lines.push(`| ${row.name} | ${fmt(m)} | ${fmt(d)} | ${(m / d).toFixed(2)} | ${cpu('mailkeep')} | ${cpu('dovecot')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
