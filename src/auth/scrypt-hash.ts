/**
 * scrypt password hashes (RFC 7914), run on libuv's thread pool so the event
 * loop never blocks on them: the format mailkeep stored before argon2id, still
 * verified (and upgraded at the next login) and still selectable for new
 * hashes (`[auth] password-hash = "scrypt"`).
 *
 * Encoding: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` with unpadded base64, so the
 * parameters travel with each hash.
 *
 * Invariant: parameters read from a stored hash are bounded (LIMITS), so a
 * corrupt row cannot demand gigabytes or hours.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Default cost for new scrypt hashes: N = 2^15, r = 8, p = 1 (32 MiB, the RFC 7914 §2 interactive-login ballpark). */
export const DEFAULT_SCRYPT_COST = 15;
/** r and p of new hashes; the cost (log2 N) is the setting `[auth-throttle] password-hash-cost`. */
const SHAPE = { r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Bounds for parameters read from stored hashes. */
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16], key: [16, 64], salt: [8, 64] } as const;

interface Params {
  ln: number;
  r: number;
  p: number;
}

function scryptAsync(prepared: string, salt: Buffer, keyLen: number, { ln, r, p }: Params): Promise<Buffer> {
  const N = 2 ** ln;
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly that at ln=15, r=8, and too tight.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(prepared, salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '');

/** Whether `encoded` is (meant to be) a scrypt hash. */
export const isScryptHash = (encoded: string): boolean => encoded.startsWith('$scrypt$');

/** Hashes an already prepared password with a fresh random salt at N = 2^cost. */
export async function scryptHash(prepared: string, cost: number): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(prepared, salt, KEY_BYTES, { ln: cost, ...SHAPE });
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

/** Checks a prepared password against a scrypt hash in constant time; false for a malformed hash. */
export async function scryptVerify(prepared: string, encoded: string): Promise<boolean> {
  const parsed = parse(encoded);
  if (!parsed) return false;
  const key = await scryptAsync(prepared, parsed.salt, parsed.key.length, parsed);
  return timingSafeEqual(key, parsed.key);
}

/** Whether a scrypt hash is weaker than new ones at `cost` (or unreadable). */
export function scryptNeedsRehash(encoded: string, cost: number): boolean {
  const parsed = parse(encoded);
  return !parsed || parsed.ln < cost || parsed.r < SHAPE.r || parsed.p < SHAPE.p || parsed.key.length < KEY_BYTES;
}
