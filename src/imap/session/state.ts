/**
 * Typed session state (RFC 9051 §3). Only the selected state carries a mailbox
 * view, so "no mailbox selected" is a type error rather than a runtime surprise.
 */
import type { Account } from '../../store/types.js';
import type { MailboxView } from './mailbox-view.js';

/** The states a command may be allowed in. */
export type StateName = 'not-authenticated' | 'authenticated' | 'selected';

/**
 * Which untagged updates may follow the command (RFC 9051 §7.4.1: no EXPUNGE
 * during FETCH, STORE or SEARCH by sequence number).
 */
export type SyncMode = 'full' | 'no-expunge' | 'none';

/** The connection's protocol state. */
export type SessionState =
  | { kind: 'not-authenticated' }
  | { kind: 'authenticated'; account: Account }
  | { kind: 'selected'; account: Account; view: MailboxView; readOnly: boolean }
  | { kind: 'logout' };
