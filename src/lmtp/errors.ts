/**
 * Failure replies: thrown anywhere in a command, caught at one place in the
 * connection and written as "code enhanced text" (DESIGN "Errors"; RFC 5321
 * §4.2, enhanced codes from RFC 3463 as RFC 2034 asks).
 */

/** A 4xx/5xx reply to one command. */
export class LmtpError extends Error {
  constructor(
    readonly code: number,
    /** RFC 3463 enhanced status code, e.g. '5.5.1'. */
    readonly enhanced: string,
    message: string,
    /** A malformed, unknown or misplaced command: counts toward the bad-command limit. */
    readonly badCommand = false,
  ) {
    super(message);
    this.name = 'LmtpError';
  }
}

/** RFC 5321 §4.3.2: a command out of order (also RFC 2033 §4.2 DATA without recipients). */
export const badSequence = (text = 'Bad sequence of commands'): LmtpError => new LmtpError(503, '5.5.1', text, true);
/** A command whose arguments cannot be parsed (RFC 3463 X.5.4: invalid command arguments). */
export const badSyntax = (text: string, enhanced = '5.5.4'): LmtpError => new LmtpError(501, enhanced, text, true);
