/**
 * What commands may ask of the session's NOTIFY state (RFC 5465): set or
 * clear the request, and name the changes the client made itself, which are
 * not reported back to it (§5). The session exposes only this, so commands
 * and the session interface need nothing of the notifier's implementation.
 */
import type { AccountId, MailboxId } from '../../ids.js';
import type { FetchItem } from '../fetch-items.js';
import type { NotifyRequest } from './spec.js';

/**
 * Sends the FETCH responses (UID form) of MessageNew for new messages of the
 * selected mailbox (§5.2). The NOTIFY command supplies it, so the notifier
 * needs no command module.
 */
export type FetchNew = (uidRanges: Array<[number, number]>, items: readonly FetchItem[]) => Promise<void>;

/** The notifier as commands see it. */
export interface NotifyControl {
  /** NOTIFY SET (§3.1); `fetchNew` sends MessageNew's FETCH responses (§5.2). */
  set(accountId: AccountId, request: NotifyRequest, fetchNew: FetchNew): Promise<void>;
  /** NOTIFY NONE (§3.1). */
  clear(): void;
  /** One commit of this client's to a mailbox, adding `added` to it. */
  ownCommit(mailboxId: MailboxId, added?: readonly number[]): void;
  /** Names this client's namespace command changed. */
  ownNames(...names: string[]): void;
  /** Metadata entries this client set on a mailbox (null: on the server). */
  ownEntries(mailboxId: MailboxId | null, names: readonly string[]): void;
}
