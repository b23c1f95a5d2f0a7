/**
 * App passwords: a revocable second password per device or program
 * (`mailkeep user app-password add|list|revoke`), accepted by PLAIN/LOGIN on
 * the protocols it names, hashed like the main password (auth/password.ts).
 *
 * Shape: 16 characters from a 32-letter alphabet without look-alikes (no 0, o,
 * 1, l), shown as four groups of four (`k7vq-3mxa-pp2e-w9hd`): 80 random bits,
 * easy to type on a phone. Case, spaces and dashes are ignored when it is typed.
 *
 * One hash per attempt, whatever the account holds: the first group is the
 * app password's lookup id, stored in clear beside its hash. A password of
 * app-password shape whose first group names one of the account's app
 * passwords is checked against that one hash only; any other password against
 * the main password's hash only. So a wrong password costs exactly one hash
 * (the same algorithm and parameters) whether the account has 0 or 20 app
 * passwords, and the login time says nothing of how many exist. The stored
 * group leaves 60 secret bits to someone holding the database, each guess a
 * full memory-hard hash. A main password that happens to have that shape and
 * first group is shadowed by the app password: with 2^-20 odds per app password.
 */
import { randomInt } from 'node:crypto';
import { type AppPassword, isLive } from '../store/app-password-types.js';
import type { AppPasswordLimits } from '../store/types.js';

/** RFC 4648-sized alphabet without 0, o, 1, l. */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const GROUPS = 4;
const GROUP_LENGTH = 4;
const LENGTH = GROUPS * GROUP_LENGTH;
const TYPED_SHAPE = new RegExp(`^[${ALPHABET}]{${LENGTH}}$`);

/** Live app passwords per account, and revoked or expired ones kept for `list`. */
export const APP_PASSWORD_LIMITS: AppPasswordLimits = { maxLive: 20, keepRetired: 20 };

/** Protocols an app password may name; the default is all of them. */
export const APP_PASSWORD_PROTOCOLS = ['imap', 'pop3', 'managesieve'] as const;

/** A freshly generated app password: what the owner types, and its lookup id. */
export interface GeneratedAppPassword {
  /** Shown once: four groups of four. */
  password: string;
  lookup: string;
}

/** Draws a new app password whose lookup id is not among `taken` (the account's other ones). */
export function generateAppPassword(taken: ReadonlySet<string>): GeneratedAppPassword {
  // 2^20 lookups against at most a few dozen taken: a handful of draws at worst.
  for (;;) {
    let chars = '';
    for (let i = 0; i < LENGTH; i++) chars += ALPHABET[randomInt(ALPHABET.length)];
    const groups = chars.match(new RegExp(`.{${GROUP_LENGTH}}`, 'g'))!;
    if (!taken.has(groups[0]!)) return { password: groups.join('-'), lookup: groups[0]! };
  }
}

/** A typed password read as an app password: its canonical form and lookup id, or null when it has not the shape. */
export function asAppPassword(typed: string): { canonical: string; lookup: string } | null {
  // Longer input cannot be one; checked first so a huge password costs no regex work.
  if (typed.length > 3 * LENGTH) return null;
  const chars = typed.toLowerCase().replace(/[\s-]/g, '');
  if (!TYPED_SHAPE.test(chars)) return null;
  const groups = chars.match(new RegExp(`.{${GROUP_LENGTH}}`, 'g'))!;
  return { canonical: groups.join('-'), lookup: groups[0]! };
}

/** The credential name of a session logged in with app password `id` (net/live-sessions.ts SessionInfo.user.credential). */
export const appCredential = (id: number): string => `app:${id}`;

/** The app password id of a session credential, or null when the session used something else. */
export function appCredentialId(credential: string): number | null {
  const m = /^app:(\d{1,15})$/.exec(credential);
  return m ? Number(m[1]) : null;
}

/** The live app password that `typed` may be (by its lookup id), or null: the one hash a login then checks. */
export function candidateFor(typed: string, stored: readonly AppPassword[], now: Date): { entry: AppPassword; canonical: string } | null {
  const shape = asAppPassword(typed);
  if (!shape) return null;
  const entry = stored.find((p) => p.lookup === shape.lookup && isLive(p, now));
  return entry ? { entry, canonical: shape.canonical } : null;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
/** Longest expiry: ten years. */
const MAX_EXPIRY_MS = 3650 * 86_400_000;

/**
 * When an app password given `--expires` ends: a duration (`90d`, `12h`, `30m`,
 * `2w`) from `now`, or an ISO 8601 date or date-time (`2027-01-31` means that
 * day's start, UTC). Null when it is neither, or not in the future, or more than
 * ten years ahead.
 */
export function parseExpiry(text: string, now: Date): Date | null {
  const duration = /^(\d{1,6})([mhdw])$/.exec(text.trim());
  const at = duration
    ? new Date(now.getTime() + Number(duration[1]) * UNITS[duration[2]!]!)
    : /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())
      ? new Date(text.trim())
      : null;
  if (at === null || Number.isNaN(at.getTime())) return null;
  const ahead = at.getTime() - now.getTime();
  return ahead > 0 && ahead <= MAX_EXPIRY_MS ? at : null;
}

/** Parses `--protocols imap,pop3`; null when a name is unknown or none is given. */
export function parseProtocols(text: string): string[] | null {
  const names = [...new Set(text.split(',').map((p) => p.trim().toLowerCase()))].filter((p) => p !== '');
  if (names.length === 0 || !names.every((p) => (APP_PASSWORD_PROTOCOLS as readonly string[]).includes(p))) return null;
  return names;
}
