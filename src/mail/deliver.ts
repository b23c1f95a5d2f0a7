/**
 * Local delivery, shared by LMTP and `mailkeep deliver`: find the account an
 * address names, stage the message once, store one copy per recipient.
 *
 * Invariants:
 * - The message is staged and analysed once, whatever the number of
 *   recipients. A recipient's copy with its own trace lines is a composite
 *   blob (those lines + the shared bytes, BlobStore.putComposite), so 100
 *   recipients do not take 100 times the space. A header edited by Sieve
 *   makes a composite too: trace lines + the new header + the shared body.
 * - The bytes received are stored as they are; trace lines only go in front.
 * - A copy is delivered once appendMessages resolved, i.e. committed
 *   (DESIGN invariant 1); the store's publish wakes IDLE sessions.
 * - One recipient's failure (quota, a store error) never affects another's.
 */
import type { DETAIL_DELIVERY } from '../config/schema.js';
import type { Uid } from '../ids.js';
import { MessageAnalyzer } from '../mime/analyze.js';
import type { MessageAnalysis } from '../mime/types.js';
import { composablePrefix, sameStructureFields } from '../store/composite-analysis.js';
import type { Account, BlobStore, BlobWriter, Mailbox, MailStore, StagedBlob } from '../store/types.js';
import { StoreError } from '../store/types.js';

/** How addresses name accounts (config.lmtp). */
export interface AddressingRules {
  /** Domains in which a local part alone names an account or alias; empty: every domain. */
  domains: readonly string[];
  /** RFC 5233 sub-address separator ('' for none). */
  recipientDelimiter: string;
}

/** Where one recipient's copy goes. */
export interface Recipient {
  account: Account;
  /** The mailbox the address asked for (RFC 5233 detail), or null: INBOX. Delivery checks it against DetailDelivery. */
  mailbox: string | null;
}

/** The store role address resolution needs. */
export type AccountResolver = Pick<MailStore, 'findAlias' | 'findAccount' | 'getAccount'>;

/** The account an alias or account name designates, aliases first (an administrator's explicit choice). */
async function accountNamed(store: AccountResolver, name: string): Promise<Account | null> {
  const alias = await store.findAlias(name);
  if (alias) return store.getAccount(alias.accountId);
  return store.findAccount(name);
}

/**
 * The account an address delivers to, or null when nobody has it. Tried in
 * order, the address as given before its RFC 5233 base (`user` of
 * `user+detail`, split at the first delimiter as Postfix does): an alias or
 * account named by the whole address, then, in a local domain (config
 * `domains`, or any domain when that is empty), one named by the local
 * part alone. An address without '@' is a name as it stands. The detail
 * names the mailbox when the base matched.
 */
export async function resolveRecipient(store: AccountResolver, address: string, rules: AddressingRules): Promise<Recipient | null> {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const domain = at < 0 ? null : address.slice(at + 1).toLowerCase();
  const localDomain = domain !== null && (rules.domains.length === 0 || rules.domains.includes(domain));
  const forms: Array<{ local: string; detail: string | null }> = [{ local, detail: null }];
  const cut = rules.recipientDelimiter === '' ? -1 : local.indexOf(rules.recipientDelimiter);
  if (cut > 0) forms.push({ local: local.slice(0, cut), detail: local.slice(cut + 1) || null });
  for (const form of forms) {
    const names = domain === null ? [form.local] : [`${form.local}@${domain}`, ...(localDomain ? [form.local] : [])];
    for (const name of names) {
      const account = await accountNamed(store, name);
      if (account) return { account, mailbox: form.detail };
    }
  }
  return null;
}

/** A message staged once for all its recipients: the bytes in the blob store, and their analysis. */
export interface StagedMessage {
  blob: StagedBlob;
  analysis: MessageAnalysis;
  /** Trace lines can go in front of it as a composite blob (store/composite-analysis.ts). */
  composable: boolean;
  /** The bytes themselves when small (KEPT_BYTES), so a Sieve run need not read them back. */
  bytes?: Buffer;
}

/** Messages up to this size stay in memory while they are delivered (one copy per delivery in progress). */
const KEPT_BYTES = 1024 * 1024;

/** Streams one incoming message into the blob store while analysing it (LMTP DATA/BDAT, stdin). */
export class MessageStager {
  private readonly writer: BlobWriter;
  private readonly analyzer = new MessageAnalyzer();
  private size = 0;
  private firstByte: number | undefined;
  /** Copies of the chunks while the message is within KEPT_BYTES (the caller may reuse its buffers). */
  private kept: Buffer[] | null = [];
  private analysis: MessageAnalysis | null = null;

  /** Bytes beyond `limit` make finish() reject with StoreError('LIMIT'). */
  constructor(
    blobs: BlobStore,
    private readonly limit: number,
  ) {
    this.writer = blobs.createWriter(limit);
  }

  /** Takes the next bytes; false means wait for drained() before writing more. */
  write(chunk: Buffer): boolean {
    if (chunk.length === 0) return true;
    this.firstByte ??= chunk[0];
    this.size += chunk.length;
    if (this.size > KEPT_BYTES) this.kept = null;
    this.kept?.push(Buffer.from(chunk));
    // Past the limit the writer drops the bytes and finish() fails: no point analysing them.
    if (this.size <= this.limit) this.analyzer.write(chunk);
    return this.writer.write(chunk);
  }

  /** Resolves once more may be written. */
  drained(): Promise<void> {
    return this.writer.drained();
  }

  /** Makes the bytes durable (fsynced) and finishes the analysis. */
  async finish(): Promise<StagedMessage> {
    const blob = await this.writer.finish();
    const staged: StagedMessage = { blob, analysis: this.analyze(), composable: composablePrefix(this.firstByte) };
    if (this.kept !== null) staged.bytes = this.keptBytes(this.kept);
    return staged;
  }

  /**
   * After the last write, before finish() made the message durable: its analysis and bytes, for work
   * that only reads them (a Sieve run) and can overlap the sync; null when they are past the limit or
   * too large to stay in memory. finish() hands out the same analysis and bytes.
   */
  received(): { analysis: MessageAnalysis; bytes: Buffer } | null {
    if (this.kept === null || this.size > this.limit) return null;
    return { analysis: this.analyze(), bytes: this.keptBytes(this.kept) };
  }

  private analyze(): MessageAnalysis {
    this.analysis ??= this.analyzer.end();
    return this.analysis;
  }

  /** The kept chunks as one buffer, concatenated once. */
  private keptBytes(kept: Buffer[]): Buffer {
    if (kept.length !== 1) kept.splice(0, kept.length, Buffer.concat(kept));
    return kept[0]!;
  }

  /** Discards what was staged. */
  abort(): Promise<void> {
    return this.writer.abort();
  }
}

/** The trace lines a delivery agent puts in front of each copy (RFC 5321 §4.4; Delivered-To as Postfix and Dovecot write it). */
export interface TraceLines {
  /** The envelope sender (MAIL FROM), '' for the null sender. */
  returnPath: string;
  /** The recipient address as the client gave it. */
  deliveredTo: string;
}

/** How one copy is stored. */
export interface CopyOptions {
  /** Lines to put in front of the message, or null to store it exactly as staged. */
  trace: TraceLines | null;
  /** Flags of the new message (canonical system flags and keywords). */
  flags?: readonly string[];
  /** INTERNALDATE (default: now). */
  internalDate?: Date;
  /** Which mailbox the recipient's detail may choose (config lmtp.detail-delivery). */
  detailDelivery: DetailDelivery;
  /** The mailbox a Sieve action chose (overrides the recipient's detail). */
  mailbox?: Mailbox;
  /** A header block edited by Sieve (RFC 5293) to store in place of the original header. */
  header?: Buffer;
}

/** What became of one recipient's copy. */
export type CopyOutcome =
  | { status: 'stored'; mailbox: string; uid: Uid }
  /** RFC 9208: the account is over its quota, or the mailbox holds all the messages (or keywords) it may; permanent for this message. */
  | { status: 'over-quota'; message: string }
  /** Anything else (store busy or unavailable, disk full …): worth trying again later. */
  | { status: 'failed'; message: string };

function traceBytes(trace: TraceLines): Buffer {
  // Addresses come from the wire: a line break would forge header fields.
  if (/[\r\n]/.test(trace.returnPath + trace.deliveredTo)) throw new Error('line break in an envelope address');
  return Buffer.from(`Return-Path: <${trace.returnPath}>\r\nDelivered-To: ${trace.deliveredTo}\r\n`);
}

/**
 * The recipient's copy with trace lines in front: a composite when possible, else (rarely) its own blob.
 * With an edited header the copy is `prefix` + `header` + the original body: a composite over the
 * body when the edit left the MIME structure fields alone (store/composite-analysis.ts), else its own blob.
 */
async function withTrace(blobs: BlobStore, message: StagedMessage, prefix: Buffer, header?: Buffer): Promise<{ blob: StagedBlob; analysis: MessageAnalysis }> {
  const head = header === undefined ? prefix : Buffer.concat([prefix, header]);
  const from = header === undefined ? 0 : message.analysis.root.bs;
  const original = async (): Promise<Buffer> => message.bytes?.subarray(0, from) ?? (await blobs.read(message.blob.blobId, 0, from));
  const shared = header === undefined ? message.composable : sameStructureFields(await original(), header);
  if (shared) return { blob: await blobs.putComposite(head, message.blob, from, message.bytes), analysis: message.analysis };
  // A message starting with white space would continue the last trace line,
  // and an edited Content-Type may change the structure: write and analyse the whole.
  const stager = new MessageStager(blobs, head.length + message.blob.size);
  let finishing = false;
  try {
    stager.write(head);
    if (from < message.blob.size)
      for await (const chunk of blobs.createReadStream(message.blob.blobId, from) as AsyncIterable<Buffer>) {
        if (!stager.write(chunk)) await stager.drained();
      }
    finishing = true;
    return await stager.finish();
  } catch (err) {
    if (!finishing) await stager.abort().catch(() => undefined);
    throw err;
  }
}

/**
 * Which mailbox other than INBOX a delivery may choose by RFC 5233 detail
 * (`user+detail@…`) or `mailkeep deliver --mailbox` (config lmtp.detail-delivery).
 * Anyone can send to `alice+Sent@…`, so a detail must not let an outsider
 * file a message into Sent or Drafts (where it looks like alice wrote it):
 * - 'opt-in': only into mailboxes whose owner set DETAIL_DELIVERY_ENTRY to "yes";
 * - 'unless-special-use': those, and every mailbox without a special use (RFC 6154);
 * - 'off': always INBOX.
 * A detail that names no allowed mailbox delivers to INBOX, as one naming no
 * mailbox does (Dovecot's lmtp_save_to_detail_mailbox), so the sender learns nothing.
 */
export type DetailDelivery = (typeof DETAIL_DELIVERY)[number];

/** The private mailbox annotation (RFC 5464) by which a user lets `+detail` deliveries into a mailbox: value "yes". */
export const DETAIL_DELIVERY_ENTRY = '/private/vendor/mailkeep/detail-delivery';

/** Whether the owner opted the mailbox in to detail deliveries. */
async function optedIn(store: MailStore, mailbox: Mailbox): Promise<boolean> {
  const [entry] = await store.getMetadata(mailbox.accountId, mailbox.id, [DETAIL_DELIVERY_ENTRY]);
  return entry !== undefined && entry.value.toString('latin1').trim().toLowerCase() === 'yes';
}

/** Whether a detail may deliver into this mailbox under the policy. */
async function detailAllowed(store: MailStore, mailbox: Mailbox, policy: DetailDelivery): Promise<boolean> {
  if (mailbox.name === 'INBOX') return true;
  if (policy === 'off') return false;
  if (policy === 'unless-special-use' && mailbox.specialUse === null) return true;
  return optedIn(store, mailbox);
}

/** The recipient's default mailbox (Sieve's keep): the one asked for when it exists and the policy allows it, else INBOX. */
export async function targetMailbox(store: MailStore, recipient: Recipient, policy: DetailDelivery): Promise<Mailbox> {
  const asked = recipient.mailbox === null || policy === 'off' ? null : await store.getMailbox(recipient.account.id, recipient.mailbox);
  if (asked && (await detailAllowed(store, asked, policy))) return asked;
  const inbox = await store.getMailbox(recipient.account.id, 'INBOX');
  if (!inbox) throw new StoreError('NONEXISTENT', 'the account has no INBOX');
  return inbox;
}

/** Stores one recipient's copy of a staged message; never throws. */
export async function deliverCopy(store: MailStore, message: StagedMessage, recipient: Recipient, opts: CopyOptions): Promise<CopyOutcome> {
  try {
    const edited = opts.trace !== null || opts.header !== undefined;
    const copy = edited ? await withTrace(store.blobs, message, opts.trace ? traceBytes(opts.trace) : Buffer.alloc(0), opts.header) : message;
    const mailbox = opts.mailbox ?? (await targetMailbox(store, recipient, opts.detailDelivery));
    const { uids } = await store.appendMessages(recipient.account.id, mailbox.id, [
      { blob: copy.blob, analysis: copy.analysis, flags: [...(opts.flags ?? [])], internalDate: opts.internalDate ?? new Date() },
    ]);
    const uid = uids[0];
    if (uid === undefined) throw new Error('append returned no UID');
    return { status: 'stored', mailbox: mailbox.name, uid };
  } catch (err) {
    // RFC 3463 X.2.2 "mailbox full" covers both: the account's quota and the mailbox's own limits.
    if (err instanceof StoreError && (err.code === 'OVERQUOTA' || err.code === 'LIMIT')) return { status: 'over-quota', message: err.message };
    return { status: 'failed', message: err instanceof Error ? err.message : String(err) };
  }
}
