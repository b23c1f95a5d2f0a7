/**
 * Sieve at delivery (RFC 5228 §2.10): runs the recipient's active script on
 * a staged message and carries out its actions — keep and fileinto (RFC 5490
 * :create, RFC 8579 :specialuse, RFC 5232 flags, RFC 5293 edited header), discard, reject (RFC 5429),
 * redirect (RFC 5228 §4.2, RFC 3894 :copy), vacation (RFC 5230) and
 * duplicate tracking (RFC 7352).
 *
 * Invariants:
 * - A message is never lost to the script: a script that does not compile,
 *   a run-time error, or an action that cannot be done (fileinto a missing
 *   mailbox without :create) ends in a keep into the default mailbox, logged
 *   (RFC 5228 §2.10.6; Pigeonhole does the same).
 * - Sending (redirect, vacation) happens after the copies are committed and
 *   never fails the delivery; without `[relay]` it is logged and skipped. A
 *   redirect that could not be sent, of a message kept nowhere else, ends in
 *   the implicit keep (RFC 5228 §2.10.6): a message is never lost to the relay.
 * - Compiled scripts are cached by the SHA-256 of their text, read from the
 *   store at every delivery: a script changed by PUTSCRIPT, SETACTIVE or the
 *   CLI, in any worker or node, is compiled anew at its first use; an
 *   unchanged one costs one store read, and accounts with the same text
 *   share one compiled script (it depends on the text alone: includes are
 *   resolved at run time). The runs on one message's bytes therefore share
 *   the outcomes of the script's message-pure tests (sieve/message.ts
 *   TestOutcomes): ten recipients with the same script evaluate each such
 *   header or body test once.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { type Config, SPECIAL_USES } from '../config/schema.js';
import type { AccountId } from '../ids.js';
import { type CompiledScript, parseSieve, runSieve, type SieveAction, type SieveContext, type SieveRunResult, type VacationAction } from '../sieve/index.js';
import type { PartIndex } from '../mime/types.js';
import type { Mailbox, MailStore, SieveMemoryKind } from '../store/types.js';
import { type CopyOptions, type CopyOutcome, deliverCopy, type Recipient, type StagedMessage, targetMailbox } from './deliver.js';
import { systemFlag } from './flags.js';
import { canonicalName, forbiddenCharacter } from './mailbox-name.js';
import { LOOP_HEADER, type Outgoing, redirectMessage, vacationMessage } from './outgoing.js';
import { includeResolver } from './sieve-scripts.js';

/** The envelope one recipient's run sees (RFC 5228 §5.4: the recipient is this one alone). */
export interface DeliveryEnvelope {
  from: string;
  to: string;
}

/** A recipient's Sieve actions, started early (lmtp/commands/data.ts); null: no script, the implicit keep. */
export type StartedRun = Promise<SieveAction[] | null>;

/** What became of one recipient under its script. */
export type SieveOutcome =
  | { status: 'delivered'; copies: CopyOutcome[] }
  /** RFC 5429: refused with this reason; nothing stored. */
  | { status: 'rejected'; reason: string };

/** Compiled scripts kept at most. */
const CACHE_SIZE = 1000;
// RFC 9051 flag-keyword: an atom that is not a system flag.
const KEYWORD = /^[^\\\s(){%*"\]\x00-\x1f\x7f][^\s(){%*"\\\]\x00-\x1f\x7f]{0,127}$/;

/** Flags a Sieve action names, as the store takes them: canonical system flags and valid keywords (others are dropped). */
function storeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of flags) {
    const flag = systemFlag(f) ?? (KEYWORD.test(f) ? f : undefined);
    if (flag !== undefined && !out.includes(flag)) out.push(flag);
  }
  return out;
}

/** Whether the mailbox has the RFC 6154 special-use attribute (attributes compare case-insensitively, as IMAP flags do). */
function hasSpecialUse(mailbox: Mailbox, attribute: string): boolean {
  return mailbox.specialUse?.toLowerCase() === attribute.toLowerCase();
}

/** The memory key: a digest, so ids and handles of any length make small rows. */
function memoryKey(handle: string, value: string): string {
  return createHash('sha256').update(handle).update('\0').update(value).digest('hex');
}

/** Runs scripts at delivery for one server or one `mailkeep deliver`. */
export class SieveDelivery {
  private readonly cache = new Map<string, CompiledScript | null>();

  constructor(
    private readonly store: MailStore,
    private readonly config: Pick<Config, 'sieve' | 'hostname' | 'domains' | 'lmtp'>,
    private readonly log: Logger,
    private readonly outgoing: Outgoing | null,
  ) {}

  /** The account's compiled active script, or null (none active, or one that does not compile: then logged). */
  async script(accountId: AccountId): Promise<CompiledScript | null> {
    const active = await this.store.getActiveSieveScript(accountId);
    if (active === null) return null;
    const key = createHash('sha256').update(active.content).digest('base64');
    if (this.cache.has(key)) return this.cache.get(key) ?? null;
    const parsed = parseSieve(active.content, { maxScriptBytes: this.config.sieve.maxScriptSize });
    if (!parsed.ok)
      this.log.warn({ account: accountId, script: active.name, errors: parsed.errors.slice(0, 5) }, 'sieve script does not compile: implicit keep');
    const compiled = parsed.ok ? parsed.script : null;
    this.cache.set(key, compiled);
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    return compiled;
  }

  /** The context a run asks (src/sieve/context.ts), answered from the store and the configuration. */
  context(recipient: Recipient, envelope: DeliveryEnvelope, parts?: PartIndex): SieveContext {
    const accountId = recipient.account.id;
    const has = (kind: SieveMemoryKind, handle: string, value: string): Promise<boolean> =>
      this.store.sieveMemoryHas(accountId, kind, memoryKey(handle, value), new Date());
    const s = this.config.sieve;
    const domain = envelope.to.includes('@') ? envelope.to.slice(envelope.to.lastIndexOf('@') + 1) : (this.config.domains[0] ?? this.config.hostname);
    return {
      envelope,
      userAddresses: [recipient.account.name, envelope.to].filter((a) => a.includes('@')),
      mailboxExists: async (name) => (await this.store.getMailbox(accountId, canonicalName(name))) !== null,
      specialUseExists: async (name, attributes) => {
        const mailboxes = name === null ? await this.store.listMailboxes(accountId) : [await this.store.getMailbox(accountId, canonicalName(name))];
        return attributes.every((a) => mailboxes.some((m) => m !== null && hasSpecialUse(m, a)));
      },
      metadata: (name, entry) => this.metadata(accountId, name, entry),
      duplicateSeen: (id, handle) => has('duplicate', handle, id),
      vacationAlreadySent: (sender, handle) => has('vacation', handle, sender.toLowerCase()),
      includeScript: includeResolver(this.store, accountId),
      // RFC 5183 §4
      environment: { domain, host: this.config.hostname, location: 'MDA', phase: 'during', name: 'mailkeep', version: '1' },
      scores: {
        ...(s.spamtestHeader === null ? {} : { spam: { header: s.spamtestHeader, max: s.spamtestMax } }),
        ...(s.virustestHeader === null ? {} : { virus: { header: s.virustestHeader } }),
      },
      ...(parts === undefined ? {} : { parts }),
    };
  }

  /** RFC 5490 §3.3/§4.1: an annotation of the account's mailbox (or the server's, name null) as text, or null. */
  private async metadata(accountId: AccountId, name: string | null, entry: string): Promise<string | null> {
    // RFC 5464 §3.2: every entry name is under /private or /shared; others name nothing
    if (!/^\/(private|shared)\//i.test(entry)) return null;
    const mailbox = name === null ? null : await this.store.getMailbox(accountId, canonicalName(name));
    if (name !== null && mailbox === null) return null;
    const [found] = await this.store.getMetadata(accountId, mailbox?.id ?? null, [entry]);
    return found === undefined ? null : found.value.toString('utf8');
  }

  /** The actions the active script takes on the message, or null when the account has no (working) script. */
  async actions(bytes: () => Promise<Buffer>, recipient: Recipient, envelope: DeliveryEnvelope, parts?: PartIndex): Promise<SieveAction[] | null> {
    const script = await this.script(recipient.account.id);
    if (script === null) return null;
    const result = await this.run(script, await bytes(), recipient, envelope, parts);
    if (result.errors) this.log.warn({ user: recipient.account.name, errors: result.errors.slice(0, 5) }, 'sieve run failed: implicit keep');
    return result.actions;
  }

  /** Runs a given script for the recipient (also `mailkeep sieve test`); nothing is stored or sent. */
  run(script: CompiledScript, bytes: Buffer, recipient: Recipient, envelope: DeliveryEnvelope, parts?: PartIndex): Promise<SieveRunResult> {
    return runSieve(script, bytes, this.context(recipient, envelope, parts));
  }

  /** The staged bytes a run looks at: kept by the stager when small, else read (bounded by the append limit, as staging was). */
  readMessage(message: StagedMessage): Promise<Buffer> {
    return message.bytes === undefined ? this.store.blobs.read(message.blob.blobId) : Promise.resolve(message.bytes);
  }

  /**
   * Delivers one recipient's copy under its script: runs it, stores the copies it asks for,
   * remembers duplicates, then sends redirects and the vacation reply. Never throws for script problems.
   * `bytes` gives the message's bytes, read only when the recipient has a script. `ran`: the result of
   * actions() when the caller started the run early (while the message was made durable).
   */
  async deliver(
    message: StagedMessage,
    bytes: () => Promise<Buffer>,
    recipient: Recipient,
    envelope: DeliveryEnvelope,
    opts: CopyOptions,
    ran?: StartedRun,
  ): Promise<SieveOutcome> {
    const actions = await (ran ?? this.actions(bytes, recipient, envelope, message.analysis.root));
    if (actions === null) return { status: 'delivered', copies: [await deliverCopy(this.store, message, recipient, opts)] };
    const reject = actions.find((a) => a.type === 'reject');
    if (reject?.type === 'reject') return { status: 'rejected', reason: reject.reason };
    const copies: CopyOutcome[] = [];
    for (const a of actions) {
      if (a.type !== 'keep' && a.type !== 'fileinto') continue;
      const mailbox = a.type === 'fileinto' ? await this.fileintoTarget(recipient, a.mailbox, a.create, a.specialUse) : null;
      const target = mailbox ?? (await targetMailbox(this.store, recipient, opts.detailDelivery));
      const copyOpts: CopyOptions = { ...opts, mailbox: target, flags: storeFlags([...(opts.flags ?? []), ...a.flags]) };
      if (a.header !== undefined) copyOpts.header = a.header;
      copies.push(await deliverCopy(this.store, message, recipient, copyOpts));
    }
    const stored = copies.some((c) => c.status === 'stored');
    const accountId = recipient.account.id;
    const now = new Date();
    for (const a of actions) {
      if (a.type === 'track-duplicate' && stored)
        await this.store.sieveMemoryPut(accountId, 'duplicate', memoryKey(a.handle, a.id), new Date(now.getTime() + a.seconds * 1000), now);
    }
    // Mail goes out only when every copy asked for was stored (none failing would be retried and send twice).
    if (copies.some((c) => c.status !== 'stored')) return { status: 'delivered', copies };
    const unsent = await this.send(actions, message, await bytes(), recipient, envelope, now);
    if (unsent > 0 && copies.length === 0) {
      // The message was only to leave by redirect and did not: an action that cannot be done ends in the
      // implicit keep (RFC 5228 §2.10.6, as Pigeonhole does), so an accepted message is never lost.
      this.log.warn({ user: recipient.account.name }, 'sieve redirect not sent: implicit keep');
      copies.push(await deliverCopy(this.store, message, recipient, { ...opts, mailbox: await targetMailbox(this.store, recipient, opts.detailDelivery) }));
    }
    return { status: 'delivered', copies };
  }

  /**
   * Where a fileinto goes: the mailbox with the special-use attribute when asked and there is one
   * (RFC 8579 §4), else the named mailbox (created with :create, RFC 5490 §3.2, and then given the
   * attribute), or null for the default one (logged).
   */
  private async fileintoTarget(recipient: Recipient, name: string, create: boolean, specialUse?: string): Promise<Mailbox | null> {
    const accountId = recipient.account.id;
    if (specialUse !== undefined) {
      const special = (await this.store.listMailboxes(accountId)).find((m) => hasSpecialUse(m, specialUse));
      if (special) return special;
    }
    const canonical = canonicalName(name);
    const existing = await this.store.getMailbox(accountId, canonical);
    if (existing) return existing;
    const bad = forbiddenCharacter(canonical);
    if (create && bad === null) {
      try {
        // one of the attributes this server gives (as IMAP CREATE USE does); another leaves the new mailbox without
        const use = SPECIAL_USES.find((u) => u.toLowerCase() === specialUse?.toLowerCase()) ?? null;
        return await this.store.createMailbox(accountId, canonical, use);
      } catch (err) {
        // Another delivery may have created it meanwhile.
        const again = await this.store.getMailbox(accountId, canonical);
        if (again) return again;
        this.log.warn({ user: recipient.account.name, mailbox: name, err }, 'sieve fileinto :create failed: kept in INBOX');
        return null;
      }
    }
    this.log.warn({ user: recipient.account.name, mailbox: name }, 'sieve fileinto: no such mailbox, kept in INBOX');
    return null;
  }

  /** Sends the redirects and the vacation reply of a run; failures are logged, never fatal. Returns the redirects not sent. */
  private async send(
    actions: readonly SieveAction[],
    message: StagedMessage,
    bytes: Buffer,
    recipient: Recipient,
    envelope: DeliveryEnvelope,
    now: Date,
  ): Promise<number> {
    const user = recipient.account.name;
    let unsentRedirects = 0;
    for (const a of actions) {
      if (a.type !== 'redirect' && !(a.type === 'vacation' && a.respond)) {
        if (a.type === 'vacation') this.log.info({ user, to: a.to, reason: a.skipped }, 'sieve vacation: no reply');
        continue;
      }
      try {
        if (this.outgoing === null) throw new Error('no [relay] host configured');
        if (a.type === 'redirect') await this.redirect(a.address, a.header, message, bytes, recipient, envelope);
        else if (a.type === 'vacation') await this.reply(a, message, recipient, envelope, now);
      } catch (err) {
        if (a.type === 'redirect') unsentRedirects++;
        this.log.warn({ user, action: a.type, err: (err as Error).message }, 'sieve: not sent');
      }
    }
    return unsentRedirects;
  }

  private async redirect(
    address: string,
    header: Buffer | undefined,
    message: StagedMessage,
    bytes: Buffer,
    recipient: Recipient,
    envelope: DeliveryEnvelope,
  ): Promise<void> {
    // Loop guard: a message we redirected before for this recipient, or one already delivered to it
    // on its way here (Delivered-To, as Postfix checks), is not redirected again.
    const markers = [LOOP_HEADER.toLowerCase(), 'delivered-to'];
    const to = envelope.to.toLowerCase();
    const seen = message.analysis.headers.some(([name, value]) => markers.includes(name.toLowerCase()) && value.trim().toLowerCase() === to);
    if (seen) {
      this.log.warn({ user: recipient.account.name, to: address }, 'sieve redirect: the message was redirected here before, not again');
      return;
    }
    await this.outgoing?.send(recipient.account.id, envelope.from, address, redirectMessage(bytes, envelope.to, header, message.analysis.root.bs));
    this.log.info({ user: recipient.account.name, to: address }, 'sieve redirect sent');
  }

  private async reply(a: VacationAction, message: StagedMessage, recipient: Recipient, envelope: DeliveryEnvelope, now: Date): Promise<void> {
    const field = (name: string): string | null => message.analysis.headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? null;
    const data = vacationMessage(a, envelope.to, { messageId: field('message-id'), references: field('references') }, this.config.hostname, now);
    // RFC 5230 §4.2: remembered first, so a relay failure does not turn into a reply per message.
    const seconds = Math.max(a.seconds, 1);
    await this.store.sieveMemoryPut(recipient.account.id, 'vacation', memoryKey(a.handle, a.to.toLowerCase()), new Date(now.getTime() + seconds * 1000), now);
    await this.outgoing?.send(recipient.account.id, '', a.to, data);
    this.log.info({ user: recipient.account.name, to: a.to }, 'sieve vacation reply sent');
  }
}
