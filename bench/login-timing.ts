/**
 * Login timing (issue 22): the time to a LOGIN's tagged reply over real IMAP
 * for an unknown user, a wrong password, a wrong password for an account with
 * 20 app passwords, a wrong app password whose lookup group matches, and the
 * right password (credential cache off, so it pays its hash too). Unknown and
 * wrong must cost the same: one hash with the configured algorithm and
 * parameters each (auth/password.ts, auth/app-passwords.ts).
 *
 *   node dist/bench/login-timing.js [--rounds 30] [--hash argon2id|scrypt] [--keep]
 *
 * mailkeep runs as `mailkeep serve` with its default hashing (or scrypt at
 * its default cost with --hash scrypt), the failed-login throttle opened wide
 * (no tarpit: the hash alone is measured) and the credential cache off.
 * Prints a Markdown table of medians and p90s (bench/README.md).
 */
import { parseArgs } from 'node:util';
import { APP_PASSWORD_LIMITS, asAppPassword, generateAppPassword } from '../src/auth/app-passwords.js';
import { DEFAULT_HASHING, hashPassword, type PasswordHashing } from '../src/auth/password.js';
import { openStore } from '../src/store/open.js';
import { intOption } from './cli-options.js';
import { timeLogins } from './login-timing-probe.js';
import { startMailkeep } from './mailkeep.js';

const APP_USER = 'appy';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '30' }, hash: { type: 'string', default: 'argon2id' }, keep: { type: 'boolean', default: false } },
  });
  const rounds = intOption('rounds', values.rounds, 1, 1000);
  if (values.hash !== 'argon2id' && values.hash !== 'scrypt') throw new Error('--hash takes argon2id or scrypt');
  const hashing: PasswordHashing = { ...DEFAULT_HASHING, algorithm: values.hash };
  // Read by `mailkeep user add` and `serve` alike (startMailkeep passes our environment on).
  Object.assign(process.env, {
    MAILKEEP_AUTH__PASSWORD_HASH: values.hash,
    MAILKEEP_AUTH__CREDENTIAL_CACHE_SECONDS: '0',
    MAILKEEP_AUTH_THROTTLE__FREE_FAILURES: '1000',
    MAILKEEP_AUTH_THROTTLE__BASE_DELAY_MS: '0',
    MAILKEEP_AUTH_THROTTLE__MAX_FAILURES_PER_IP: '1000000000',
    MAILKEEP_AUTH_THROTTLE__MAX_FAILURES_PER_ACCOUNT: '1000000000',
  });
  const server = await startMailkeep({ maxConnections: 10, keep: values.keep, users: ['bench', APP_USER], quiet: true });
  try {
    const store = await openStore({ dataDir: server.dataDir });
    const taken = new Set<string>();
    try {
      const account = (await store.findAccount(APP_USER))!;
      for (let i = 0; i < APP_PASSWORD_LIMITS.maxLive; i++) {
        const { password, lookup } = generateAppPassword(taken);
        taken.add(lookup);
        const hash = await hashPassword(asAppPassword(password)!.canonical, hashing);
        await store.addAppPassword(account.id, { name: `device ${i}`, lookup, hash, protocols: ['imap'], expiresAt: null }, new Date(), APP_PASSWORD_LIMITS);
      }
    } finally {
      await store.close();
    }
    const results = await timeLogins(
      server.port,
      [
        { label: 'unknown user', user: 'nobody-here', password: 'guess' },
        { label: 'wrong password', user: server.user, password: 'guess' },
        { label: 'wrong password, 20 app passwords', user: APP_USER, password: 'guess' },
        { label: 'wrong app password (lookup group matches)', user: APP_USER, password: `${[...taken][0]}-aaaa-aaaa-aaaa` },
        { label: 'right password (no cache)', user: server.user, password: server.password },
      ],
      rounds,
    );
    const wrong = results[1]!.median;
    const rows = results.map((r) => `| ${r.label} | ${r.median.toFixed(1)} | ${r.p90.toFixed(1)} | ${(r.median / wrong).toFixed(2)} |`);
    process.stdout.write(`${values.hash}, ${rounds} logins each\n\n| case | median ms | p90 ms | ÷ wrong password |\n|---|---|---|---|\n${rows.join('\n')}\n`);
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
