/**
 * `mailkeep deliver --to USER [--mailbox NAME] [--flags LIST] [--from SENDER] < message`:
 * the mail delivery agent an MTA runs once per message and recipient
 * (a Postfix or Exim pipe transport). It must run as the user that owns the
 * data directory (the store is private, store/private-files.ts), so not as
 * Postfix's `mailbox_command`, which runs as the recipient. The message streams
 * from stdin into the store and wakes IDLE sessions of a running server like
 * any other change (the store's cross-process notification).
 *
 * Exit codes are sysexits.h's, which MTAs map to deferral or bounce:
 *   0  EX_OK        delivered (committed)
 *   64 EX_USAGE     bad arguments
 *   65 EX_DATAERR   the message is larger than limits.append-limit
 *   67 EX_NOUSER    no account or alias for --to
 *   73 EX_CANTCREAT the account is over its quota. Permanent, like LMTP's
 *                   552 5.2.2 and Dovecot's default (quota_full_tempfail = no);
 *                   Postfix maps 73 to 5.2.0 (a mailbox problem) and bounces
 *                   at once, where EX_TEMPFAIL would retry a full mailbox for
 *                   days and bounce anyway.
 *   74 EX_IOERR     reading the message from stdin failed
 *   77 EX_NOPERM    the recipient's Sieve script rejected the message
 *                   (RFC 5429 reject/ereject); the reason is printed on
 *                   stderr, which Postfix's pipe transport puts in the
 *                   bounce it sends (5.7.0), so the sender gets it as a DSN.
 *   75 EX_TEMPFAIL  anything else (store locked or unavailable or not this
 *                   user's to open, disk full …):
 *                   the MTA keeps the message and tries again
 *   78 EX_CONFIG    invalid configuration
 */
import type { Command } from 'commander';
import { systemFlag } from '../mail/flags.js';
import { pino } from 'pino';
import { MessageStager, resolveRecipient, type StagedMessage } from '../mail/deliver.js';
import { Outgoing } from '../mail/outgoing.js';
import { SieveDelivery } from '../mail/sieve-delivery.js';
import { createLogger } from '../log.js';
import { StoreAccessError } from '../store/private-files.js';
import { StoreError } from '../store/types.js';
import { CliError } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { STORE_FLAGS, withStore } from './with-store.js';

/** Why a deliver run as the recipient fails on a private store, and what to do instead. */
const RUN_AS_HINT =
  'The store is private to the mailkeep user: deliver over LMTP, or run mailkeep deliver as that user (Postfix: a pipe transport with user=mailkeep; mailbox_command runs as the recipient)';

/** sysexits.h codes used here. */
const EX_USAGE = 64;
const EX_DATAERR = 65;
const EX_NOUSER = 67;
const EX_CANTCREAT = 73;
const EX_IOERR = 74;
const EX_TEMPFAIL = 75;
const EX_NOPERM = 77;
const EX_CONFIG = 78;

/** Settings deliver honours besides --config (lmtp.* and limits.* come from the file or environment). */
/** A leading mbox "From " line longer than this is not one: it stays in the message. */
const MAX_FROM_LINE = 1000;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
const MAX_ADDRESS_OCTETS = 254;
/** Flags one delivery may set. */
const MAX_FLAGS = 64;
/** RFC 9051 flag-keyword: an atom (no specials, spaces or controls), not starting with '\'. */
const KEYWORD = /^[^\\\s(){%*"\]\x00-\x1f\x7f][^\s(){%*"\\\]\x00-\x1f\x7f]{0,127}$/;

/** `\Seen,$Label` → canonical system flags and keywords. */
function parseFlags(text: string): string[] {
  const flags = text
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  if (flags.length > MAX_FLAGS) throw new CliError(`at most ${MAX_FLAGS} flags`, EX_USAGE);
  return flags.map((flag) => {
    const system = systemFlag(flag);
    if (system) return system;
    if (!KEYWORD.test(flag)) throw new CliError(`invalid flag: ${JSON.stringify(flag)}`, EX_USAGE);
    return flag;
  });
}

function checkAddress(address: string, option: string): void {
  // Addresses go into a trace line: no line breaks or other controls.
  if (Buffer.byteLength(address) > MAX_ADDRESS_OCTETS || /[\p{C}<>]/u.test(address)) {
    throw new CliError(`invalid ${option} address: ${JSON.stringify(address)}`, EX_USAGE);
  }
}

/** Where the message starts: after a leading mbox "From " line (dovecot-lda drops it too), 0 without one, -1 while unknown. */
function messageStart(head: Buffer): number {
  const marker = 'From ';
  if (head.subarray(0, marker.length).toString('latin1') !== marker.slice(0, Math.min(head.length, marker.length))) return 0;
  const lf = head.indexOf(0x0a);
  return lf < 0 || head.length < marker.length ? -1 : lf + 1;
}

/** Streams stdin into the stager with backpressure, without a leading "From " line. */
async function stageInput(input: AsyncIterable<Buffer>, stager: MessageStager): Promise<void> {
  let head: Buffer | null = Buffer.alloc(0);
  for await (const chunk of input) {
    let data = chunk;
    if (head !== null) {
      head = Buffer.concat([head, chunk]);
      const start = messageStart(head);
      if (start < 0 && head.length <= MAX_FROM_LINE) continue;
      data = head.subarray(Math.max(start, 0));
      head = null;
    }
    if (!stager.write(data)) await stager.drained();
  }
  if (head !== null) stager.write(head);
}

/** Reads and stages the message; a read error is EX_IOERR, an oversized message EX_DATAERR. */
async function stageMessage(stager: MessageStager, limit: number): Promise<StagedMessage> {
  try {
    await stageInput(process.stdin, stager);
  } catch (err) {
    await stager.abort().catch(() => undefined);
    throw new CliError(`cannot read the message: ${(err as Error).message}`, EX_IOERR);
  }
  try {
    return await stager.finish();
  } catch (err) {
    if (err instanceof StoreError && err.code === 'LIMIT') throw new CliError(`message larger than ${limit} octets`, EX_DATAERR);
    throw err;
  }
}

async function deliver(opts: Record<string, unknown>): Promise<void> {
  const to = String(opts.to);
  checkAddress(to, '--to');
  const from = typeof opts.from === 'string' ? opts.from : null;
  if (from !== null) checkAddress(from, '--from');
  const flags = typeof opts.flags === 'string' ? parseFlags(opts.flags) : [];
  const mailbox = typeof opts.mailbox === 'string' ? opts.mailbox : null;
  let config;
  try {
    config = configFromOptions(opts);
  } catch (err) {
    throw err instanceof CliError ? new CliError(err.message, EX_CONFIG, err.bare) : err;
  }
  const rules = { domains: config.domains, recipientDelimiter: config.lmtp.recipientDelimiter };
  const limit = config.limits.appendLimit;
  try {
    const outcome = await withStore(config, async (store) => {
      const recipient = await resolveRecipient(store, to, rules);
      if (!recipient) throw new CliError(`no such user: ${to}`, EX_NOUSER);
      const message = await stageMessage(new MessageStager(store.blobs, limit), limit);
      // Like dovecot-lda -m: the mailbox asked for when it exists (and lmtp.detail-delivery allows it), else INBOX.
      const target = mailbox === null ? recipient : { ...recipient, mailbox };
      const trace = from === null ? null : { returnPath: from, deliveredTo: to };
      const log = createLogger(config, pino.destination(2));
      const sieve = new SieveDelivery(store, config, log, Outgoing.fromConfig(config));
      let bytes: Promise<Buffer> | null = null;
      return sieve.deliver(
        message,
        () => (bytes ??= sieve.readMessage(message)),
        target,
        { from: from ?? '', to },
        { trace, flags, detailDelivery: config.lmtp.detailDelivery },
      );
    });
    if (outcome.status === 'rejected') throw new CliError(outcome.reason, EX_NOPERM, true);
    for (const copy of outcome.copies) {
      if (copy.status === 'failed') throw new CliError(`delivery to ${to} failed: ${copy.message}`, EX_TEMPFAIL);
      if (copy.status === 'over-quota') throw new CliError(`${to} is over quota: ${copy.message}`, EX_CANTCREAT);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    // Temporary, so the MTA keeps the message while the administrator fixes the setup.
    if (err instanceof StoreAccessError) throw new CliError(`${err.message}. ${RUN_AS_HINT}`, EX_TEMPFAIL);
    // The store could not be opened or used: the MTA should keep the message and retry.
    throw new CliError(`delivery to ${to} failed: ${(err as Error).message}`, EX_TEMPFAIL);
  }
}

/** Registers `deliver`. */
export function registerDeliverCommand(program: Command): void {
  const cmd = program
    .command('deliver')
    .description('deliver one message from stdin to a user (MDA for Postfix mailbox_command, Exim …)')
    .requiredOption('--to <address>', 'account name, alias or address (user+detail@domain: into mailbox "detail" if lmtp.detail-delivery allows)')
    .option('--mailbox <name>', 'mailbox to deliver into when it exists and lmtp.detail-delivery allows it (default: INBOX, or the +detail one)')
    .option('--flags <list>', 'comma-separated flags and keywords, e.g. "\\Seen,$Label"')
    .option('--from <address>', 'envelope sender: adds Return-Path and Delivered-To lines as LMTP does');
  withConfigOptions(cmd, STORE_FLAGS).action(deliver);
  // MTAs understand sysexits.h: usage errors are EX_USAGE, not the CLI's usual 2.
  cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EX_USAGE));
}
