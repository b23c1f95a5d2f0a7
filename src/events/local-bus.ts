/**
 * In-process change bus: wake-ups keyed by (account, mailbox).
 *
 * Invariants: a listener map entry exists only while it has listeners (no
 * leaks from subscribe/unsubscribe churn); unsubscribing twice is harmless;
 * one throwing listener never stops the others from being woken.
 */
import type { AccountId, MailboxId, ModSeq } from '../ids.js';
import type { ChangeBus } from './change-bus.js';

/** A mailbox that currently has at least one subscriber. */
export interface WatchedMailbox {
  accountId: AccountId;
  mailboxId: MailboxId;
}

/** Optional callbacks that let a cross-process poller track which mailboxes are watched. */
export interface LocalBusHooks {
  /** Called when a mailbox gets its first listener. */
  onWatch?: (accountId: AccountId, mailboxId: MailboxId) => void;
  /** Called when a mailbox loses its last listener. */
  onUnwatch?: (accountId: AccountId, mailboxId: MailboxId) => void;
  /** Receives errors thrown by listeners (default: a process warning). */
  onListenerError?: (err: unknown) => void;
}

type Listener = (modseq: ModSeq) => void;

interface Entry extends WatchedMailbox {
  listeners: Set<Listener>;
}

/** The key a (account, mailbox) pair is filed under. */
export function mailboxKey(accountId: AccountId, mailboxId: MailboxId): string {
  return `${accountId}:${mailboxId}`;
}

function warn(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'ChangeBusListenerError');
}

/** A ChangeBus that delivers wake-ups synchronously to listeners in this process. */
export class LocalChangeBus implements ChangeBus {
  private readonly entries = new Map<string, Entry>();
  private hooks: LocalBusHooks;
  /** Announces changes committed by other processes (the modseq poller); none when this process is the only writer. */
  private settler: (() => void) | null = null;

  constructor(hooks: LocalBusHooks = {}) {
    this.hooks = hooks;
  }

  /** Replaces the hooks (a store installs its poller after constructing the bus). */
  setHooks(hooks: LocalBusHooks): void {
    this.hooks = hooks;
  }

  /** Lets a cross-process poller make settle() announce other processes' commits too. */
  setSettler(settler: () => void): void {
    this.settler = settler;
  }

  /**
   * Local commits are published synchronously, so only other processes'
   * commits can be unannounced: the settler (one cheap `data_version` read on
   * SQLite) publishes those before this returns.
   */
  settle(): void {
    this.settler?.();
  }

  /** The settler polls every watched mailbox at once. */
  readonly settlesAll = true;

  publish(accountId: AccountId, mailboxId: MailboxId, modseq: ModSeq): void {
    const entry = this.entries.get(mailboxKey(accountId, mailboxId));
    if (!entry) return;
    // Copy first: a listener may unsubscribe (itself or others) while we iterate.
    for (const listener of [...entry.listeners]) {
      try {
        listener(modseq);
      } catch (err) {
        (this.hooks.onListenerError ?? warn)(err);
      }
    }
  }

  subscribe(accountId: AccountId, mailboxId: MailboxId, listener: Listener): () => void {
    const key = mailboxKey(accountId, mailboxId);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { accountId, mailboxId, listeners: new Set() };
      this.entries.set(key, entry);
      this.hooks.onWatch?.(accountId, mailboxId);
    }
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const own: Listener = (m) => listener(m);
    entry.listeners.add(own);
    const current = entry;
    return () => {
      if (!current.listeners.delete(own)) return;
      if (current.listeners.size === 0 && this.entries.get(key) === current) {
        this.entries.delete(key);
        this.hooks.onUnwatch?.(accountId, mailboxId);
      }
    };
  }

  /** Mailboxes that currently have listeners. */
  watched(): WatchedMailbox[] {
    return [...this.entries.values()].map(({ accountId, mailboxId }) => ({ accountId, mailboxId }));
  }

  /** Number of listeners on one mailbox (0 when none). */
  listenerCount(accountId: AccountId, mailboxId: MailboxId): number {
    return this.entries.get(mailboxKey(accountId, mailboxId))?.listeners.size ?? 0;
  }
}
