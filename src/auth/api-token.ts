/**
 * API tokens of the admin HTTP API: `mk_` and 32 random bytes in base64url,
 * sent as `Authorization: Bearer …` (RFC 6750 §2.1).
 *
 * Why a fast hash is enough: a password is low-entropy and must be stored
 * with a slow, salted hash so a stolen table cannot be searched by guessing.
 * A token holds 256 random bits; no guess reaches it and no table of guesses
 * helps, so its SHA-256 is as good as a slow hash and lets a request be
 * checked with one indexed lookup. The token itself is shown once, at
 * creation, and never stored; a lookup by hash also leaks nothing through
 * timing (the attacker does not control the hash's prefix).
 */
import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'mk_';
const TOKEN_BYTES = 32;
/** Longest token or web admin account name, in characters. */
const MAX_ADMIN_NAME = 64;
/** Longest Authorization header value looked at: a token is 46 characters. */
const MAX_BEARER = 256;
/** Tokens that never expire are allowed; an expiry further out than this is a typo. */
const MAX_EXPIRY_DAYS = 3650;
const DAY_MS = 86_400_000;

/** A new token and the hash to store. */
export function newApiToken(): { token: string; hash: string } {
  const token = PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: hashApiToken(token) };
}

/** The stored form of a token: lower-case hex SHA-256. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The token of an `Authorization: Bearer …` header value, or null when there is none of the right shape. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length > MAX_BEARER) return null;
  // RFC 6750 §2.1: b64token after "Bearer" and one or more spaces; the scheme is case-insensitive (RFC 9110 §11.1).
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  return m ? m[1]! : null;
}

/** Why `name` cannot name a token or web admin account (`what`), or null when it can. */
export function adminNameProblem(name: string, what: string): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return `${what} is letters, digits, ".", "_" and "-", starting with a letter or digit`;
  if (name.length > MAX_ADMIN_NAME) return `${what} is at most ${MAX_ADMIN_NAME} characters`;
  return null;
}

/**
 * An expiry as `--expires` takes it: a number of days (`90d`), hours (`12h`)
 * or an ISO 8601 date or time; null when it is neither or not in the future.
 */
export function parseExpiry(text: string, now = Date.now()): Date | null {
  const rel = /^(\d{1,6})([dh])$/.exec(text.trim());
  let at: number;
  if (rel) at = now + Number(rel[1]) * (rel[2] === 'd' ? DAY_MS : DAY_MS / 24);
  else if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) at = Date.parse(text.trim());
  else return null;
  if (!Number.isFinite(at) || at <= now || at > now + MAX_EXPIRY_DAYS * DAY_MS) return null;
  return new Date(at);
}
