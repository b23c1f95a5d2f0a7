/**
 * What POP3 and ManageSieve tell a client whose login was refused: the same
 * words, each protocol with its own response codes (RFC 3206 for POP3,
 * RFC 5804 §1.3 for ManageSieve). IMAP's replies differ in kind (NO or BAD)
 * and keep their own table (imap/commands/auth.ts).
 */
import type { SaslLoginResult } from './sasl-login.js';

/** A refused login. */
export type LoginRefusal = Extract<SaslLoginResult, { ok: false }>;

/**
 * The protocol's code for each kind of refusal (null: none): the account may
 * not log in (disabled, app passwords only); temporary, the credential was not
 * checked (throttled, busy, token issuer unavailable); cleartext without TLS;
 * proxy authorization; a failed check. An unsupported or cancelled
 * mechanism has no code.
 */
export interface RefusalCodes<Code> {
  account: Code | null;
  temporary: Code | null;
  privacy: Code | null;
  proxy: Code | null;
  failed: Code | null;
}

/**
 * The reply to a refused login, its text and code; null when the connection
 * is gone (nothing to answer). `privacyText` tells how to get TLS here.
 */
export function refusalReply<Code>(
  res: LoginRefusal,
  mechanism: string,
  codes: RefusalCodes<Code>,
  privacyText: string,
): { text: string; code: Code | null } | null {
  switch (res.reason) {
    case 'disabled':
      return { text: 'This account is disabled; contact the administrator', code: codes.account };
    // The main password was right, but this account logs in with app passwords only.
    case 'app-password-required':
      return { text: 'This account requires an app password', code: codes.account };
    case 'throttled':
      return { text: 'Too many failed logins; try again later', code: codes.temporary };
    case 'busy':
      return { text: 'Too many logins in progress; try again later', code: codes.temporary };
    case 'unavailable':
      return { text: 'The token cannot be checked now; try again later', code: codes.temporary };
    case 'privacy':
      return { text: privacyText, code: codes.privacy };
    // RFC 4616 §2: an authorization identity other than the user's own would be proxy authorization.
    case 'proxy':
      return { text: 'Proxy authorization is not supported', code: codes.proxy };
    case 'unsupported':
      return { text: `Unsupported authentication mechanism ${mechanism.slice(0, 20)}`, code: null };
    case 'cancelled':
      return { text: 'Authentication cancelled', code: null };
    case 'closed':
      return null;
    case 'refused':
      return { text: res.text, code: codes.failed };
    case 'failed':
      return { text: 'Authentication failed', code: codes.failed };
  }
}
