/**
 * What an account (login) name may look like. Names travel in IMAP LOGIN and
 * AUTHENTICATE PLAIN (RFC 4616: NUL-separated), POP3 USER (space-separated
 * arguments, RFC 1939 §3) and logs, so whitespace, control and format
 * characters, quotes and backslashes are refused; everything else, including
 * '@' and non-ASCII letters, is allowed.
 */

/** Longest accepted name, in characters. */
export const MAX_ACCOUNT_NAME = 255;

const ALLOWED = /^[^\s\p{C}"\\]+$/u;

/** Why `name` cannot be an account name, or null when it can. */
export function accountNameProblem(name: string): string | null {
  if (name === '') return 'the name is empty';
  if ([...name].length > MAX_ACCOUNT_NAME) return `the name is longer than ${MAX_ACCOUNT_NAME} characters`;
  if (!ALLOWED.test(name)) return 'the name may not contain spaces, control characters, quotes or backslashes';
  return null;
}
