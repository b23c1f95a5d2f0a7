/**
 * `mailkeep migrate`: copies a whole account from another IMAP server (like
 * imapsync): every selectable mailbox, with flags and INTERNALDATEs.
 *
 * Resumable and incremental. Per target mailbox and source mailbox the store
 * keeps a sync state (source UIDVALIDITY, last UID copied, source
 * HIGHESTMODSEQ); each message is stored with the source key
 * `imap:<source id>:<uidvalidity>:<uid>` in the transaction that stores it.
 * A later run copies only UIDs above the last one and brings flags of copied
 * messages up to date — with CONDSTORE (RFC 7162 §3.1.4 CHANGEDSINCE) only
 * those changed since the last run, otherwise all. Messages expunged on the
 * source are left alone in mailkeep. When the source's UIDVALIDITY changed,
 * its messages are copied again (they cannot be matched any more).
 * A target mailbox that never held a message takes the source's UIDVALIDITY
 * and UIDs (store adoptUidValidity), so clients' caches stay valid.
 *
 * Mailboxes map by name ('/' as separator); a source mailbox with a
 * special-use attribute (RFC 6154) whose name does not exist here goes to the
 * local mailbox with that attribute (Sent Items → Sent).
 */
import { createHash } from 'node:crypto';
import { ImapFlow, type FetchMessageObject, type ListResponse } from 'imapflow';
import type { AccountId, Uid } from '../../ids.js';
import type { MailStore, Mailbox } from '../../store/types.js';
import { cleanFlags, sameFlags } from '../import/flag-codes.js';
import { ensureMailbox } from '../import/mailbox-names.js';
import { canonicalName, SEPARATOR } from '../mailbox-name.js';
import { MailboxImporter, type ImportLimits } from '../import/mailbox-importer.js';
import { emptySummary, type IncomingMessage, type TransferSummary } from '../import/types.js';

/** Options of migrateAccount. */
export interface MigrateOptions extends ImportLimits {
  /** `imap://user@host[:port]` (STARTTLS when offered) or `imaps://user@host[:port]` (TLS). */
  url: string;
  password: string;
  /** Accept the source's TLS certificate without verifying it. */
  insecure: boolean;
}

/** Where a migration reads from. */
export interface SourceAddress {
  secure: boolean;
  host: string;
  port: number;
  user: string;
  /** Names the source in sync states and source keys: `imaps://user@host:port`. */
  id: string;
}

/** What the store keeps per target mailbox and source mailbox. */
interface SyncState {
  uidValidity: number;
  lastUid: number;
  /** HIGHESTMODSEQ as of the last completed run (decimal: modseqs may exceed 2^53). */
  modseq: string | null;
}

/** One source mailbox and where its messages go. */
interface Pairing {
  source: ListResponse;
  target: Mailbox;
  stateKey: string;
  /** New UIDs (above the last copied) with their sizes, found by the planning pass. */
  pending: Array<{ uid: number; size: number }>;
}

/** Messages per FETCH of full bodies, and their byte bound. */
const FETCH_BATCH = 200;
const FETCH_BYTES = 32 * 1024 * 1024;
/** Flag comparisons per store round trip (the store's batch bound is 1000). */
const FLAG_BATCH = 500;

/** Parses and checks a source URL. */
export function parseSourceUrl(url: string): SourceAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a URL: ${url} (expected imaps://user@host:993)`);
  }
  if (u.protocol !== 'imap:' && u.protocol !== 'imaps:') throw new Error(`unsupported scheme ${u.protocol} (expected imap: or imaps:)`);
  if (u.username === '' || u.hostname === '') throw new Error('the URL must name a user and a host: imaps://user@host:993');
  if (u.password !== '') throw new Error('do not put the password in the URL: it would show in the process list');
  const secure = u.protocol === 'imaps:';
  const port = u.port === '' ? (secure ? 993 : 143) : Number(u.port);
  const user = decodeURIComponent(u.username);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { secure, host, port, user, id: `${u.protocol}//${encodeURIComponent(user)}@${u.host.includes(':') ? u.host : `${u.host}:${port}`}` };
}

/** A compact, stable name for a source mailbox inside source keys (keys are bounded). */
function sourceTag(sourceId: string, path: string): string {
  return createHash('sha256').update(`${sourceId}\0${path}`).digest('hex').slice(0, 16);
}

function parseState(text: string | null): SyncState | null {
  if (text === null) return null;
  const s = JSON.parse(text) as Partial<SyncState>;
  return typeof s.uidValidity === 'number' && typeof s.lastUid === 'number'
    ? { uidValidity: s.uidValidity, lastUid: s.lastUid, modseq: s.modseq ?? null }
    : null;
}

/** Groups UIDs into batches of at most FETCH_BATCH messages and FETCH_BYTES bytes. */
function fetchBatches(pending: ReadonlyArray<{ uid: number; size: number }>): Array<Array<{ uid: number; size: number }>> {
  const out: Array<Array<{ uid: number; size: number }>> = [];
  let cur: Array<{ uid: number; size: number }> = [];
  let bytes = 0;
  for (const p of pending) {
    if (cur.length > 0 && (cur.length >= FETCH_BATCH || bytes + p.size > FETCH_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(p);
    bytes += p.size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Copies an account from another IMAP server (see the module comment). */
export async function migrateAccount(store: MailStore, accountId: AccountId, opts: MigrateOptions): Promise<TransferSummary> {
  const src = parseSourceUrl(opts.url);
  const client = new ImapFlow({
    host: src.host,
    port: src.port,
    secure: src.secure,
    auth: { user: src.user, pass: opts.password },
    logger: false,
    disableAutoIdle: true,
    tls: { rejectUnauthorized: !opts.insecure },
  });
  // Connection-level errors also surface as rejected commands; the listener keeps them from crashing the process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await new Migration(store, accountId, client, src, opts).run();
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** One run of a migration over an open connection. */
class Migration {
  private readonly summary = emptySummary();

  constructor(
    private readonly store: MailStore,
    private readonly accountId: AccountId,
    private readonly client: ImapFlow,
    private readonly src: SourceAddress,
    private readonly opts: MigrateOptions,
  ) {}

  async run(): Promise<TransferSummary> {
    const pairings = await this.pair();
    // Planning pass: what is new everywhere, so progress can show totals and an ETA.
    for (const p of pairings) p.pending = await this.newMessages(p);
    this.opts.progress.begin({
      messages: pairings.reduce((s, p) => s + p.pending.length, 0),
      bytes: pairings.reduce((s, p) => s + p.pending.reduce((t, m) => t + m.size, 0), 0),
    });
    for (const p of pairings) {
      if (this.opts.signal?.aborted) break;
      this.summary.mailboxes++;
      await this.syncMailbox(p);
    }
    this.summary.interrupted = this.opts.signal?.aborted === true;
    return this.summary;
  }

  /** Lists the source's selectable mailboxes and finds or creates their targets. */
  private async pair(): Promise<Pairing[]> {
    const local = await this.store.listMailboxes(this.accountId);
    const out: Pairing[] = [];
    for (const source of await this.client.list()) {
      if (source.flags.has('\\Noselect') || source.flags.has('\\NonExistent')) continue;
      const name = canonicalName([...source.parent, source.name].join(SEPARATOR));
      const bySpecialUse = source.specialUse && name !== 'INBOX' ? local.find((m) => m.specialUse === source.specialUse) : undefined;
      let target = local.find((m) => m.name === name) ?? bySpecialUse;
      target ??= await ensureMailbox(this.store, this.accountId, name, source.specialUse ?? null);
      if (source.subscribed) await this.store.setSubscribed(this.accountId, target.name, true);
      out.push({ source, target, stateKey: `${this.src.id}/${source.path}`, pending: [] });
    }
    return out;
  }

  private async loadState(p: Pairing, uidValidity: number): Promise<SyncState> {
    const state = parseState(await this.store.getSyncState(this.accountId, p.target.id, p.stateKey));
    if (state && state.uidValidity !== uidValidity) {
      this.opts.warn(`${p.source.path}: the source's UIDVALIDITY changed; copying its messages again`);
    }
    return state && state.uidValidity === uidValidity ? state : { uidValidity, lastUid: 0, modseq: null };
  }

  /** UIDs above the last copied one, with RFC822.SIZE. */
  private async newMessages(p: Pairing): Promise<Array<{ uid: number; size: number }>> {
    const mb = await this.client.mailboxOpen(p.source.path, { readOnly: true });
    if (mb.exists === 0) return [];
    const state = await this.loadState(p, Number(mb.uidValidity));
    // RFC 9051 §6.4.9 / §9: "n:*" also matches the highest UID when it is below n, hence the filter.
    const found = await this.client.fetchAll(`${state.lastUid + 1}:*`, { uid: true, size: true }, { uid: true });
    return found
      .filter((m) => m.uid > state.lastUid)
      .map((m) => ({ uid: m.uid, size: m.size ?? 0 }))
      .sort((a, b) => a.uid - b.uid);
  }

  private async syncMailbox(p: Pairing): Promise<void> {
    const mb = await this.client.mailboxOpen(p.source.path, { readOnly: true });
    const uidValidity = Number(mb.uidValidity);
    const state = await this.loadState(p, uidValidity);
    const condstore = mb.highestModseq !== undefined && !mb.noModseq;
    const tag = sourceTag(this.src.id, p.source.path);
    const key = (uid: number): string => `imap:${tag}:${uidValidity}:${uid}`;
    const save = (): Promise<void> => this.store.setSyncState(this.accountId, p.target.id, p.stateKey, JSON.stringify(state));

    if (state.lastUid > 0 && mb.exists > 0) await this.syncFlags(p, state, key, condstore);
    const keepUids = await this.store.adoptUidValidity(this.accountId, p.target.id, uidValidity);
    const importer = new MailboxImporter(this.store, this.accountId, p.target, this.opts, this.summary);
    for (const batch of fetchBatches(p.pending)) {
      if (this.opts.signal?.aborted) return; // the sync state says how far we got
      const fits = batch.filter((m) => m.size <= this.opts.maxMessageSize);
      for (const m of batch.filter((x) => x.size > this.opts.maxMessageSize)) {
        this.summary.rejected++;
        this.opts.warn(`${p.source.path}: left out UID ${m.uid}: larger than the limit of ${this.opts.maxMessageSize} bytes`);
        this.opts.progress.advance(1, m.size);
      }
      const fetched =
        fits.length === 0
          ? []
          : await this.client.fetchAll(fits.map((m) => m.uid).join(','), { uid: true, flags: true, internalDate: true, source: true }, { uid: true });
      const items = fetched.filter((m) => m.source !== undefined).map((m) => this.incoming(p, m, key(m.uid), keepUids));
      await importer.addBatch(items);
      // Expunged on the source since planning: nothing to copy, but done.
      const gone = fits.length - items.length;
      if (gone > 0) this.opts.progress.advance(gone, 0);
      state.lastUid = Math.max(state.lastUid, batch[batch.length - 1]!.uid);
      await save();
    }
    // Only a completed run moves the modseq mark: an interrupted one re-checks flags next time.
    state.modseq = condstore ? String(mb.highestModseq) : null;
    await save();
  }

  private incoming(p: Pairing, m: FetchMessageObject, sourceKey: string, keepUids: boolean): IncomingMessage {
    const { flags, dropped } = cleanFlags(m.flags ?? []);
    if (dropped.length > 0) this.opts.warn(`${p.source.path}: UID ${m.uid}: flags not kept: ${dropped.join(' ')}`);
    const date = m.internalDate === undefined ? null : new Date(m.internalDate);
    return {
      sourceKey,
      bytes: m.source!,
      size: m.size ?? m.source!.length,
      flags,
      internalDate: date !== null && !Number.isNaN(date.getTime()) ? date : null,
      ...(keepUids ? { uid: m.uid } : {}),
    };
  }

  /** Brings the flags of copied messages up to date: those changed since the last run (CONDSTORE), or all. */
  private async syncFlags(p: Pairing, state: SyncState, key: (uid: number) => string, condstore: boolean): Promise<void> {
    const since = condstore && state.modseq !== null ? { changedSince: BigInt(state.modseq) } : {};
    const changed = await this.client.fetchAll(`1:${state.lastUid}`, { uid: true, flags: true }, { uid: true, ...since });
    for (let i = 0; i < changed.length; i += FLAG_BATCH) {
      const slice = changed.slice(i, i + FLAG_BATCH);
      const local = await this.store.findImported(
        this.accountId,
        p.target.id,
        slice.map((m) => key(m.uid)),
      );
      const records = new Map((await this.store.getRecords(this.accountId, p.target.id, [...local.values()])).map((r) => [r.uid, r]));
      // One STORE per distinct flag set.
      const updates = new Map<string, { flags: string[]; uids: Uid[] }>();
      for (const m of slice) {
        const uid = local.get(key(m.uid));
        const record = uid === undefined ? undefined : records.get(uid);
        if (uid === undefined || record === undefined) continue; // not copied here, or expunged here
        const flags = cleanFlags(m.flags ?? []).flags;
        if (sameFlags(flags, record.flags)) continue;
        const k = flags
          .map((f) => f.toLowerCase())
          .sort()
          .join(' ');
        const u = updates.get(k) ?? { flags, uids: [] };
        u.uids.push(uid);
        updates.set(k, u);
      }
      for (const u of updates.values()) {
        const res = await this.store.storeFlags(this.accountId, p.target.id, u.uids, { op: 'set', flags: u.flags });
        this.summary.flagsUpdated += res.changed.length;
      }
    }
  }
}
