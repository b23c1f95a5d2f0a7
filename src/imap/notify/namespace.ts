/**
 * An account's namespace as a NOTIFY session last saw it (mailbox names by
 * id, subscriptions), and what changed between two such snapshots, in the
 * terms of RFC 5465 §5.4 (MailboxName) and §5.5 (SubscriptionChange).
 *
 * Mailbox ids survive RENAME (the store renames rows in place), so a name
 * that moved to another id-preserving name is a rename; renaming INBOX
 * creates a new mailbox, which §5.4 asks to report as a creation.
 */
import type { MailboxId } from '../../ids.js';
import type { AccountId } from '../../ids.js';
import type { Mailbox, MailStore } from '../../store/types.js';
import { ancestors, SEPARATOR } from '../../mail/mailbox-name.js';

/** One load of an account's mailboxes and subscriptions. */
export interface Namespace {
  byName: ReadonlyMap<string, Mailbox>;
  subscribed: ReadonlySet<string>;
}

/** One LIST response owed to the client (§5.4, §5.5). */
export interface ListChange {
  name: string;
  /** Set for a rename: the extended data item OLDNAME (§5.4). */
  oldName?: string;
  /** Which event makes it reportable. */
  event: 'MailboxName' | 'SubscriptionChange';
}

/** Loads the current namespace of an account. */
export async function loadNamespace(store: MailStore, accountId: AccountId): Promise<Namespace> {
  const [mailboxes, subscriptions] = await Promise.all([store.listMailboxes(accountId), store.listSubscriptions(accountId)]);
  return { byName: new Map(mailboxes.map((m) => [m.name, m])), subscribed: new Set(subscriptions) };
}

function parentOf(name: string): string | null {
  const i = name.lastIndexOf(SEPARATOR);
  return i < 0 ? null : name.slice(0, i);
}

/**
 * The LIST responses that tell a client how `before` became `after`:
 * renames (top-most only: §5.4 sends nothing for renamed children),
 * created and deleted names with their direct parents, and subscription
 * changes that are not just subscriptions following a rename.
 */
export function diffNamespaces(before: Namespace, after: Namespace): ListChange[] {
  const oldById = new Map<MailboxId, string>();
  for (const mb of before.byName.values()) oldById.set(mb.id, mb.name);
  const newById = new Map<MailboxId, string>();
  for (const mb of after.byName.values()) newById.set(mb.id, mb.name);

  const renamedTo = new Map<string, string>();
  for (const [id, oldName] of oldById) {
    const newName = newById.get(id);
    if (newName !== undefined && newName !== oldName) renamedTo.set(oldName, newName);
  }
  const out: ListChange[] = [];
  const reported = new Set<string>();
  for (const [oldName, newName] of renamedTo) {
    const oldParent = parentOf(oldName);
    // A child that moved along with its renamed parent is covered by the parent's response.
    if (oldParent !== null && renamedTo.get(oldParent) === parentOf(newName)) continue;
    out.push({ name: newName, oldName, event: 'MailboxName' });
    reported.add(newName);
  }

  // §5.4: a created or deleted mailbox and its direct parent are affected.
  const affected = new Set<string>();
  const touch = (name: string): void => {
    affected.add(name);
    const parent = parentOf(name);
    if (parent !== null) affected.add(parent);
  };
  for (const [id, name] of newById) if (!oldById.has(id)) touch(name);
  for (const [id, name] of oldById) if (!newById.has(id)) touch(name);
  for (const name of [...affected].sort()) {
    if (!reported.has(name)) out.push({ name, event: 'MailboxName' });
  }

  // Subscriptions that follow a renamed mailbox are part of the rename (§5.4), not a SubscriptionChange.
  const followed = (oldName: string): string | undefined => {
    for (const candidate of [oldName, ...ancestors(oldName).reverse()]) {
      const to = renamedTo.get(candidate);
      if (to !== undefined) return to + oldName.slice(candidate.length);
    }
    return undefined;
  };
  const moved = new Set<string>();
  for (const name of before.subscribed) {
    const to = followed(name);
    if (to !== undefined && !after.subscribed.has(name) && after.subscribed.has(to)) {
      moved.add(name);
      moved.add(to);
    }
  }
  const changedSubs = [...before.subscribed, ...after.subscribed].filter(
    (name) => before.subscribed.has(name) !== after.subscribed.has(name) && !moved.has(name),
  );
  for (const name of [...new Set(changedSubs)].sort()) out.push({ name, event: 'SubscriptionChange' });
  return out;
}

/** LIST attributes of a name now (§5.4/§5.5: "all mailbox attributes MUST be accurately computed"). */
export function listAttributes(ns: Namespace, name: string): string[] {
  const mb = ns.byName.get(name);
  const attrs: string[] = [];
  if (!mb) attrs.push('\\NonExistent');
  const prefix = name + SEPARATOR;
  let children = false;
  for (const other of ns.byName.keys()) {
    if (other.startsWith(prefix)) {
      children = true;
      break;
    }
  }
  attrs.push(children ? '\\HasChildren' : '\\HasNoChildren');
  if (ns.subscribed.has(name)) attrs.push('\\Subscribed');
  if (mb?.specialUse) attrs.push(mb.specialUse);
  return attrs;
}
