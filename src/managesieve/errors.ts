/**
 * Protocol errors: thrown anywhere in a command, caught at one place in the
 * connection and turned into `NO (code) "text"` (RFC 5804 §1.2, §1.3;
 * DESIGN "Errors"). ManageSieve has no BAD: a malformed command is a NO too.
 */

/** Response codes we send (RFC 5804 §1.3). */
export type SieveCode =
  | 'QUOTA'
  | 'QUOTA/MAXSCRIPTS'
  | 'QUOTA/MAXSIZE'
  | 'NONEXISTENT'
  | 'ALREADYEXISTS'
  | 'ACTIVE'
  | 'TRYLATER'
  | 'ENCRYPT-NEEDED'
  | 'AUTH-TOO-WEAK';

/** A NO answer. */
export class ManageSieveError extends Error {
  constructor(
    readonly code: SieveCode | null,
    message: string,
    /** A malformed, unknown or misplaced command: counts toward the bad-command limit. */
    readonly badCommand = false,
  ) {
    super(message);
    this.name = 'ManageSieveError';
  }
}

/** Shorthand for a malformed, unknown or misplaced command. */
export const badCommand = (text: string): ManageSieveError => new ManageSieveError(null, text, true);
/** Shorthand for a NO that is not the client's syntax mistake. */
export const failure = (text: string, code: SieveCode | null = null): ManageSieveError => new ManageSieveError(code, text);
