/**
 * Protocol errors: thrown anywhere in a command, caught at one place in the
 * connection and turned into "-ERR [code] text" (DESIGN "Errors").
 */

/**
 * Response codes we send (RFC 3206, announced by RESP-CODES and AUTH-RESP-CODE).
 * No IN-USE: maildrops are not locked (like Dovecot's default), since every
 * session's QUIT removes only its own marked messages.
 */
export type Pop3Code = 'AUTH' | 'SYS/TEMP' | 'SYS/PERM';

/** An -ERR answer. */
export class Pop3Error extends Error {
  constructor(
    readonly code: Pop3Code | null,
    message: string,
    /** A malformed, unknown or misplaced command: counts toward the bad-command limit. */
    readonly badCommand = false,
  ) {
    super(message);
    this.name = 'Pop3Error';
  }
}

/** Shorthand for a malformed, unknown or misplaced command. */
export const badCommand = (text: string): Pop3Error => new Pop3Error(null, text, true);
/** Shorthand for an -ERR that is not the client's syntax mistake. */
export const failure = (text: string, code: Pop3Code | null = null): Pop3Error => new Pop3Error(code, text);
