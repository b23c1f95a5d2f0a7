/**
 * The flag vocabulary every protocol and tool shares (RFC 9051 §2.3.2):
 * the system flags a message may carry, in canonical case, and flag
 * comparison, which is case-insensitive.
 */

/** System flags a client may store, in canonical case. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;
const CANONICAL = new Map<string, string>(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** The canonical spelling of a system flag given in any case, or undefined when it is none (\Recent is none). */
export function systemFlag(flag: string): string | undefined {
  return CANONICAL.get(flag.toLowerCase());
}

/** Whether a flag list contains a flag (case-insensitive, as IMAP compares flags). */
export function hasFlag(flags: readonly string[], flag: string): boolean {
  const f = flag.toLowerCase();
  return flags.some((x) => x.toLowerCase() === f);
}
