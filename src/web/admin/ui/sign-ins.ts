/**
 * Signed-in web admin sessions: a random id in an HttpOnly, SameSite=Strict
 * cookie (Secure when the admin listener speaks TLS), and per session a
 * random CSRF token every form carries back.
 *
 * Kept in the store, not in a process's memory: with `serve --workers N` the
 * admin listener's connections land on any worker, and a sign-in made in one
 * must hold in all (and on every node of one PostgreSQL). The store keeps the
 * SHA-256 of the cookie value, never the value. Signing out deletes the row,
 * so it ends at once everywhere. Bounded without a count: a sign-in needs a
 * fresh TOTP step (one per 30 s per admin, claimed in the store so a code is
 * used once across workers), and expired rows are pruned at each sign-in.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AdminStore } from '../../../store/admin-types.js';

/** The cookie's name. */
export const SESSION_COOKIE = 'mailkeep_admin';
/** How long a sign-in lasts, whatever is done meanwhile. */
export const SIGN_IN_TTL_MS = 8 * 60 * 60 * 1000;
/** Longest cookie value looked up (ours are 43 characters). */
const MAX_COOKIE = 128;

/** One signed-in administrator. */
export interface SignIn {
  user: string;
  csrf: string;
}

/** The key a cookie value is stored under. */
function idHash(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** The sign-ins of the installation, in the store. */
export class SignIns {
  constructor(
    private readonly store: Pick<AdminStore, 'addAdminSignIn' | 'findAdminSignIn' | 'deleteAdminSignIn' | 'claimAdminTotpStep'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a session; returns its cookie value. */
  async create(user: string): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.store.addAdminSignIn(idHash(id), { user, csrf: randomBytes(32).toString('base64url'), expiresAt: new Date(this.now() + SIGN_IN_TTL_MS) });
    return id;
  }

  /** The session of a cookie value, or null when unknown or expired. */
  async get(id: string | undefined): Promise<SignIn | null> {
    if (id === undefined || id.length === 0 || id.length > MAX_COOKIE) return null;
    const s = await this.store.findAdminSignIn(idHash(id));
    if (s === null || s.expiresAt.getTime() <= this.now()) return null;
    return { user: s.user, csrf: s.csrf };
  }

  /** Ends a session everywhere. */
  async end(id: string | undefined): Promise<void> {
    if (id !== undefined && id.length > 0 && id.length <= MAX_COOKIE) await this.store.deleteAdminSignIn(idHash(id));
  }

  /** Accepts a TOTP step for an admin only if it is later than the last accepted one, in any worker (RFC 6238 §5.2). */
  useStep(user: string, step: number): Promise<boolean> {
    return this.store.claimAdminTotpStep(user, step);
  }
}

/** Whether a form's CSRF token is the session's (constant time). */
export function csrfMatches(session: SignIn, token: unknown): boolean {
  if (typeof token !== 'string' || token.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(token), Buffer.from(session.csrf));
}
