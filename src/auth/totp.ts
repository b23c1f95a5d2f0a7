/**
 * TOTP second factor for web admin accounts (RFC 6238: HOTP of RFC 4226 over
 * 30-second steps, HMAC-SHA-1, 6 digits, the format authenticator apps
 * expect), secrets in base32 (RFC 4648 §6) inside an `otpauth://` URI.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const STEP_SECONDS = 30;
const DIGITS = 6;
/** Steps before and after now that are accepted: clocks drift and people type slowly (RFC 6238 §5.2). */
const WINDOW = 1;
/** RFC 4226 §4 asks for at least 128 bits; 160 is the HMAC-SHA-1 block the apps expect. */
const SECRET_BYTES = 20;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A new random secret, base32. */
export function newTotpSecret(): string {
  return toBase32(randomBytes(SECRET_BYTES));
}

/** RFC 4648 §6 base32 without padding. */
export function toBase32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes base32 (case-insensitive, padding and spaces ignored); null when it is not base32. */
export function fromBase32(text: string): Buffer | null {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 §5.3: the HOTP value of a counter, as DIGITS decimal digits. */
export function hotp(secret: Buffer, counter: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** DIGITS;
  return code.toString().padStart(DIGITS, '0');
}

/** The time step of a moment (RFC 6238 §4.2: T0 = 0). */
export const totpStep = (nowMs: number): number => Math.floor(nowMs / 1000 / STEP_SECONDS);

/** The code for a moment (tests and enrolment checks). */
export function totpCode(secretBase32: string, nowMs = Date.now()): string {
  return hotp(fromBase32(secretBase32) ?? Buffer.alloc(0), totpStep(nowMs));
}

/**
 * The step a code is valid for within the window around now, or null. The
 * caller refuses a step at or before the last one it accepted for that
 * account, so a code cannot be used twice (RFC 6238 §5.2).
 */
export function verifyTotp(secretBase32: string, code: string, nowMs = Date.now()): number | null {
  const secret = fromBase32(secretBase32);
  if (secret === null || !/^\d{6}$/.test(code)) return null;
  const now = totpStep(nowMs);
  for (let step = now - WINDOW; step <= now + WINDOW; step++) {
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(code))) return step;
  }
  return null;
}

/** The enrolment URI authenticator apps read (Google Authenticator's Key Uri Format). */
export function otpauthUri(issuer: string, account: string, secretBase32: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  return `otpauth://totp/${label}?secret=${secretBase32}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${DIGITS}&period=${STEP_SECONDS}`;
}
