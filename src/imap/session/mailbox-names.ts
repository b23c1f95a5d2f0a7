/**
 * Which mailbox a name means, per account, kept in the process so a SELECT
 * of a known name asks the store nothing: a mailbox's name changes only by
 * CREATE, DELETE or RENAME, and each of those raises the account channel of
 * the change bus (ACCOUNT_CHANNEL), locally at once and from other processes
 * and nodes when the bus is settled. Any such announcement forgets the
 * account's names.
 *
 * Only the identity is kept (id, stored name, MAILBOXID): counts, UIDNEXT and modseq
 * change with every message and come from the mailbox index or the store.
 *
 * Invariants: a name is answered from memory only after the bus was settled
 * and nothing was announced since it was read; a read that raced with an
 * announcement is not kept; accounts and names held are bounded.
 */
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import type { AccountId, MailboxId } from '../../ids.js';
import { canonicalName } from '../../store/shared/names.js';
import type { MailStore } from '../../store/types.js';

/** Accounts whose names are kept (least recently used dropped first). */
const MAX_ACCOUNTS = 256;
/** Names kept per account; beyond it the account's names start over. */
const MAX_NAMES = 1024;

/** A mailbox's identity: what its name resolves to. */
export interface MailboxRef {
  id: MailboxId;
  /** The stored (canonical) name. */
  name: string;
  /** The stored MAILBOXID (RFC 8474), fixed for the mailbox's life; null for older mailboxes. */
  objectId: string | null;
}

interface AccountNames {
  names: Map<string, MailboxRef>;
  /** Raised by every announcement on the account channel: a read from before it is stale. */
  generation: number;
  unsubscribe: () => void;
}

/** What a name resolves to now, and whether the bus was settled for that mailbox as well. */
export interface NameLookup {
  ref: MailboxRef;
  /** The bus was settled for `ref`'s mailbox during the lookup: a snapshot of it need not settle again. */
  settled: boolean;
}

/** Per-process name → mailbox cache. */
export class MailboxNameCache {
  private readonly accounts = new Map<AccountId, AccountNames>();

  constructor(private readonly store: MailStore) {}

  /** The mailbox a name means now, or null when there is none; settles the bus first when it can. */
  async lookup(accountId: AccountId, name: string): Promise<NameLookup | null> {
    const bus = this.store.bus;
    const settle = bus.settle;
    // Without settle() nothing announces other processes' renames: always ask the store.
    if (!settle) {
      const ref = await this.read(accountId, name);
      return ref && { ref, settled: false };
    }
    const account = this.account(accountId);
    const key = canonicalName(name);
    // One settle covers every mailbox (SQLite), or one turn's settles share a query (PostgreSQL):
    // the mailbox the name meant last time is settled with the name, and counts if it still means it.
    const guess = bus.settlesAll ? undefined : account.names.get(key);
    await Promise.all([settle.call(bus, accountId, ACCOUNT_CHANNEL), guess && settle.call(bus, accountId, guess.id)]);
    const known = account.names.get(key);
    if (known) return { ref: known, settled: bus.settlesAll === true || known.id === guess?.id };
    const generation = account.generation;
    const ref = await this.read(accountId, name);
    if (ref && account.generation === generation && this.accounts.get(accountId) === account) {
      if (account.names.size >= MAX_NAMES) account.names.clear();
      account.names.set(key, ref);
    }
    return ref && { ref, settled: bus.settlesAll === true };
  }

  private async read(accountId: AccountId, name: string): Promise<MailboxRef | null> {
    const mb = await this.store.getMailbox(accountId, name);
    return mb ? { id: mb.id, name: mb.name, objectId: mb.objectId } : null;
  }

  /** The account's entry, subscribed to its channel; most recently used last. */
  private account(accountId: AccountId): AccountNames {
    let account = this.accounts.get(accountId);
    if (account) {
      this.accounts.delete(accountId);
    } else {
      const fresh: AccountNames = { names: new Map(), generation: 0, unsubscribe: () => undefined };
      fresh.unsubscribe = this.store.bus.subscribe(accountId, ACCOUNT_CHANNEL, () => {
        fresh.generation++;
        fresh.names.clear();
      });
      account = fresh;
      while (this.accounts.size >= MAX_ACCOUNTS) {
        const [oldest, entry] = this.accounts.entries().next().value!;
        entry.unsubscribe();
        this.accounts.delete(oldest);
      }
    }
    this.accounts.set(accountId, account);
    return account;
  }
}
