/**
 * The mailboxes every new account gets, and the checks both backends apply
 * to their open options.
 */
import { canonicalName, INBOX } from './names.js';

/** A mailbox every new account gets besides INBOX. */
export interface DefaultMailbox {
  name: string;
  /** RFC 6154 attribute, e.g. '\\Sent'. */
  specialUse: string | null;
}

/** The special-use mailboxes created with every account (RFC 6154 §2). */
export const DEFAULT_MAILBOXES: readonly DefaultMailbox[] = [
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

/** Rejects store options no backend can honour: repeated or INBOX default mailboxes, a bad retention. */
export function checkStoreOptions(opts: { defaultMailboxes?: readonly DefaultMailbox[]; expungedRetentionMs?: number }): void {
  const names = (opts.defaultMailboxes ?? []).map((d) => canonicalName(d.name));
  if (names.includes(INBOX) || new Set(names).size !== names.length) {
    throw new Error('defaultMailboxes must not repeat a name or include INBOX');
  }
  const retention = opts.expungedRetentionMs;
  if (retention !== undefined && !(Number.isSafeInteger(retention) && retention >= 0)) {
    throw new Error('expungedRetentionMs must be a non-negative integer');
  }
}
