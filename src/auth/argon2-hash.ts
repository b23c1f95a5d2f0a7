/**
 * argon2id password hashes (RFC 9106) through @node-rs/argon2, whose hashing
 * runs as N-API async work on libuv's thread pool (like scrypt), never on the
 * event loop; the hash gate (auth/hash-gate.ts) bounds how many run. The default for new
 * passwords: memory-hard like scrypt, and the algorithm RFC 9106 §4 and
 * OWASP recommend.
 *
 * Encoding: the PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, so
 * the parameters travel with each hash.
 *
 * Invariant: parameters read from a stored hash are bounded (LIMITS) before
 * anything is computed, so a corrupt row cannot demand gigabytes or hours.
 */
import { hash, verify } from '@node-rs/argon2';

/** The cost of new argon2id hashes (config `[auth] argon2-memory-kib`, `argon2-iterations`, `argon2-parallelism`). */
export interface Argon2Params {
  /** Memory in KiB (`m=`). */
  memoryKib: number;
  /** Passes over the memory (`t=`). */
  iterations: number;
  /** Lanes (`p=`). */
  parallelism: number;
}

/** RFC 9106 §4 second recommended option scaled down as OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
export const DEFAULT_ARGON2: Argon2Params = { memoryKib: 19_456, iterations: 2, parallelism: 1 };

/** @node-rs/argon2's Algorithm.Argon2id (a const enum, which isolated builds cannot read). */
const ARGON2ID = 2;
const KEY_BYTES = 32;

/** Bounds for parameters read from stored hashes (and accepted in the config). */
export const ARGON2_LIMITS = { memoryKib: [64, 1_048_576], iterations: [1, 20], parallelism: [1, 16], key: [16, 64], salt: [8, 64] } as const;

const ENCODED = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const within = (v: number, [lo, hi]: readonly [number, number]): boolean => v >= lo && v <= hi;

/** Whether `encoded` is (meant to be) an argon2id hash. */
export const isArgon2Hash = (encoded: string): boolean => encoded.startsWith('$argon2id$');

/** The bounded parameters of a stored hash, or null when it is not one this module verifies. */
function parse(encoded: string): (Argon2Params & { keyBytes: number }) | null {
  const m = ENCODED.exec(encoded);
  if (!m) return null;
  const params = { memoryKib: Number(m[1]), iterations: Number(m[2]), parallelism: Number(m[3]) };
  const salt = Buffer.from(m[4]!, 'base64').length;
  const keyBytes = Buffer.from(m[5]!, 'base64').length;
  const ok =
    within(params.memoryKib, ARGON2_LIMITS.memoryKib) &&
    within(params.iterations, ARGON2_LIMITS.iterations) &&
    within(params.parallelism, ARGON2_LIMITS.parallelism) &&
    // RFC 9106 §3.1: m ≥ 8·p.
    params.memoryKib >= 8 * params.parallelism &&
    within(keyBytes, ARGON2_LIMITS.key) &&
    within(salt, ARGON2_LIMITS.salt);
  return ok ? { ...params, keyBytes } : null;
}

/** Hashes an already prepared password with a fresh random salt (the library draws 16 bytes). */
export function argon2Hash(prepared: string, p: Argon2Params): Promise<string> {
  return hash(prepared, { algorithm: ARGON2ID, memoryCost: p.memoryKib, timeCost: p.iterations, parallelism: p.parallelism, outputLen: KEY_BYTES });
}

/** Checks a prepared password against an argon2id hash (the library compares in constant time); false for a malformed hash. */
export async function argon2Verify(prepared: string, encoded: string): Promise<boolean> {
  if (!parse(encoded)) return false;
  try {
    return await verify(encoded, prepared);
  } catch {
    return false;
  }
}

/** Whether an argon2id hash is weaker than new ones at `p` (or unreadable). */
export function argon2NeedsRehash(encoded: string, p: Argon2Params): boolean {
  const parsed = parse(encoded);
  return !parsed || parsed.memoryKib < p.memoryKib || parsed.iterations < p.iterations || parsed.parallelism < p.parallelism || parsed.keyBytes < KEY_BYTES;
}
