/**
 * Ends live sessions whose credential is no longer good: an app password
 * revoked or expired, the main password of an account that now requires app
 * passwords, any session of an account disabled or deleted. The change may be
 * made by `mailkeep user …` in another process or on another node: the store
 * raises the account's channel (events/change-bus.ts ACCOUNT_CHANNEL) in the
 * same transaction, which reaches this process through the change bus (SQLite:
 * the modseq poller; PostgreSQL: NOTIFY). Each wake re-reads the account and
 * its app passwords and kicks what they no longer allow (IMAP BYE, even in
 * IDLE; POP3 -ERR).
 *
 * Invariants: an account is watched exactly while this process has a logged-in
 * session of it; each login checks once, so a change that landed between the
 * password check and the session's registration is not missed; checks of one
 * account never overlap (a wake during a check runs one more after it).
 */
import type { Logger } from 'pino';
import { appCredentialId } from '../auth/app-passwords.js';
import { ACCOUNT_CHANNEL } from '../events/change-bus.js';
import type { AccountId } from '../ids.js';
import type { LiveSession, LiveSessions, SessionInfo } from '../net/live-sessions.js';
import { isLive } from '../store/app-password-types.js';
import type { Account, AppPassword, MailStore } from '../store/types.js';

/** setTimeout's longest delay; a later expiry is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Watch {
  sessions: number;
  unsubscribe: () => void;
  running: boolean;
  again: boolean;
  /** Re-checks when the earliest expiry among the app passwords in use comes. */
  expiry: NodeJS.Timeout | null;
}

/** Why a session's credential no longer logs in, or null when it still does. */
function refusal(credential: string, account: Account | null, live: ReadonlySet<number>): string | null {
  if (account === null) return 'This account was deleted';
  if (account.disabled) return 'This account is disabled';
  const app = appCredentialId(credential);
  if (app !== null) return live.has(app) ? null : 'This app password was revoked or has expired';
  if (credential === 'password' && account.requireAppPasswords) return 'This account now requires an app password';
  return null;
}

/** One per server process: follows the accounts of its logged-in sessions. */
export class CredentialRevocation {
  private readonly watches = new Map<AccountId, Watch>();
  /** Logged-in session id → its account, for `ended`. */
  private readonly accountOf = new Map<string, AccountId>();

  constructor(
    private readonly store: MailStore,
    private readonly sessions: LiveSessions,
    private readonly log: Logger,
  ) {}

  /** A session logged in (its describe() names the account and credential). */
  loggedIn(session: LiveSession): void {
    const user = session.describe().user;
    if (user === null || this.accountOf.has(session.id)) return;
    const accountId = user.accountId as AccountId;
    this.accountOf.set(session.id, accountId);
    let watch = this.watches.get(accountId);
    if (!watch) {
      const unsubscribe = this.store.bus.subscribe(accountId, ACCOUNT_CHANNEL, () => this.check(accountId));
      watch = { sessions: 0, unsubscribe, running: false, again: false, expiry: null };
      this.watches.set(accountId, watch);
    }
    watch.sessions++;
    this.check(accountId);
  }

  /** A session ended (logged in or not). */
  ended(session: LiveSession): void {
    const accountId = this.accountOf.get(session.id);
    if (accountId === undefined) return;
    this.accountOf.delete(session.id);
    const watch = this.watches.get(accountId);
    if (!watch || --watch.sessions > 0) return;
    watch.unsubscribe();
    if (watch.expiry) clearTimeout(watch.expiry);
    this.watches.delete(accountId);
  }

  /** Reads the account and kicks its sessions whose credential it no longer allows. */
  private check(accountId: AccountId): void {
    const watch = this.watches.get(accountId);
    if (!watch) return;
    if (watch.running) {
      watch.again = true;
      return;
    }
    watch.running = true;
    void this.checkOnce(accountId, watch)
      .catch((err: unknown) => this.log.warn({ err, accountId }, 'cannot check the credentials of live sessions'))
      .finally(() => {
        watch.running = false;
        if (watch.again && this.watches.get(accountId) === watch) {
          watch.again = false;
          this.check(accountId);
        }
      });
  }

  private async checkOnce(accountId: AccountId, watch: Watch): Promise<void> {
    const [account, apps] = await Promise.all([this.store.getAccount(accountId), this.store.listAppPasswords(accountId)]);
    const now = new Date();
    const live = new Set(apps.filter((p) => isLive(p, now)).map((p) => p.id));
    const ofAccount = (info: SessionInfo): boolean => info.user?.accountId === accountId;
    for (const info of this.sessions.list(ofAccount)) {
      const reason = refusal(info.user!.credential, account, live);
      if (reason === null) continue;
      this.sessions.kick((s) => s.id === info.id, reason);
      this.log.info({ session: info.id, user: info.user!.name, credential: info.user!.credential }, `session ended: ${reason}`);
    }
    this.scheduleExpiry(accountId, watch, apps, now);
  }

  /** Arms one timer for the earliest expiry among the live app passwords this process's sessions use. */
  private scheduleExpiry(accountId: AccountId, watch: Watch, apps: readonly AppPassword[], now: Date): void {
    if (watch.expiry) clearTimeout(watch.expiry);
    watch.expiry = null;
    const inUse = new Set(this.sessions.list((i) => i.user?.accountId === accountId).map((i) => appCredentialId(i.user!.credential)));
    const ends = apps.filter((p) => inUse.has(p.id) && isLive(p, now) && p.expiresAt !== null).map((p) => p.expiresAt!.getTime());
    if (ends.length === 0) return;
    const delay = Math.min(Math.min(...ends) - now.getTime() + 1, MAX_TIMER_MS);
    watch.expiry = setTimeout(() => this.check(accountId), delay).unref();
  }
}
