/**
 * What a refused login means, from the server's response code (RFC 5530 for
 * IMAP, RFC 2449 §8 / RFC 3206 for POP3) or, for servers that send none, from
 * its text. The password never appears in a line: only the user name.
 */
import { type Check, fail, ok, printable } from './check.js';

/** The four outcomes a user can act on, plus "refused for another reason". */
export type LoginKind = 'success' | 'wrong-password' | 'privacy-required' | 'throttled' | 'refused';

/** Classifies a refusal: code first (e.g. AUTHENTICATIONFAILED, SYS/TEMP), then words in the text. */
export function classifyRefusal(code: string | null, text: string): Exclude<LoginKind, 'success'> {
  const c = (code ?? '').toUpperCase().split(' ', 1)[0]!;
  // RFC 5530 §3.
  if (c === 'AUTHENTICATIONFAILED') return 'wrong-password';
  if (c === 'PRIVACYREQUIRED') return 'privacy-required';
  if (c === 'UNAVAILABLE' || c === 'SYS/TEMP' || c === 'LOGIN-DELAY' || c === 'IN-USE') return 'throttled';
  // RFC 3206 §4 [AUTH] covers both bad credentials and policy (e.g. cleartext refused): the text tells them apart.
  if (/plaintext|cleartext|ssl|tls|secure|encrypt/i.test(text)) return 'privacy-required';
  if (/too many|try again|later|throttl|rate limit|temporar/i.test(text)) return 'throttled';
  if (c === 'AUTH' || /auth|password|credential|invalid|incorrect|fail|denied/i.test(text)) return 'wrong-password';
  return 'refused';
}

/** The report line for a login outcome. */
export function loginCheck(kind: LoginKind, user: string, serverText: string): Check {
  const said = printable(serverText, 100);
  switch (kind) {
    case 'success':
      return ok(`login as ${user}: accepted`);
    case 'wrong-password':
      return fail(
        `login as ${user}: wrong user name or password (server said: ${said})`,
        'Check the user name (the full address or just the account name, as your provider says) and retype the password.',
      );
    case 'privacy-required':
      return fail(
        `login as ${user}: refused until the connection is encrypted (server said: ${said})`,
        'Set the client to SSL/TLS (port 993/995) or STARTTLS; the server rightly refuses passwords in the clear.',
      );
    case 'throttled':
      return fail(
        `login as ${user}: refused for now, too many attempts or the server is busy (server said: ${said})`,
        'Wait a few minutes and try again; if it persists, a device with an old password may be retrying: fix or switch it off.',
      );
    case 'refused':
      return fail(`login as ${user}: refused (server said: ${said})`, "The server gave no standard reason; check the server's log for this login.");
  }
}
