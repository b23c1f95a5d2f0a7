/** Failures the CLI reports on stderr, with the exit code to use. */

/** Exit code for usage and configuration errors (bad flags, invalid settings or arguments). */
export const EXIT_USAGE = 2;
/** Exit code for an operation that failed (user exists, port taken …). */
export const EXIT_FAILURE = 1;

/** An expected failure: main prints `mailkeep: <message>` (or the bare message) and exits with exitCode. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    /** The message already names its origin (e.g. `config error: …` lines): print it without the `mailkeep:` prefix. */
    readonly bare = false,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
