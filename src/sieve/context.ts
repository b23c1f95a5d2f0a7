/**
 * What a run asks of the world, answered by the delivery layer (mail/deliver)
 * so the runner itself does no I/O. Every method may answer synchronously or
 * with a promise.
 */
import type { PartIndex } from '../mime/index.js';
import type { SieveEnvelope } from './message.js';

/** The spamtest/virustest sources (RFC 5235): header names from the configuration. */
export interface ScoreHeaders {
  /** Header whose first number is the spam score; `max` is the score that counts as 100 %. */
  spam?: { header: string; max: number };
  /** Header whose first digit 0–5 is the virustest value (RFC 5235 §3.3). */
  virus?: { header: string };
}

/** The questions a run may ask, and the facts it needs. */
export interface SieveContext {
  /** The envelope of this delivery. */
  envelope: SieveEnvelope;
  /** The account's own addresses (RFC 5230 §4.5), the envelope recipient included by the runner. */
  userAddresses: readonly string[];
  /** RFC 5490 mailboxexists and fileinto :create decisions. */
  mailboxExists(name: string): boolean | Promise<boolean>;
  /**
   * RFC 8579 §3 specialuse_exists: whether the mailbox (or, with null, some
   * mailbox each) has every one of the special-use attributes. Absent: none has.
   */
  specialUseExists?(mailbox: string | null, attributes: readonly string[]): boolean | Promise<boolean>;
  /**
   * RFC 5490 §3.3/§4.1: the value of an annotation of the mailbox (null: a
   * server annotation), as the user sees it, or null when it has none (or the
   * mailbox does not exist). Absent: no annotations.
   */
  metadata?(mailbox: string | null, entry: string): string | null | Promise<string | null>;
  /** RFC 7352: was this id seen under this handle in the last `seconds`? (The run only asks; tracking is an action.) */
  duplicateSeen(id: string, handle: string, seconds: number): boolean | Promise<boolean>;
  /** RFC 5230 §4.2: was a reply sent to `sender` under `handle` within `seconds`? */
  vacationAlreadySent(sender: string, handle: string, seconds: number): boolean | Promise<boolean>;
  /** RFC 6609: the text of a personal or global script, or null when there is none. */
  includeScript?(name: string, location: 'personal' | 'global'): string | null | Promise<string | null>;
  /** RFC 5183 environment items (name, version, host, domain, location, phase, remote-host, remote-ip…). */
  environment?: Readonly<Record<string, string>>;
  /** RFC 5235 score headers; without them spamtest and virustest see "not tested". */
  scores?: ScoreHeaders;
  /** The current time for currentdate and vacation (default: the clock). */
  now?: Date;
  /** The local zone in minutes east of UTC for date tests (RFC 5260 §4.1; default: the process's zone). */
  zoneMinutes?: number;
  /** The message's part tree when the caller already analyzed it (ingestion does); else the body test analyzes on first use. */
  parts?: PartIndex;
  /** RFC 5230 §4.1 / RFC 6131: default, shortest and longest reply period in seconds. */
  vacationPeriod?: { default: number; min: number; max: number };
}
