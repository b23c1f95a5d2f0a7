/**
 * Runs one differential case through Pigeonhole's sieve-test (Debian
 * dovecot-sieve) and reduces its report to the normalized action list the
 * differential test compares (see `normalizeActions`). A dry run gives the
 * actions, folders and flags; for scripts with vacation a second run with
 * `-e` (execute: sieve-test's own SMTP and duplicate stand-ins, nothing
 * leaves the machine) gives the reply decision from its log.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_ENVELOPE, EXISTING_MAILBOXES, FIXTURES, type SieveCase, SPAM_HEADER } from './sieve-cases.js';

/** Is sieve-test installed here? */
export function pigeonholeAvailable(): boolean {
  return spawnSync('sieve-test', ['-V'], { encoding: 'utf8' }).error === undefined;
}

const EXTENSIONS = '+editheader +vacation-seconds +spamtest +spamtestplus +duplicate +special-use +mboxmetadata +servermetadata';

function sieveTest(dir: string, c: SieveCase, execute: boolean): { out: string; rc: number } {
  const env = c.envelope ?? DEFAULT_ENVELOPE;
  const args = [
    ...(execute ? ['-e'] : []),
    '-x',
    EXTENSIONS,
    '-r',
    env.to,
    '-f',
    env.from === '' ? '<>' : env.from,
    '-o',
    'mail_uid=mail',
    '-o',
    'mail_gid=mail',
    '-o',
    'first_valid_uid=1',
    '-o',
    `mail_location=maildir:${dir}/md`,
    '-o',
    `mail_home=${dir}`,
    // RFC 5490 metadata tests need an attribute store (empty: no annotations)
    '-o',
    `mail_attribute_dict=file:${dir}/attributes`,
    '-o',
    `plugin/sieve=file:${dir}/personal`,
    '-o',
    `plugin/sieve_global=${dir}/global`,
    '-o',
    'plugin/sieve_spamtest_status_type=score',
    '-o',
    `plugin/sieve_spamtest_status_header=${SPAM_HEADER.header}`,
    '-o',
    `plugin/sieve_spamtest_max_value=${SPAM_HEADER.max}`,
    path.join(dir, 'personal', 'main.sieve'),
    path.join(FIXTURES, c.message),
  ];
  const r = spawnSync('sieve-test', args, { encoding: 'utf8', env: { ...process.env, HOME: dir, TZ: 'UTC' }, timeout: 30_000 });
  return { out: `${r.stdout}\n${r.stderr}`, rc: r.status ?? -1 };
}

/** Normalizes sieve-test's dry-run report (and the -e log for vacation) to action strings. */
export function parsePigeonhole(dry: { out: string; rc: number }, executed: string | null): string[] {
  const compile = /^\S+: line (\d+): error:/m.exec(dry.out);
  if (dry.out.includes('failed to compile')) return [`compile-error line=${compile?.[1] ?? '?'}`];
  if (dry.out.includes('final result: failed')) return ['runtime-error', 'store INBOX'];
  const out: string[] = [];
  let last: string[] | null = null;
  for (const line of dry.out.split('\n')) {
    const action = /^ \* (.*)$/.exec(line);
    if (action) {
      const a = action[1] as string;
      let m: RegExpExecArray | null;
      if ((m = /^store message in folder: (.*)$/.exec(a))) last = ['store', m[1] as string];
      else if ((m = /^redirect message to: <(.*)>$/.exec(a))) last = ['redirect', m[1] as string];
      else if ((m = /^reject message with reason: (.*)$/.exec(a))) last = ['reject', m[1] as string];
      else if (a === 'discard') last = ['discard'];
      else if (a.startsWith('track duplicate')) last = ['track-duplicate'];
      else if (a.startsWith('send vacation message')) last = ['vacation', decision(executed)];
      else last = [`unknown: ${a}`];
      out.push(last.join(' '));
      continue;
    }
    const flags = /^\s+\+ add IMAP flags: (.*)$/.exec(line);
    if (flags && last !== null) out[out.length - 1] = `${last.join(' ')} +flags ${normalizeFlagList((flags[1] as string).split(' '))}`;
    const special = /^\s+\+ use mailbox with special-use flag `(.*)' instead if accessible$/.exec(line);
    if (special && last !== null) {
      last = [...last, `specialuse=${special[1]}`];
      out[out.length - 1] = last.join(' ');
    }
    const seconds = /^\s+=> seconds : (\d+)$/.exec(line);
    if (seconds && last?.[0] === 'vacation') out[out.length - 1] = `${last.join(' ')} seconds=${seconds[1]}`;
  }
  return out.sort();
}

function decision(executed: string | null): string {
  if (executed === null) return 'undecided';
  if (/vacation action: sent vacation response/.test(executed)) return 'respond';
  if (/vacation action: (discard|not sending|discarding)/i.test(executed) || /discarding (duplicate )?vacation response/i.test(executed)) return 'skip';
  return 'undecided';
}

/** Flags compared case-insensitively and in any order (RFC 5232 §3: system flags are case-insensitive). */
export function normalizeFlagList(flags: readonly string[]): string {
  return flags
    .filter((f) => f !== '')
    .map((f) => f.toLowerCase())
    .sort()
    .join(' ');
}

/** Runs a case through sieve-test in a fresh directory and returns the normalized actions. */
export function runPigeonhole(c: SieveCase): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sieve-diff-'));
  try {
    for (const sub of ['personal', 'global', 'md']) fs.mkdirSync(path.join(dir, sub));
    for (const box of EXISTING_MAILBOXES.filter((b) => b !== 'INBOX'))
      for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(dir, 'md', `.${box}`, sub), { recursive: true });
    fs.writeFileSync(path.join(dir, 'personal', 'main.sieve'), c.script);
    for (const [name, text] of Object.entries(c.includes?.personal ?? {})) fs.writeFileSync(path.join(dir, 'personal', `${name}.sieve`), text);
    for (const [name, text] of Object.entries(c.includes?.global ?? {})) fs.writeFileSync(path.join(dir, 'global', `${name}.sieve`), text);
    spawnSync('chmod', ['-R', 'a+rwX', dir]);
    const dry = sieveTest(dir, c, false);
    const executed = /\bvacation\b/.test(c.script) ? sieveTest(dir, c, true).out : null;
    return parsePigeonhole(dry, executed);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
