/**
 * The SCRAM key role of the store (ScramKeyStore): per account and hash
 * function, the salt, iteration count, StoredKey and ServerKey of RFC 5802 §3
 * (auth/scram-keys.ts derives them, auth/scram.ts checks proofs with them).
 *
 * Invariant: keys belong to the password hash they were derived beside. A
 * row whose password hash is no longer the account's is never returned, so a
 * password change (by any path, process or node) retires the old keys at once,
 * and keys derived from an old password cannot land after a change.
 */
import type { AccountId } from '../ids.js';

/** The hash functions SCRAM runs with here: SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677). */
export type ScramHash = 'SHA-1' | 'SHA-256';

/** One account's SCRAM keys for one hash function (RFC 5802 §3). */
export interface ScramCredential {
  hash: ScramHash;
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** Where SCRAM keys live. */
export interface ScramKeyStore {
  /** The account's keys for `hash`, when they were derived from its current password; null otherwise. */
  scramCredential(id: AccountId, hash: ScramHash): Promise<ScramCredential | null>;
  /** Stores keys derived from the password whose stored hash is `passwordHash`; does nothing when the account's hash is another by now (or the list is empty). */
  setScramCredentials(id: AccountId, passwordHash: string, credentials: readonly ScramCredential[]): Promise<void>;
}
