/**
 * A session's NOTIFY state (RFC 5465): which mailboxes it watches, the
 * change-bus subscriptions behind them, what is owed to the client, and the
 * delivery of it as STATUS, LIST, METADATA and (for the selected mailbox)
 * EXISTS/EXPUNGE/FETCH responses.
 *
 * Wake-ups carry only (account, mailbox, modseq) (DESIGN "the one idea"):
 * a wake marks a mailbox dirty; delivery reads the store and compares with
 * what the client was last told. Delivery happens
 * - between commands, at once (§3: a NOTIFY client listens all the time),
 * - while idling, through the IDLE wake-up (§4),
 * - at the end of every command (the connection's sync step).
 *
 * The client's own changes are not reported back to it (§5 SHOULD): commands
 * tell the notifier what they committed (ownCommit, ownNames, ownEntries),
 * and the next delivery leaves exactly those out: a mailbox whose modseq
 * moved only by the client's own commits gets no STATUS, LIST and METADATA
 * skip the names and entries it changed, and MessageNew sends no FETCH for
 * the UIDs it added (§5.2).
 *
 * Invariants: the dirty set is bounded by notifyMaxPending (beyond it the
 * session gets OK [NOTIFICATIONOVERFLOW] and behaves as after NOTIFY NONE,
 * §5.8); the watched set is bounded by notifyMaxMailboxes; one delivery runs
 * at a time; every bus subscription is dropped on NOTIFY NONE, overflow and
 * close.
 */
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import type { AccountId, MailboxId } from '../../ids.js';
import { StoreError } from '../../store/types.js';
import { condstore } from '../condstore.js';
import { ImapError } from '../errors.js';
import { listLine, mailboxWire, oldNameItem, statusLine } from '../responses.js';
import type { MailboxView } from '../session/mailbox-view.js';
import type { ImapSession } from '../session/session.js';
import type { SyncMode } from '../session/state.js';
import { encodeAString } from '../../syntax/imap-string.js';
import { ancestors } from '../../mail/mailbox-name.js';
import { diffNamespaces, listAttributes, loadNamespace, type Namespace } from './namespace.js';
import type { FetchNew, NotifyControl } from './control.js';
import type { EventName, MailboxFilter, NotifyRequest } from './spec.js';

/** What the notifier needs from its connection besides the session. */
export interface NotifyHost extends ImapSession {
  /** No command is in progress and none is partly read: unsolicited responses may go out now. */
  readonly readyForCommand: boolean;
  /** IDLE's wake-up while idling, else null. */
  readonly idleWake: (() => void) | null;
}

/** The counts a STATUS notification reports (§5.1-§5.3). */
interface StatusValues {
  messages: number;
  uidNext: number;
  uidValidity: number;
  unseen: number;
  highestModSeq: number;
}

interface Watched {
  name: string;
  events: ReadonlySet<EventName>;
  /** What the client was last told (or what it was when watching began); null until first read. */
  status: StatusValues | null;
  /** Metadata entry names → value (hex), for MailboxMetadataChange; null when not wanted. */
  metadata: Map<string, string> | null;
  /** highestModSeq at the last read; null until first read. */
  modseq: number | null;
  /** Commits of this client's to the mailbox since the last read (each raises its modseq by one). */
  ownCommits: number;
  unsubscribe: () => void;
}

/** Metadata scopes whose entries (at any depth) a snapshot holds (RFC 5464 §3.2). */
const METADATA_ROOTS = ['/private', '/shared'];
/** Own names, UIDs and entries remembered until the next delivery; beyond it they are reported after all. */
const MAX_OWN = 1024;

/** A session's NOTIFY state and delivery. */
export class SessionNotifier implements NotifyControl {
  private request: NotifyRequest | null = null;
  private fetchNewMessages: FetchNew | null = null;
  private accountId: AccountId | null = null;
  private namespace: Namespace | null = null;
  private serverMetadata: Map<string, string> | null = null;
  private readonly watched = new Map<MailboxId, Watched>();
  private readonly dirty = new Set<MailboxId>();
  private namespaceDirty = false;
  private overflowed = false;
  private unsubscribeAccount: (() => void) | null = null;
  private selectedSub: { mailboxId: MailboxId; unsubscribe: () => void } | null = null;
  /** The selected view and its highest UID when MessageNew fetch-atts were last sent (§5.2). */
  private fetchBase: { view: MailboxView; maxUid: number } | null = null;
  /** The delivery started between commands (the connection waits for it before the next command). */
  private running: Promise<void> = Promise.resolve();
  /** A between-commands delivery is queued and not started: further wake-ups join it. */
  private queued = false;
  /** The delivery in progress: deliveries run one at a time. */
  private delivering: Promise<void> = Promise.resolve();
  /** Names this client's CREATE, DELETE, RENAME and (UN)SUBSCRIBE touched, with their ancestors (§5). */
  private readonly ownNameSet = new Set<string>();
  /** UIDs this client added to the selected mailbox: no MessageNew FETCH for them (§5.2). */
  private readonly ownNew = new Set<number>();
  /** Metadata entries this client set, per mailbox (null: the server's). */
  private readonly ownEntrySet = new Map<MailboxId | null, Set<string>>();

  constructor(private readonly session: NotifyHost) {}

  /**
   * NOTIFY SET (§3.1): replaces the request, loads the namespace, subscribes,
   * and with `status` sends the initial STATUS responses. Refuses with
   * NO [NOTIFICATIONOVERFLOW] when more mailboxes match than allowed.
   */
  async set(accountId: AccountId, request: NotifyRequest, fetchNew: FetchNew): Promise<void> {
    this.stop();
    this.accountId = accountId;
    this.request = request;
    this.fetchNewMessages = fetchNew;
    // Subscribe first, so a change racing with the loads below is not missed.
    this.unsubscribeAccount = this.session.store.bus.subscribe(accountId, ACCOUNT_CHANNEL, () => this.wake(ACCOUNT_CHANNEL));
    this.namespace = await loadNamespace(this.session.store, accountId);
    if (this.wants('ServerMetadataChange')) this.serverMetadata = await this.metadataSnapshot(null);
    if (!this.updateWatched()) {
      this.stop();
      throw new ImapError('NO', 'NOTIFICATIONOVERFLOW', 'Too many mailboxes to watch');
    }
    const selected = this.selectedMailbox();
    for (const [id, w] of this.watched) {
      await this.refresh(id, w, request.status && id !== selected && hasMessageEvents(w.events) ? 'initial' : 'silent');
    }
    this.dirty.clear();
    this.namespaceDirty = false;
  }

  /** NOTIFY NONE (§3.1): nothing is reported any more. */
  clear(): void {
    this.stop();
  }

  /** The connection closed. */
  close(): void {
    this.stop();
  }

  /** One commit of this client's to a mailbox, adding `added` to it (APPEND, COPY, MOVE, REPLACE, SETMETADATA). */
  ownCommit(mailboxId: MailboxId, added: readonly number[] = []): void {
    if (!this.request) return;
    const w = this.watched.get(mailboxId);
    if (w) w.ownCommits++;
    if (mailboxId === this.selectedMailbox()) for (const uid of added) remember(this.ownNew, uid);
  }

  /** Names this client's namespace command changed (stored names): no LIST for them or their parents. */
  ownNames(...names: string[]): void {
    if (!this.request) return;
    for (const name of names) for (const n of [name, ...ancestors(name)]) remember(this.ownNameSet, n);
  }

  /** Metadata entries this client set on a mailbox (null: on the server): no METADATA for them. */
  ownEntries(mailboxId: MailboxId | null, names: readonly string[]): void {
    if (!this.request) return;
    let set = this.ownEntrySet.get(mailboxId);
    if (!set) this.ownEntrySet.set(mailboxId, (set = new Set()));
    for (const n of names) remember(set, n);
  }

  /** Resolves when no delivery is running (the connection waits for it before a command). */
  async settled(): Promise<void> {
    await this.running;
    await this.delivering;
  }

  /** No NOTIFY request and no overflow to announce: nothing to deliver (most sessions). */
  get quiet(): boolean {
    return !this.request && !this.overflowed;
  }

  /**
   * Sends what is owed (the connection's sync step calls this after the
   * selected mailbox was synced with `mode`): overflow, LIST, METADATA,
   * STATUS, and MessageNew's FETCH for the selected mailbox.
   */
  deliver(mode: SyncMode): Promise<void> {
    // Without NOTIFY (most sessions) nothing is owed: no promise chain per sync, e.g. per idler per change.
    if (this.quiet) return this.delivering;
    const run = this.delivering.then(() => this.deliverNow(mode));
    this.delivering = run.catch(() => undefined);
    return run;
  }

  private async deliverNow(mode: SyncMode): Promise<void> {
    if (this.overflowed) {
      this.overflowed = false;
      // §5.8: tell the client, then behave as after NOTIFY NONE (stop() already ran).
      this.session.untagged('OK [NOTIFICATIONOVERFLOW] Too many notifications pending, NOTIFY is now off');
      return;
    }
    if (!this.request || this.accountId === null) return;
    this.followSelected();
    if (this.namespaceDirty) {
      this.namespaceDirty = false;
      await this.namespaceChanged();
      if (!this.request) return;
    }
    const selected = this.selectedMailbox();
    for (const id of [...this.dirty]) {
      this.dirty.delete(id);
      const w = this.watched.get(id);
      // §3.1: message events of the selected mailbox are SELECTED's business.
      if (w) await this.refresh(id, w, id === selected ? 'silent' : 'changes');
    }
    await this.fetchNew(mode !== 'none');
    // Own changes are reported by the delivery that follows the command: what is left was never announced.
    this.ownNameSet.clear();
    this.ownEntrySet.clear();
  }

  // ---- wake-ups ----

  private wake(mailboxId: MailboxId): void {
    if (!this.request) return;
    if (mailboxId === ACCOUNT_CHANNEL) this.namespaceDirty = true;
    else if (mailboxId !== this.selectedSub?.mailboxId || this.watched.has(mailboxId)) this.dirty.add(mailboxId);
    const pending = this.dirty.size + (this.namespaceDirty ? 1 : 0);
    if (pending > this.session.config.imap.notifyMaxPending) {
      this.stop();
      this.overflowed = true;
    }
    this.requestDelivery();
  }

  /** Delivers now if the client is between commands, through IDLE if idling; else the next command's sync will. */
  private requestDelivery(): void {
    const idle = this.session.idleWake;
    if (idle) {
      idle();
      return;
    }
    if (!this.session.readyForCommand || this.queued) return;
    this.queued = true;
    const run = this.running.then(async () => {
      this.queued = false;
      // A command may have started meanwhile; its own sync step delivers then.
      if (!this.session.readyForCommand) return;
      const sel = this.request?.selected;
      // §6.1.2: SELECTED-DELAYED holds expunges back until a command allows them.
      const mode: SyncMode = !sel ? 'none' : sel.delayed ? 'no-expunge' : 'full';
      await this.session.sync(mode);
      await this.session.flush();
    });
    this.running = run.catch((err: unknown) => this.session.log.error({ err }, 'NOTIFY delivery failed'));
  }

  // ---- the selected mailbox (§6.1) ----

  private selectedMailbox(): MailboxId | null {
    const st = this.session.state;
    return st.kind === 'selected' ? st.view.mailboxId : null;
  }

  /** Keeps a bus subscription on the selected mailbox while SELECTED asks for its events. */
  private followSelected(): void {
    const id = this.request?.selected ? this.selectedMailbox() : null;
    if (this.selectedSub?.mailboxId === id) return;
    this.selectedSub?.unsubscribe();
    this.selectedSub = null;
    if (id !== null && this.accountId !== null) {
      this.selectedSub = { mailboxId: id, unsubscribe: this.session.store.bus.subscribe(this.accountId, id, () => this.wake(id)) };
    }
  }

  /**
   * §5.2: an unsolicited FETCH with the requested attributes for each new
   * message, after its EXISTS. Without `send` (a step that reports nothing of
   * the selected mailbox, as after SELECT) a newly selected view only gets
   * its baseline, so what arrives next is new to it.
   */
  private async fetchNew(send: boolean): Promise<void> {
    const items = this.request?.selected?.fetch;
    const st = this.session.state;
    const own = [...this.ownNew];
    this.ownNew.clear();
    if (!items || st.kind !== 'selected') {
      this.fetchBase = null;
      return;
    }
    const view = st.view;
    const base = this.fetchBase;
    if (!send) {
      if (base?.view !== view) this.fetchBase = { view, maxUid: view.maxUid };
      return;
    }
    this.fetchBase = { view, maxUid: view.maxUid };
    // A freshly selected mailbox (or a new request): messages so far are not new.
    if (!base || base.view !== view || view.maxUid <= base.maxUid) return;
    const ranges = withoutUids(base.maxUid + 1, view.maxUid, own);
    if (ranges.length === 0) return;
    await this.fetchNewMessages?.(ranges, items);
  }

  // ---- other mailboxes ----

  /** Recomputes the watched set from the namespace; false when it would exceed notifyMaxMailboxes. */
  private updateWatched(): boolean {
    const ns = this.namespace;
    const request = this.request;
    if (!ns || !request || this.accountId === null) return true;
    const wanted = new Map<MailboxId, { name: string; events: Set<EventName> }>();
    for (const mb of ns.byName.values()) {
      const events = new Set<EventName>();
      for (const g of request.groups) {
        if (!matches(g.filter, mb.name, ns)) continue;
        for (const e of g.events) if (e === 'MessageNew' || e === 'MessageExpunge' || e === 'FlagChange' || e === 'MailboxMetadataChange') events.add(e);
      }
      if (events.size > 0) wanted.set(mb.id, { name: mb.name, events });
    }
    if (wanted.size > this.session.config.imap.notifyMaxMailboxes) return false;
    for (const [id, w] of this.watched) {
      if (wanted.has(id)) continue;
      w.unsubscribe();
      this.watched.delete(id);
      this.dirty.delete(id);
    }
    const accountId = this.accountId;
    for (const [id, { name, events }] of wanted) {
      const w = this.watched.get(id);
      if (w) {
        const wantsMetadata = events.has('MailboxMetadataChange');
        this.watched.set(id, { ...w, name, events, metadata: wantsMetadata ? w.metadata : null });
        if (wantsMetadata && !w.metadata) this.dirty.add(id);
      } else {
        const unsubscribe = this.session.store.bus.subscribe(accountId, id, () => this.wake(id));
        this.watched.set(id, { name, events, status: null, metadata: null, modseq: null, ownCommits: 0, unsubscribe });
        // Newly watched: take its first snapshot silently at the next delivery.
        this.dirty.add(id);
      }
    }
    return true;
  }

  /**
   * Reads a watched mailbox and reports what its events ask for: 'initial'
   * sends its STATUS (NOTIFY SET STATUS), 'changes' what changed since the
   * last read, 'silent' only records (a baseline, or the selected mailbox).
   * A first read is a baseline.
   */
  private async refresh(id: MailboxId, w: Watched, report: 'initial' | 'changes' | 'silent'): Promise<void> {
    const store = this.session.store;
    const accountId = this.accountId!;
    const ownCommits = w.ownCommits;
    w.ownCommits = 0;
    try {
      const mb = await store.getMailboxById(accountId, id);
      if (!mb) return;
      // §5: every change since the last read was this client's own: record it, report nothing.
      const onlyOwn = ownCommits > 0 && w.modseq !== null && mb.highestModSeq - w.modseq === ownCommits;
      w.modseq = mb.highestModSeq;
      if (onlyOwn && report === 'changes') report = 'silent';
      if (hasMessageEvents(w.events)) {
        const counts = await store.mailboxCounts(accountId, id);
        const now: StatusValues = {
          messages: counts.messages,
          uidNext: mb.uidNext,
          uidValidity: mb.uidValidity,
          unseen: counts.unseen,
          highestModSeq: mb.highestModSeq,
        };
        const before = w.status;
        w.status = now;
        // §3.1: the initial STATUS of a FlagChange mailbox carries HIGHESTMODSEQ (this server has CONDSTORE).
        if (report === 'initial') this.sendStatus(w.name, now, condstore(this.session) || w.events.has('FlagChange'));
        else if (report === 'changes' && before && this.statusChanged(w.events, before, now)) this.sendStatus(w.name, now, condstore(this.session));
      }
      if (w.events.has('MailboxMetadataChange')) {
        const now = await this.metadataSnapshot(id);
        const before = w.metadata;
        w.metadata = now;
        if (before && report !== 'silent') this.sendMetadata(w.name, before, now, this.ownEntrySet.get(id));
      }
    } catch (e) {
      // Deleted meanwhile: the namespace wake-up reports it.
      if (!(e instanceof StoreError && e.code === 'NONEXISTENT')) throw e;
    }
  }

  /** Whether a change is one the mailbox's events ask about (§5.1-§5.3). */
  private statusChanged(events: ReadonlySet<EventName>, a: StatusValues, b: StatusValues): boolean {
    if (a.messages !== b.messages || a.uidNext !== b.uidNext || a.uidValidity !== b.uidValidity) return true;
    // §5.1: flag changes show as UNSEEN, and with CONDSTORE as HIGHESTMODSEQ.
    if (!events.has('FlagChange')) return false;
    return a.unseen !== b.unseen || (condstore(this.session) && a.highestModSeq !== b.highestModSeq);
  }

  /** `* STATUS name (MESSAGES n UIDNEXT n UIDVALIDITY n UNSEEN n [HIGHESTMODSEQ n])` (§3.1, §5.1-§5.3). */
  private sendStatus(name: string, v: StatusValues, withModSeq: boolean): void {
    const modseq = withModSeq ? ` HIGHESTMODSEQ ${v.highestModSeq}` : '';
    const items = `MESSAGES ${v.messages} UIDNEXT ${v.uidNext} UIDVALIDITY ${v.uidValidity} UNSEEN ${v.unseen}${modseq}`;
    this.session.untagged(statusLine(this.session, name, items));
  }

  // ---- namespace and metadata (§5.4-§5.7) ----

  private async namespaceChanged(): Promise<void> {
    const before = this.namespace!;
    const after = await loadNamespace(this.session.store, this.accountId!);
    this.namespace = after;
    for (const change of diffNamespaces(before, after)) {
      // §5: the client's own CREATE, DELETE, RENAME or (UN)SUBSCRIBE.
      if (this.ownNameSet.has(change.name) && (change.oldName === undefined || this.ownNameSet.has(change.oldName))) continue;
      const covered = (name: string, ns: Namespace): boolean => this.request!.groups.some((g) => g.events.has(change.event) && matches(g.filter, name, ns));
      const relevant = covered(change.name, after) || covered(change.oldName ?? change.name, before);
      if (!relevant) continue;
      const extended = change.oldName === undefined ? '' : oldNameItem(this.session, change.oldName);
      listLine(this.session, 'LIST', listAttributes(after, change.name), change.name, extended);
    }
    if (this.serverMetadata) {
      const now = await this.metadataSnapshot(null);
      this.sendMetadata(null, this.serverMetadata, now, this.ownEntrySet.get(null));
      this.serverMetadata = now;
    }
    if (!this.updateWatched()) {
      this.stop();
      this.overflowed = true;
      await this.deliverNow('none');
    }
  }

  /** Entry names → hex values of a mailbox (or with null, the server); bounded by METADATA's per-owner entry limit. */
  private async metadataSnapshot(mailboxId: MailboxId | null): Promise<Map<string, string>> {
    const entries = await this.session.store.getMetadata(this.accountId!, mailboxId, METADATA_ROOTS, 'infinity');
    return new Map(entries.map((e) => [e.name, e.value.toString('hex')]));
  }

  /** `* METADATA mailbox entry ...` naming changed and removed entries (§5.6, §5.7; RFC 5464 §4.4.2). */
  private sendMetadata(mailbox: string | null, before: Map<string, string>, after: Map<string, string>, own?: ReadonlySet<string>): void {
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((n) => before.get(n) !== after.get(n) && !own?.has(n)).sort();
    if (changed.length === 0) return;
    const name = mailbox === null ? encodeAString('', this.session.encodeMode) : mailboxWire(this.session, mailbox);
    const entries = changed.map((n) => encodeAString(n, this.session.encodeMode));
    this.session.untagged(Buffer.concat([Buffer.from('METADATA '), name, ...entries.flatMap((e) => [Buffer.from(' '), e])]));
  }

  private wants(event: EventName): boolean {
    return !!this.request?.groups.some((g) => g.events.has(event));
  }

  /** Drops the request and every subscription (NOTIFY NONE, overflow, close). */
  private stop(): void {
    this.request = null;
    this.fetchNewMessages = null;
    this.unsubscribeAccount?.();
    this.unsubscribeAccount = null;
    this.selectedSub?.unsubscribe();
    this.selectedSub = null;
    for (const w of this.watched.values()) w.unsubscribe();
    this.watched.clear();
    this.dirty.clear();
    this.namespaceDirty = false;
    this.namespace = null;
    this.serverMetadata = null;
    this.fetchBase = null;
    this.ownNameSet.clear();
    this.ownNew.clear();
    this.ownEntrySet.clear();
  }
}

/** Adds to a set of own changes while it is under its bound. */
function remember<T>(set: Set<T>, value: T): void {
  if (set.size < MAX_OWN) set.add(value);
}

/** `[from, to]` as UID ranges without the given UIDs. */
function withoutUids(from: number, to: number, skip: readonly number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start = from;
  for (const uid of [...skip].sort((a, b) => a - b)) {
    if (uid < start || uid > to) continue;
    if (uid > start) ranges.push([start, uid - 1]);
    start = uid + 1;
  }
  if (start <= to) ranges.push([start, to]);
  return ranges;
}

function hasMessageEvents(events: ReadonlySet<EventName>): boolean {
  return events.has('MessageNew') || events.has('FlagChange');
}

/** Whether a filter covers a mailbox name (§6.2-§6.6). */
function matches(filter: MailboxFilter, name: string, ns: Namespace): boolean {
  switch (filter.kind) {
    case 'personal':
      return true;
    case 'subscribed':
      return ns.subscribed.has(name);
    case 'subtree':
      return filter.names.some((n) => name === n || name.startsWith(`${n}/`));
    case 'mailboxes':
      return filter.names.includes(name);
  }
}
