/**
 * Password hashing with scrypt (RFC 7914), run on libuv's thread pool so the
 * event loop never blocks on it.
 *
 * Encoding: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` with unpadded base64, so the
 * parameters travel with each hash and can be raised later (needsRehash tells
 * the caller when to re-hash after a successful login). The cost (log2 N) of
 * new hashes is a setting; the bounds below (LIMITS.ln) are its range.
 *
 * Normalization: passwords are prepared with a subset of SASLprep (RFC 4013):
 * non-ASCII spaces map to U+0020 (§2.1, RFC 3454 C.1.2), "commonly mapped to
 * nothing" characters are dropped (§2.1, RFC 3454 B.1), then NFKC (§2.2). The
 * prohibited-output and bidi checks (§2.3, §2.4) are not applied: they would
 * only refuse passwords, never change a match. ASCII passwords are unchanged.
 *
 * Invariant: passwords and hashes are never logged and never appear in errors.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Default cost for new hashes: N = 2^15, r = 8, p = 1 (32 MiB, the RFC 7914 §2 interactive-login ballpark). */
export const DEFAULT_HASH_COST = 15;
/** r and p of new hashes; the cost (log2 N) is the setting `[auth-throttle] password-hash-cost`. */
const SHAPE = { r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Bounds for parameters read from stored hashes, so a corrupt row cannot demand gigabytes or hours. */
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16], key: [16, 64], salt: [8, 64] } as const;

interface Params {
  ln: number;
  r: number;
  p: number;
}

function scryptAsync(password: string, salt: Buffer, keyLen: number, { ln, r, p }: Params): Promise<Buffer> {
  const N = 2 ** ln;
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly that at ln=15, r=8, and too tight.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

// RFC 3454 C.1.2 (non-ASCII space characters) and B.1 (commonly mapped to nothing).
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;

/** The SASLprep-lite form of a password that is hashed and compared (see the module comment). */
export function preparePassword(password: string): string {
  return password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
}

const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '');

/** Hashes a password for storage with a fresh random salt, at scrypt cost N = 2^cost. */
export async function hashPassword(password: string, cost = DEFAULT_HASH_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(preparePassword(password), salt, KEY_BYTES, { ln: cost, ...SHAPE });
  return `$scrypt$ln=${cost},r=${SHAPE.r},p=${SHAPE.p}$${b64(salt)}$${b64(key)}`;
}

const ENCODED = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const within = (v: number, [lo, hi]: readonly [number, number]): boolean => v >= lo && v <= hi;

/** Parses and bounds-checks an encoded hash; null when it is not one this module can verify. */
function parse(encoded: string): (Params & { salt: Buffer; key: Buffer }) | null {
  const m = ENCODED.exec(encoded);
  if (!m) return null;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  const ok = within(ln, LIMITS.ln) && within(r, LIMITS.r) && within(p, LIMITS.p) && within(key.length, LIMITS.key) && within(salt.length, LIMITS.salt);
  return ok ? { ln, r, p, salt, key } : null;
}

/** Per cost, a valid hash of a random secret, verified against when there is no account so failures take the same time. */
const dummyHashes = new Map<number, Promise<string>>();

/**
 * Checks a password against an encoded hash in constant time. With `encoded`
 * null (unknown account) it still spends one hash computation at `cost` (the
 * cost new hashes get) and returns false, so response timing does not reveal
 * which accounts exist. A malformed stored hash also yields false.
 */
export async function verifyPassword(password: string, encoded: string | null, cost = DEFAULT_HASH_COST): Promise<boolean> {
  if (encoded === null) {
    let dummy = dummyHashes.get(cost);
    if (!dummy) {
      dummy = hashPassword(randomBytes(16).toString('hex'), cost);
      dummyHashes.set(cost, dummy);
    }
    await verifyPassword(password, await dummy);
    return false;
  }
  const parsed = parse(encoded);
  if (!parsed) return false;
  const key = await scryptAsync(preparePassword(password), parsed.salt, parsed.key.length, parsed);
  return timingSafeEqual(key, parsed.key);
}

/** Whether a stored hash uses weaker parameters than new hashes at `cost` get (re-hash it after a successful login). */
export function needsRehash(encoded: string, cost = DEFAULT_HASH_COST): boolean {
  const parsed = parse(encoded);
  return !parsed || parsed.ln < cost || parsed.r < SHAPE.r || parsed.p < SHAPE.p || parsed.key.length < KEY_BYTES;
}
