/**
 * The message data: DATA (RFC 5321 §4.1.1.4 with RFC 2033 §4.2's one reply
 * per accepted recipient) and BDAT (RFC 3030 CHUNKING, BINARYMIME). The
 * message is staged once and each recipient gets its own copy
 * (mail/deliver.ts); every 250 is sent only after that copy was committed.
 */
import { countDelivery } from '../../metrics/metrics.js';
import type { AccountId } from '../../ids.js';
import { type CopyOutcome, deliverCopy, MessageStager, type Recipient, type StagedMessage } from '../../mail/deliver.js';
import { mapLimit } from '../../mail/map-limit.js';
import type { SieveOutcome, StartedRun } from '../../mail/sieve-delivery.js';
import { StoreError } from '../../store/types.js';
import { badSequence, badSyntax, LmtpError } from '../errors.js';
import type { LmtpSession } from '../session/session.js';
import type { Envelope } from '../session/state.js';
import { ANY_STATE, command } from './spec.js';

/** The transaction's envelope, checked ready for data (RFC 2033 §4.2: no data without a recipient). */
function envelopeForData(session: LmtpSession): Envelope {
  const st = session.state;
  if (st.kind !== 'transaction') throw badSequence(st.kind === 'connected' ? 'Send LHLO first' : 'Send MAIL first');
  if (st.envelope.recipients.length === 0) throw badSequence('No valid recipients');
  return st.envelope;
}

/**
 * Recipients whose deliveries run at once. Their copies' appends then share
 * the store's group commit (one fsync instead of one per recipient) and one
 * recipient's Sieve run overlaps another's waits; bounded, since a
 * transaction may have up to lmtp.max-recipients of them.
 */
const CONCURRENT_RECIPIENTS = 16;

/**
 * Stores the received message for every accepted recipient and sends their replies, in RCPT order
 * (RFC 2033 §4.2), each once its own copies were committed. Recipients of different accounts are
 * delivered concurrently; those of one account one after the other in RCPT order, so that one sees
 * what the one before it stored and remembered (RFC 7352 duplicate, RFC 5230 vacation, :create).
 */
async function deliverAll(session: LmtpSession, envelope: Envelope, stager: MessageStager): Promise<void> {
  session.state = { kind: 'ready' };
  // RCPT positions by account: the accounts run concurrently, each one's recipients in order.
  const byAccount = new Map<AccountId, number[]>();
  envelope.recipients.forEach((r, i) => {
    const positions = byAccount.get(r.recipient.account.id);
    if (positions) positions.push(i);
    else byAccount.set(r.recipient.account.id, [i]);
  });
  const accounts = [...byAccount.values()];
  const staging = stager.finish();
  const runs = startRuns(session, envelope, stager, accounts);
  let message: StagedMessage;
  try {
    message = await staging;
  } catch (err) {
    const tooBig = err instanceof StoreError && err.code === 'LIMIT';
    if (!tooBig) session.log.error({ err }, 'staging a message failed');
    const limit = session.config.limits.appendLimit;
    for (const { address } of envelope.recipients) {
      countDelivery(tooBig ? 'too_big' : 'failed');
      if (tooBig) session.reply(552, '5.3.4', `<${address}> Message too big (limit ${limit} octets)`);
      else session.reply(451, '4.3.0', `<${address}> Temporary failure, try again later`);
    }
    return;
  }
  const internalDate = new Date();
  // The bytes a script looks at, read once for all recipients and only when some recipient has a script.
  let bytes: Promise<Buffer> | null = null;
  const deliverOne = async (i: number): Promise<SieveOutcome> => {
    const { address, recipient } = envelope.recipients[i]!;
    const trace = { returnPath: envelope.sender, deliveredTo: address };
    const opts = { trace, internalDate, detailDelivery: session.config.lmtp.detailDelivery };
    if (session.sieve === null) return { status: 'delivered', copies: [await deliverCopy(session.store, message, recipient, opts)] };
    const sieve = session.sieve;
    try {
      const load = (): Promise<Buffer> => (bytes ??= sieve.readMessage(message));
      return await sieve.deliver(message, load, recipient, { from: envelope.sender, to: address }, opts, runs.get(i));
    } catch (err) {
      session.log.warn({ ...logFields(envelope, address, recipient, message), err }, 'sieve delivery failed');
      return { status: 'delivered', copies: [{ status: 'failed', message: (err as Error).message }] };
    }
  };
  const results: SieveOutcome[] = [];
  await mapLimit(accounts, CONCURRENT_RECIPIENTS, async (positions) => {
    for (const i of positions) results[i] = await deliverOne(i);
  });
  for (const [i, { address, recipient }] of envelope.recipients.entries()) {
    const result = results[i]!; // every position is in one account's list
    const log = logFields(envelope, address, recipient, message);
    if (result.status === 'delivered') {
      replyFor(session, address, log, result.copies);
      continue;
    }
    session.log.info({ ...log, reason: result.reason }, 'rejected by sieve');
    // RFC 5429 §2.1/§2.2: a protocol-level refusal for this recipient; the reason on one ASCII line (RFC 5321 §4.2).
    const reason = result.reason
      .replace(/[\r\n]+/g, ' ')
      .replace(/[^\x20-\x7e]/g, '?')
      .slice(0, 400);
    countDelivery('rejected');
    session.reply(550, '5.7.1', `<${address}> ${reason}`);
  }
}

/**
 * Starts the Sieve runs of each account's first recipient (of the accounts delivered first) while
 * the message is being made durable: a run only reads the message and the store, and its actions
 * are carried out after the sync, so nothing is stored or acknowledged earlier. One run per
 * event-loop turn, so that the sync's steps are not held up behind them all. An account's later
 * recipients run after the one before them was delivered. Returns the runs by RCPT position.
 */
function startRuns(session: LmtpSession, envelope: Envelope, stager: MessageStager, accounts: readonly number[][]): Map<number, StartedRun> {
  const runs = new Map<number, StartedRun>();
  const sieve = session.sieve;
  const received = sieve === null ? null : stager.received();
  if (sieve === null || received === null) return runs;
  let turn = Promise.resolve();
  for (const [i] of accounts.slice(0, CONCURRENT_RECIPIENTS)) {
    const { address, recipient } = envelope.recipients[i!]!;
    turn = turn.then(() => new Promise((resolve) => setImmediate(resolve)));
    const run = turn.then(() =>
      sieve.actions(() => Promise.resolve(received.bytes), recipient, { from: envelope.sender, to: address }, received.analysis.root),
    );
    // Awaited, and a failure handled, by the recipient's delivery; not when staging failed.
    run.catch(() => undefined);
    runs.set(i!, run);
  }
  return runs;
}

/** The fields of a recipient's log lines. */
function logFields(envelope: Envelope, address: string, recipient: Recipient, message: StagedMessage): Record<string, unknown> {
  return { from: envelope.sender, to: address, user: recipient.account.name, size: message.blob.size };
}

/** The one reply for a recipient: the worst of its copies' outcomes (a discard stores nothing and is a success). */
function replyFor(session: LmtpSession, address: string, log: Record<string, unknown>, outcomes: readonly CopyOutcome[]): void {
  const failed = outcomes.find((o) => o.status === 'failed');
  const full = outcomes.find((o) => o.status === 'over-quota');
  if (failed?.status === 'failed') {
    session.log.warn({ ...log, reason: failed.message }, 'delivery failed');
    countDelivery('failed');
    session.reply(451, '4.3.0', `<${address}> Temporary failure, try again later`);
  } else if (full?.status === 'over-quota') {
    session.log.info({ ...log, reason: full.message }, 'delivery refused: over quota');
    countDelivery('over_quota');
    // RFC 3463 X.2.2: mailbox full; permanent, as Dovecot's default (quota_full_tempfail = no).
    session.reply(552, '5.2.2', `<${address}> Mailbox full: ${full.message}`);
  } else {
    for (const o of outcomes) if (o.status === 'stored') session.log.info({ ...log, mailbox: o.mailbox, uid: o.uid }, 'delivered');
    if (outcomes.length === 0) session.log.info(log, 'discarded by sieve');
    countDelivery(outcomes.length === 0 ? 'discarded' : 'stored');
    session.reply(250, '2.0.0', `<${address}> Saved`);
  }
}

/** RFC 5321 §4.1.1.4 — DATA. */
export const data = command({
  name: 'DATA',
  states: ['transaction'],
  parse(args) {
    if (args.trim() !== '') throw badSyntax('No arguments expected');
  },
  async run(session) {
    const envelope = envelopeForData(session);
    // RFC 3030 §2: DATA after BDAT in one transaction is 503; §3: BINARYMIME data only by BDAT.
    if (envelope.chunks) throw badSequence('DATA after BDAT');
    if (envelope.body === 'BINARYMIME') throw badSequence('BODY=BINARYMIME requires BDAT');
    session.reply(354, null, 'Start mail input; end with <CRLF>.<CRLF>');
    await session.flush();
    const stager = new MessageStager(session.store.blobs, session.config.limits.appendLimit);
    if (!(await session.readData(stager))) {
      await stager.abort();
      return;
    }
    await deliverAll(session, envelope, stager);
  },
});

/** RFC 3030 §2 — BDAT chunk-size [LAST]. Allowed in any state so its octets are always consumed. */
export const bdat = command({
  name: 'BDAT',
  states: ANY_STATE,
  parse(args) {
    const m = /^(\d{1,15})( +LAST)? *$/i.exec(args);
    return m ? { size: Number(m[1]), last: m[2] !== undefined } : null;
  },
  async run(session, args) {
    if (args === null) {
      // The chunk's length is unknown, so its octets cannot be told from commands: end the session.
      session.state = { kind: 'closing' };
      throw new LmtpError(501, '5.5.4', 'Syntax: BDAT chunk-size [LAST]; closing connection', true);
    }
    const limit = session.config.limits.appendLimit;
    if (args.size > limit) {
      // Consuming a chunk that can only be refused would let a client make the server read gigabytes:
      // refuse it as announced and end the session (RFC 5321 §3.8 allows closing after a reply).
      session.state = { kind: 'closing' };
      throw new LmtpError(552, '5.3.4', `Chunk of ${args.size} octets exceeds the message size limit of ${limit}; closing connection`, true);
    }
    let envelope: Envelope;
    try {
      envelope = envelopeForData(session);
    } catch (err) {
      // RFC 3030 §2: a failed BDAT's data is accepted and discarded before the error reply.
      if (await session.readChunk(args.size, null)) throw err;
      return;
    }
    envelope.chunks ??= new MessageStager(session.store.blobs, limit);
    if (!(await session.readChunk(args.size, envelope.chunks))) return;
    if (!args.last) {
      session.reply(250, '2.0.0', `${args.size} octets received`);
      return;
    }
    const stager = envelope.chunks;
    envelope.chunks = null;
    await deliverAll(session, envelope, stager);
  },
});
