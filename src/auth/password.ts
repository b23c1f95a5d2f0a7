/**
 * Password hashing for storage and verification: argon2id by default
 * (auth/argon2-hash.ts), scrypt still verified and selectable
 * (auth/scrypt-hash.ts). A stored hash names its algorithm and parameters, so
 * verification reads them from the hash; `needsRehash` tells the login path
 * when a hash is of another algorithm or weaker than the configured one, and
 * it re-hashes after a successful login (scrypt → argon2id upgrades).
 *
 * Normalization: passwords are prepared with a subset of SASLprep (RFC 4013):
 * non-ASCII spaces map to U+0020 (§2.1, RFC 3454 C.1.2), "commonly mapped to
 * nothing" characters are dropped (§2.1, RFC 3454 B.1), then NFKC (§2.2). The
 * prohibited-output and bidi checks (§2.3, §2.4) are not applied: they would
 * only refuse passwords, never change a match. ASCII passwords are unchanged.
 *
 * Invariant: passwords and hashes are never logged and never appear in errors.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { argon2Hash, argon2NeedsRehash, argon2Verify, DEFAULT_ARGON2, isArgon2Hash, type Argon2Params } from './argon2-hash.js';
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

// RFC 3454 C.1.2 (non-ASCII space characters) and B.1 (commonly mapped to nothing).
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;

/** The SASLprep-lite form of a password that is hashed and compared (see the module comment). */
export function preparePassword(password: string): string {
  return password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
}

/** Hashes a password for storage with a fresh random salt, as `hashing` says. */
export function hashPassword(password: string, hashing: PasswordHashing = DEFAULT_HASHING): Promise<string> {
  const prepared = preparePassword(password);
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
  if (encoded === null) {
    await verifyPassword(password, await dummyHash(hashing), hashing);
    return false;
  }
  const prepared = preparePassword(password);
  if (isArgon2Hash(encoded)) return argon2Verify(prepared, encoded);
  if (isScryptHash(encoded)) return scryptVerify(prepared, encoded);
  return false;
}

/** Whether a stored hash is of another algorithm or weaker than new hashes get (re-hash it after a successful login). */
export function needsRehash(encoded: string, hashing: PasswordHashing = DEFAULT_HASHING): boolean {
  if (hashing.algorithm === 'argon2id') return !isArgon2Hash(encoded) || argon2NeedsRehash(encoded, hashing.argon2);
  return !isScryptHash(encoded) || scryptNeedsRehash(encoded, hashing.scryptCost);
}
