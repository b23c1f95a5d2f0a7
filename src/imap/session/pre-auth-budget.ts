/**
 * What a connection that has not logged in may make the server hold: a
 * command of a few KiB (LOGIN and its literals), AUTHENTICATE lines large
 * enough for OAuth bearer tokens (SASL-IR, RFC 4959; continuation lines, RFC
 * 9051 §6.2.2), and little input waiting to be framed. Checked before the
 * bytes are kept: the framer's limits bound a line as it arrives, a literal
 * is refused when announced (RFC 7888 §4), a whole command when complete.
 */
import type { Config } from '../../config/schema.js';
import type { FramerLimits, Segment } from '../wire/framer.js';

type Limits = Config['limits'];

/** The framer's limits: before login no line or command may outgrow the SASL budget. */
export function framerLimits(limits: Limits, authed: boolean): FramerLimits {
  if (authed) return { maxLineLength: limits.maxLineLength, maxCommandSize: limits.maxCommandSize };
  return { maxLineLength: Math.min(limits.maxLineLength, limits.preAuthSaslSize), maxCommandSize: Math.min(limits.maxCommandSize, limits.preAuthSaslSize) };
}

/**
 * Input that may wait to be framed before reading pauses; null: the
 * transport's default. Reading resumes below half of it, which must stay
 * above the longest line, so a line can always complete.
 */
export function inputLimit(limits: Limits, authed: boolean): number | null {
  return authed ? null : 2 * framerLimits(limits, false).maxLineLength + 4096;
}

/** Octets of the command framed so far. */
function size(segments: readonly Segment[]): number {
  let n = 0;
  for (const s of segments) n += s.kind === 'stream' ? s.size : s.bytes.length;
  return n;
}

/** Whether the command is AUTHENTICATE (`tag SP "AUTHENTICATE"`, RFC 9051 §9). */
function isAuthenticate(segments: readonly Segment[]): boolean {
  const first = segments[0];
  if (first?.kind !== 'text') return false;
  const space = first.bytes.indexOf(0x20);
  if (space < 0) return false;
  return /^authenticate(?: |$)/i.test(first.bytes.subarray(space + 1, space + 14).toString('latin1'));
}

/** The most octets this command may hold before login. */
export function preAuthCommandLimit(limits: Limits, segments: readonly Segment[]): number {
  return isAuthenticate(segments) ? limits.preAuthSaslSize : limits.preAuthCommandSize;
}

/** Octets still allowed to the command before login (what a literal announced now may take). */
export function preAuthRoom(limits: Limits, segments: readonly Segment[]): number {
  return Math.max(0, preAuthCommandLimit(limits, segments) - size(segments));
}

/** Whether a complete command is over its budget before login. */
export function overPreAuthBudget(limits: Limits, segments: readonly Segment[]): boolean {
  return size(segments) > preAuthCommandLimit(limits, segments);
}
