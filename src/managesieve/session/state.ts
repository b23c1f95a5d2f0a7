/**
 * The typed session state (DESIGN "Typed session state"), RFC 5804 §1.4's
 * two states plus the end: only an authenticated session has an account.
 */
import type { Account } from '../../store/types.js';

/** Where a ManageSieve session is. */
export type SieveSessionState = { kind: 'nonauth' } | { kind: 'auth'; account: Account } | { kind: 'logout' };

/** A state's name, as command specs list the states they run in. */
export type SieveStateName = SieveSessionState['kind'];
