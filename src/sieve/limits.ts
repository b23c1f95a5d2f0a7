/**
 * Limits of the Sieve layer. Every input-driven size, count, depth and loop of
 * the parser and the runner is bounded by one of these (DESIGN invariant 6);
 * a hostile script stops with a clear error instead of holding the event loop.
 */

/** The bounds one parse and one run respect. */
export interface SieveLimits {
  /** Largest script in bytes (UTF-8). */
  maxScriptBytes: number;
  /** Deepest nesting of blocks and test lists. */
  maxNesting: number;
  /** Most strings in one string list. */
  maxStringList: number;
  /** Most actions one run may produce (keep, fileinto, redirect, vacation…). */
  maxActions: number;
  /** Most redirects one run may produce. */
  maxRedirects: number;
  /** Largest variable value in characters (longer values are truncated, RFC 5229 §3). */
  maxVariableSize: number;
  /** Most variables one run may define. */
  maxVariables: number;
  /** Deepest include chain (RFC 6609 §3.2). */
  maxIncludeDepth: number;
  /** Most scripts one run may include. */
  maxIncludes: number;
  /** Evaluation steps (commands, tests, comparisons) one run may spend. */
  maxSteps: number;
  /** Wall time one run may spend, in milliseconds. */
  maxRunMs: number;
  /** Longest regex pattern in characters. */
  maxRegexPattern: number;
  /** Longest string a regex or :matches pattern is applied to (longer subjects are cut). */
  maxMatchSubject: number;
  /** Most bytes of body text the body test examines. */
  maxBodyBytes: number;
  /** Most header fields the message view reads. */
  maxHeaderFields: number;
}

/** Defaults in the range Pigeonhole uses (sieve_max_script_size 1M, sieve_max_actions 32, sieve_max_redirects 4). */
export const DEFAULT_SIEVE_LIMITS: Readonly<SieveLimits> = {
  maxScriptBytes: 1024 * 1024,
  maxNesting: 32,
  maxStringList: 1024,
  maxActions: 32,
  maxRedirects: 4,
  maxVariableSize: 4096,
  maxVariables: 255,
  maxIncludeDepth: 10,
  maxIncludes: 32,
  maxSteps: 100_000,
  maxRunMs: 5000,
  maxRegexPattern: 512,
  maxMatchSubject: 64 * 1024,
  maxBodyBytes: 1024 * 1024,
  maxHeaderFields: 2000,
};

/** The defaults with the given overrides. */
export function sieveLimits(overrides: Partial<SieveLimits> = {}): SieveLimits {
  return { ...DEFAULT_SIEVE_LIMITS, ...overrides };
}
