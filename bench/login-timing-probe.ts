/**
 * Login timing over real IMAP (issue 22): how long the tagged reply to LOGIN
 * takes for an unknown user, a wrong password, a wrong password for an account
 * with app passwords, and the right password. Used by bench/login-timing.ts
 * (numbers for bench/README.md) and test/login-timing.test.ts (the bound).
 *
 * Each sample is a fresh plain connection (the server must trust loopback for
 * plaintext logins) and times LOGIN alone; the cases alternate within every
 * round, so drift on a loaded machine hits them alike.
 */
import { performance } from 'node:perf_hooks';
import { ImapClient } from './imap-client.js';
import { median, percentile } from './stats.js';

/** One kind of login attempt. */
export interface LoginCase {
  label: string;
  user: string;
  password: string;
}

/** A case's samples in ms, with their median and p90. */
export interface LoginTiming {
  label: string;
  samples: number[];
  median: number;
  p90: number;
}

/** Quotes an IMAP string (RFC 9051 §4.3: quoted, with \ and " escaped). */
const quoted = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** Times one LOGIN on a fresh connection, in ms. */
async function timeOne(port: number, c: LoginCase): Promise<number> {
  const client = await ImapClient.connect(port);
  try {
    const start = performance.now();
    await client.send(`LOGIN ${quoted(c.user)} ${quoted(c.password)}`);
    return performance.now() - start;
  } finally {
    await client.logout();
  }
}

/** Runs `rounds` rounds of every case against the IMAP server on `port` (at most 1,000 rounds). */
export async function timeLogins(port: number, cases: readonly LoginCase[], rounds: number): Promise<LoginTiming[]> {
  const samples = cases.map(() => [] as number[]);
  for (let r = 0; r < Math.min(rounds, 1000); r++) {
    for (const [i, c] of cases.entries()) samples[i]!.push(await timeOne(port, c));
  }
  return cases.map((c, i) => ({ label: c.label, samples: samples[i]!, median: median(samples[i]!), p90: percentile(samples[i]!, 90) }));
}
