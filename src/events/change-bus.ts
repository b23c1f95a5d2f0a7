/**
 * The change bus: how sessions, processes and nodes wake each other after a
 * commit. It carries (account, mailbox, modseq) only, never data; whoever
 * wakes reads the store (DESIGN "the one idea").
 */
import type { AccountId, MailboxId, ModSeq } from '../ids.js';

/**
 * The reserved mailbox id of an account's own channel (no mailbox has id 0):
 * its "modseq" is a per-account counter that every namespace change raises
 * (create, delete, rename, (un)subscribe, server metadata) and that is
 * published like a mailbox's, so NOTIFY (RFC 5465 §5.4-§5.7) hears of them
 * across processes and nodes.
 */
export const ACCOUNT_CHANNEL = 0 as MailboxId;

/** One committed change: (account, mailbox, modseq). */
export interface ChangeNote {
  accountId: AccountId;
  mailboxId: MailboxId;
  modseq: number;
}

/** Wake-ups between sessions, processes and nodes: (account, mailbox, modseq), never data. */
export interface ChangeBus {
  publish(accountId: AccountId, mailboxId: MailboxId, modseq: ModSeq): void;
  /** Calls listener for every change to the mailbox; returns the unsubscribe function. */
  subscribe(accountId: AccountId, mailboxId: MailboxId, listener: (modseq: ModSeq) => void): () => void;
  /**
   * Publishes every change to the mailbox committed (by any process or node) before the call,
   * so a subscriber that heard nothing more is current (the shared mailbox index). Absent:
   * subscribers cannot know, and must ask the store.
   */
  settle?(accountId: AccountId, mailboxId: MailboxId): void | Promise<void>;
  /**
   * True when one settle() publishes every mailbox's changes, whichever it names (SQLite: one
   * process-wide counter), so a command that settled once need not settle again for another mailbox.
   */
  readonly settlesAll?: boolean;
}
