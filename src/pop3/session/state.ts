/**
 * The POP3 session states (RFC 1939 §3) as a discriminated union: only the
 * TRANSACTION state carries the account and its maildrop snapshot, so
 * "no maildrop yet" is a type error, not a runtime surprise.
 */
import type { Account } from '../../store/types.js';
import type { Maildrop } from './maildrop.js';

/** Where a session stands. */
export type Pop3State =
  /** Before login; `user` is the name given by USER, waiting for PASS. */
  | { kind: 'authorization'; user: string | null }
  | { kind: 'transaction'; account: Account; maildrop: Maildrop }
  /** After QUIT (or a fatal error): nothing more is read. */
  | { kind: 'update' };

/** A state's name, as command specs list them. */
export type Pop3StateName = Pop3State['kind'];
