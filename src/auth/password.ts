/**
 * Password hashing for storage and verification: argon2id by default
 * (auth/argon2-hash.ts), scrypt still verified and selectable
 * (auth/scrypt-hash.ts). A stored hash names its algorithm and parameters, so
 * verification reads them from the hash; `needsRehash` tells the login path
 * when a hash is of another algorithm or weaker than the configured one, and
 * it re-hashes after a successful login (scrypt → argon2id upgrades).
 *
 * Normalization: passwords are prepared with SASLprep (RFC 4013,
 * auth/saslprep.ts). A password being set is a stored string: SASLprep must
 * accept it (`storedPasswordProblem`). A password at login is a query:
 * unassigned code points are allowed, prohibited output fails like a wrong
 * password. A query failing only the bidi check (RFC 3454 §6) is still
 * compared: no stored string fails that check, so it can only match a hash
 * set before the check existed, which keeps verifying. ASCII passwords are
 * unchanged.
 *
 * Invariant: passwords and hashes are never logged and never appear in errors.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { argon2Hash, argon2NeedsRehash, argon2Verify, DEFAULT_ARGON2, isArgon2Hash, type Argon2Params } from './argon2-hash.js';
import { saslprep } from './saslprep.js';
import { DEFAULT_SCRYPT_COST, isScryptHash, scryptHash, scryptNeedsRehash, scryptVerify } from './scrypt-hash.js';

/** How new password hashes are made (config `[auth] password-hash` and its parameters). */
export interface PasswordHashing {
  algorithm: 'argon2id' | 'scrypt';
  argon2: Argon2Params;
  /** scrypt cost as log2 N (`[auth-throttle] password-hash-cost`). */
  scryptCost: number;
  /** PBKDF2 iterations of the SCRAM keys derived beside a new account password (auth/scram-keys.ts); null: `[auth] scram` is off. */
  scramIterations: number | null;
}

/** The defaults: argon2id at 19 MiB, 2 passes; SCRAM keys at 10000 iterations (as the configuration's defaults). */
export const DEFAULT_HASHING: PasswordHashing = { algorithm: 'argon2id', argon2: DEFAULT_ARGON2, scryptCost: DEFAULT_SCRYPT_COST, scramIterations: 10_000 };

/** The hashing the configuration asks for. */
export function passwordHashing(config: Pick<Config, 'auth' | 'authThrottle'>): PasswordHashing {
  const { passwordHash, argon2MemoryKib, argon2Iterations, argon2Parallelism } = config.auth;
  return {
    algorithm: passwordHash,
    argon2: { memoryKib: argon2MemoryKib, iterations: argon2Iterations, parallelism: argon2Parallelism },
    scryptCost: config.authThrottle.passwordHashCost,
    scramIterations: config.auth.scram ? config.auth.scramIterations : null,
  };
}

/** Why SASLprep refuses `password` as a stored string (RFC 4013, RFC 3454 §7), or null when it accepts it. */
export function storedPasswordProblem(password: string): string | null {
  const { prepared, refused } = saslprep(password, 'stored');
  if (refused === 'prohibited') {
    return 'the password contains a character SASLprep (RFC 4013 §2.3) prohibits: a control, private-use, non-character, surrogate, tagging or display-changing character';
  }
  if (refused === 'bidi') return 'the password mixes right-to-left and left-to-right text as SASLprep (RFC 4013 §2.4) does not allow';
  if (refused === 'unassigned') return 'the password contains a code point unassigned in Unicode 3.2, which SASLprep (RFC 4013 §2.5) refuses in a new password';
  if (prepared === '') return 'the password is empty after SASLprep (RFC 4013 §2.1 maps its characters to nothing)';
  return null;
}

/** The form of a password at login that is hashed and compared (see the module comment); null: SASLprep refuses it. */
export function preparePassword(password: string): string | null {
  const { prepared, refused } = saslprep(password, 'query');
  return refused === 'prohibited' ? null : prepared;
}

/** `preparePassword` of a password known to be accepted: one being stored, or one that just verified. */
export function preparedOrThrow(password: string): string {
  const prepared = preparePassword(password);
  if (prepared === null) throw new Error('SASLprep refuses the password');
  return prepared;
}

/** Hashes a password for storage with a fresh random salt, as `hashing` says. */
export function hashPassword(password: string, hashing: PasswordHashing = DEFAULT_HASHING): Promise<string> {
  const prepared = preparedOrThrow(password);
  return hashing.algorithm === 'argon2id' ? argon2Hash(prepared, hashing.argon2) : scryptHash(prepared, hashing.scryptCost);
}

/** Per hashing settings, a valid hash of a random secret, verified against when there is no account so failures take the same time. */
const dummyHashes = new Map<string, Promise<string>>();

/** The dummy hash for `hashing`: the same algorithm and parameters as a real one, so it costs the same. */
function dummyHash(hashing: PasswordHashing): Promise<string> {
  const key = JSON.stringify(hashing);
  let dummy = dummyHashes.get(key);
  if (!dummy) {
    // Settings come from the config: a handful per process at most.
    dummy = hashPassword(randomBytes(16).toString('hex'), hashing);
    dummyHashes.set(key, dummy);
  }
  return dummy;
}

/**
 * Checks a password against an encoded hash in constant time. With `encoded`
 * null (unknown account) it still spends one hash computation with the
 * settings new hashes get and returns false, so response timing does not
 * reveal which accounts exist. A malformed stored hash also yields false.
 */
export async function verifyPassword(password: string, encoded: string | null, hashing: PasswordHashing = DEFAULT_HASHING): Promise<boolean> {
  const prepared = preparePassword(password);
  if (encoded === null || prepared === null) {
    // The same cost as a real check; a dummy password, since a refused one has no prepared form.
    await verifyPassword('-', await dummyHash(hashing), hashing);
    return false;
  }
  if (isArgon2Hash(encoded)) return argon2Verify(prepared, encoded);
  if (isScryptHash(encoded)) return scryptVerify(prepared, encoded);
  return false;
}

/** Whether a stored hash is of another algorithm or weaker than new hashes get (re-hash it after a successful login). */
export function needsRehash(encoded: string, hashing: PasswordHashing = DEFAULT_HASHING): boolean {
  if (hashing.algorithm === 'argon2id') return !isArgon2Hash(encoded) || argon2NeedsRehash(encoded, hashing.argon2);
  return !isScryptHash(encoded) || scryptNeedsRehash(encoded, hashing.scryptCost);
}
