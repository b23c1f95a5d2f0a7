/**
 * Public API of the Sieve layer (RFC 5228 and the extensions listed in
 * README "Sieve"). I/O-free and bounded: `parseSieve` checks a script
 * (syntax and the `require`d extensions) and gives every error's line and
 * column; `runSieve` runs it on one message and returns the actions, asking
 * the context (which also carries the envelope) for anything outside the
 * message.
 *
 * What the delivery layer does with the actions, in order:
 * - `keep` (implicit or not): store in INBOX with `flags`; `fileinto`: store
 *   in `mailbox` (create it first when `create`, RFC 5490 §3.2) with `flags`.
 *   When `header` is set (editheader), store `header` + the original body.
 * - `redirect`: resend to `address` (with `header` when set); `copy` only
 *   says the implicit keep was not cancelled.
 * - `reject`: refuse with `reason` (at LMTP time a per-recipient 550 where
 *   possible, RFC 5429 §2.1/§2.2 for ereject).
 * - `discard`: nothing to do; it is listed so tools can show it.
 * - `vacation`: when `respond`, send the reply to `to` and remember
 *   (`to`, `handle`) for `seconds`; otherwise `skipped` says why not.
 * - `track-duplicate`: remember `id` under `handle` for `seconds` once the
 *   message is delivered (RFC 7352 §3).
 * A result with `errors` holds only the implicit keep: log the errors.
 */
import type { SieveError } from './ast.js';
import { compileSieve } from './compile-script.js';
import type { CompiledScript } from './compiled.js';
import type { SieveContext } from './context.js';
import { type SieveLimits, sieveLimits } from './limits.js';
import { runCompiled, type SieveRunResult } from './run.js';

export type { SieveError, Position } from './ast.js';
export type { SieveAction, VacationAction } from './actions.js';
export type { CompiledScript } from './compiled.js';
export type { SieveContext, ScoreHeaders } from './context.js';
export type { SieveEnvelope } from './message.js';
export type { SieveRunResult } from './run.js';
export { DEFAULT_SIEVE_LIMITS, sieveLimits, type SieveLimits } from './limits.js';
export { EXTENSIONS as SIEVE_EXTENSIONS } from './grammar.js';

/** Parses and validates a script: the runnable script, or its errors with line and column. */
export function parseSieve(text: string, limits: Partial<SieveLimits> = {}): { ok: true; script: CompiledScript } | { ok: false; errors: SieveError[] } {
  return compileSieve(text, sieveLimits(limits));
}

/** Runs a parsed script on a message; script faults give the implicit keep plus `errors` (RFC 5228 §2.10.6). */
export function runSieve(script: CompiledScript, message: Buffer, context: SieveContext, limits: Partial<SieveLimits> = {}): Promise<SieveRunResult> {
  return runCompiled(script, message, context, sieveLimits(limits));
}
