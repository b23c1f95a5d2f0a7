/**
 * What commands may use of an LMTP connection. Commands speak to the session
 * through this interface, never to the socket, so the socket handling lives
 * in one place (connection.ts).
 */
import type { Logger } from 'pino';
import type { SieveDelivery } from '../../mail/sieve-delivery.js';
import type { Config } from '../../config/schema.js';
import type { AddressingRules, MessageStager } from '../../mail/deliver.js';
import type { MailStore } from '../../store/types.js';
import type { LmtpState } from './state.js';

/** The connection as commands see it. */
export interface LmtpSession {
  readonly id: string;
  readonly store: MailStore;
  /** Runs the recipients' Sieve scripts, or null. */
  readonly sieve: SieveDelivery | null;
  readonly config: Config;
  readonly log: Logger;
  /** How recipient addresses name accounts. */
  readonly rules: AddressingRules;
  /** The name the server gives itself in the greeting and LHLO reply. */
  readonly hostname: string;
  state: LmtpState;
  /** Queues one reply line (RFC 5321 §4.2; enhanced code null only where RFC 2034 allows, e.g. the greeting). */
  reply(code: number, enhanced: string | null, text: string): void;
  /** Queues a multi-line reply. */
  replyLines(code: number, lines: readonly string[]): void;
  /** Sends queued replies and waits while the client is slow to read. */
  flush(): Promise<void>;
  /** Reads DATA's dot-stuffed message into `sink` up to <CRLF>.<CRLF>; false when the connection closed first. */
  readData(sink: MessageStager): Promise<boolean>;
  /** Reads exactly `size` octets (a BDAT chunk) into `sink`, or discards them when it is null; false when the connection closed first. */
  readChunk(size: number, sink: MessageStager | null): Promise<boolean>;
}
