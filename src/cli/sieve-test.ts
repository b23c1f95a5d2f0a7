/**
 * `mailkeep sieve test USER [--script FILE] [--envelope-from A] [--envelope-to A] < message`:
 * prints what the active script (or FILE) would do with a message at
 * delivery, one action per line, without storing or sending anything. The
 * context is the real one (mailboxes, vacation and duplicate memory), read only.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { resolveRecipient } from '../mail/deliver.js';
import { SieveDelivery } from '../mail/sieve-delivery.js';
import { formatSieveErrors, scriptText } from '../mail/sieve-scripts.js';
import { canonicalName } from '../mail/mailbox-name.js';
import { analyzeMessage } from '../mime/analyze.js';
import { parseSieve, type SieveAction } from '../sieve/index.js';
import type { MailStore } from '../store/types.js';
import { CliError } from './cli-error.js';
import { configFromOptions } from './config-options.js';
import { withAdministration } from './with-store.js';

/** Reads all of a stream, refusing more than `limit` bytes. */
async function readAll(input: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      input.destroy();
      throw new CliError(`${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const flagText = (flags: readonly string[]): string => (flags.length === 0 ? '' : ` flags ${flags.join(' ')}`);

/** One action as a line of the report. */
async function describe(a: SieveAction, store: MailStore, accountId: Parameters<MailStore['getMailbox']>[0]): Promise<string> {
  const edited = 'header' in a && a.header !== undefined ? ' (with edited header)' : '';
  switch (a.type) {
    case 'keep':
      return `keep${a.implicit ? ' (implicit)' : ''}${flagText(a.flags)}${edited}`;
    case 'fileinto': {
      const exists = (await store.getMailbox(accountId, canonicalName(a.mailbox))) !== null;
      const note = exists ? '' : a.create ? ' (created)' : ' (no such mailbox: kept in INBOX instead)';
      return `fileinto ${JSON.stringify(a.mailbox)}${a.copy ? ' :copy' : ''}${flagText(a.flags)}${note}${edited}`;
    }
    case 'redirect':
      return `redirect to ${a.address}${a.copy ? ' :copy' : ''}${edited}`;
    case 'reject':
      return `${a.extended ? 'ereject' : 'reject'}: ${a.reason}`;
    case 'discard':
      return 'discard';
    case 'vacation':
      return a.respond ? `vacation reply to ${a.to}, subject ${JSON.stringify(a.subject)}, once per ${a.seconds} s` : `vacation: no reply (${a.skipped})`;
    case 'track-duplicate':
      return `track duplicate ${JSON.stringify(a.id)} for ${a.seconds} s`;
  }
}

async function sieveTest(user: string, opts: Record<string, unknown>): Promise<void> {
  const config: Config = configFromOptions(opts);
  const message = await readAll(process.stdin, config.limits.appendLimit, 'the message');
  const file = typeof opts.script === 'string' ? opts.script : null;
  const fileText = file === null ? null : scriptText(await readAll(createReadStream(file), config.sieve.maxScriptSize, 'the script'));
  if (file !== null && fileText === null) throw new CliError('the script is not UTF-8 text (RFC 5228 §2.2)');
  const lines = await withAdministration(config, async (admin, store) => {
    const account = await admin.account(user);
    const to = typeof opts.envelopeTo === 'string' ? opts.envelopeTo : account.name;
    const from = typeof opts.envelopeFrom === 'string' ? opts.envelopeFrom : '';
    const rules = { domains: config.domains, recipientDelimiter: config.lmtp.recipientDelimiter };
    const recipient = (await resolveRecipient(store, to, rules)) ?? { account, mailbox: null };
    const sieve = new SieveDelivery(store, config, pino({ level: 'silent' }), null);
    let text = fileText;
    if (text === null) {
      const active = await store.getActiveSieveScript(account.id);
      if (active === null) return ['no active script: keep (implicit)'];
      text = active.content;
    }
    const parsed = parseSieve(text, { maxScriptBytes: config.sieve.maxScriptSize });
    if (!parsed.ok) throw new CliError(`the script has errors (delivery keeps every message in INBOX):\n${formatSieveErrors(parsed.errors).join('\n')}`);
    const result = await sieve.run(parsed.script, message, recipient, { from, to }, analyzeMessage(message).root);
    const out = await Promise.all(result.actions.map((a) => describe(a, store, account.id)));
    for (const e of result.errors ?? []) out.push(`error ${e.line}:${e.column}: ${e.message} (implicit keep)`);
    return out;
  });
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Adds `test` to the `sieve` command. */
export function registerSieveTest(sub: (name: string, description: string) => Command): void {
  sub('test', 'print what the active script (or --script FILE) would do with the message on standard input; nothing is delivered or sent')
    .argument('<user>')
    .option('--script <file>', 'run this script instead of the active one')
    .option('--envelope-from <address>', 'envelope sender (default: empty)')
    .option('--envelope-to <address>', 'envelope recipient (default: the account name)')
    .action(sieveTest);
}
