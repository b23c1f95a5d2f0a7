/**
 * What import, export and migrate share: how a message from a source looks
 * on its way into the store, the progress they report, and their results.
 */
import type { MessageAnalysis } from '../../mime/types.js';

/** Receives progress of a long operation (the CLI draws it; tests may count it). */
export interface ProgressSink {
  /** Announces the work ahead; either total may be unknown. */
  begin(totals: { messages?: number; bytes?: number }): void;
  /** Counts work done: messages handled (stored or skipped) and their source bytes. */
  advance(messages: number, bytes: number): void;
}

/** A progress sink that reports nothing. */
export const NO_PROGRESS: ProgressSink = { begin() {}, advance() {} };

/** One message from a source (mbox, Maildir, IMAP server), not yet stored. */
export interface IncomingMessage {
  /** Identifies the message in its source; a key already imported into the mailbox is skipped. */
  sourceKey: string;
  /** The bytes as the source holds them (line ends are converted on the way in); a function reads them only when needed. */
  bytes: Buffer | (() => Promise<Buffer>);
  /** Size in the source, for progress and batching. */
  size: number;
  /** Flags, or a function deriving them from the message's headers (mbox Status lines). */
  flags: string[] | ((analysis: MessageAnalysis) => string[]);
  /** INTERNALDATE; null: the Date header, else the time of import. */
  internalDate: Date | null;
  /** UID to keep when the target mailbox took the source's UIDVALIDITY. */
  uid?: number;
}

/** Counts of one import, export or migration. */
export interface TransferSummary {
  mailboxes: number;
  /** Messages stored (import, migrate) or written (export). */
  messages: number;
  /** Bytes of those messages as stored. */
  bytes: number;
  /** Messages found already imported and left alone. */
  skipped: number;
  /** Messages left out because they exceed the size limit or cannot be stored. */
  rejected: number;
  /** Messages whose flags were brought up to date (migrate). */
  flagsUpdated: number;
  /** True when stopped by the abort signal; what was committed stays consistent. */
  interrupted: boolean;
}

/** A zeroed summary. */
export function emptySummary(): TransferSummary {
  return { mailboxes: 0, messages: 0, bytes: 0, skipped: 0, rejected: 0, flagsUpdated: 0, interrupted: false };
}
