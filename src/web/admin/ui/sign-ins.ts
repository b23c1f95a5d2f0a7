/**
 * Signed-in web admin sessions: a random id in an HttpOnly, SameSite=Strict
 * cookie (Secure when the admin listener speaks TLS), and per session a
 * random CSRF token every form carries back. Kept in this process's memory,
 * bounded in number and age; signing out forgets the session at once.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie's name. */
export const SESSION_COOKIE = 'mailkeep_admin';
/** How long a sign-in lasts, whatever is done meanwhile. */
export const SIGN_IN_TTL_MS = 8 * 60 * 60 * 1000;
/** Sign-ins kept at most; the oldest go first. */
const MAX_SIGN_INS = 1000;

/** One signed-in administrator. */
export interface SignIn {
  user: string;
  csrf: string;
  expires: number;
}

/** The sign-ins of this process. */
export class SignIns {
  /** Insertion order is age order: the first key is the oldest. */
  private readonly byId = new Map<string, SignIn>();
  /** The last TOTP step accepted per admin, so a code cannot be used twice (RFC 6238 §5.2). */
  private readonly lastStep = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts a session; returns its cookie value. */
  create(user: string): string {
    const id = randomBytes(32).toString('base64url');
    while (this.byId.size >= MAX_SIGN_INS) this.byId.delete(this.byId.keys().next().value as string);
    this.byId.set(id, { user, csrf: randomBytes(32).toString('base64url'), expires: this.now() + SIGN_IN_TTL_MS });
    return id;
  }

  /** The session of a cookie value, or null when unknown or expired. */
  get(id: string | undefined): SignIn | null {
    if (id === undefined) return null;
    const s = this.byId.get(id);
    if (s === undefined) return null;
    if (s.expires <= this.now()) {
      this.byId.delete(id);
      return null;
    }
    return s;
  }

  end(id: string | undefined): void {
    if (id !== undefined) this.byId.delete(id);
  }

  /** Accepts a TOTP step for an admin only if it is later than the last accepted one. */
  useStep(user: string, step: number): boolean {
    if ((this.lastStep.get(user) ?? -1) >= step) return false;
    // Bounded by the number of admin accounts that ever signed in.
    this.lastStep.set(user, step);
    return true;
  }
}

/** Whether a form's CSRF token is the session's (constant time). */
export function csrfMatches(session: SignIn, token: unknown): boolean {
  if (typeof token !== 'string' || token.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(token), Buffer.from(session.csrf));
}
