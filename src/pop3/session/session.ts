/**
 * What commands may use of a POP3 connection. Commands speak to the session
 * through this interface, never to the socket, so the protocol core stays
 * testable and the socket handling lives in one place (connection.ts).
 */
import type { SaslSession } from '../../auth/sasl-login.js';
import type { Config } from '../../config/schema.js';
import type { Account } from '../../store/types.js';
import type { Pop3State } from './state.js';

/** The connection as commands see it: what a SASL login needs of it (secure: implicit TLS or after STLS), and more. */
export interface Pop3Session extends SaslSession {
  readonly id: string;
  readonly config: Config;
  /** The client went away: long responses stop early. */
  readonly closed: boolean;
  /** The socket's send buffer is full: call flush() before queueing more. */
  readonly congested: boolean;
  state: Pop3State;
  /** Queues "+OK text". */
  ok(text: string): void;
  /** Queues "+OK text" that opens a multi-line response; until endMultiline(), a failure can only close the connection. */
  beginMultiline(text: string): void;
  /** Queues the terminating "." of a multi-line response. */
  endMultiline(): void;
  /** Queues raw bytes (already framed protocol text). */
  write(bytes: Buffer): void;
  /** Queues message data (RETR/TOP content, already stuffed); the trace shows only its size, at endMultiline(). */
  writeMessageData(bytes: Buffer): void;
  /** Sends queued output and waits while the client is slow to read (backpressure). */
  flush(): Promise<void>;
  /**
   * Sends "+ challenge" and waits for the client's next line (RFC 5034 §4);
   * null when the connection closed. The trace hides the line when the
   * running command declares `secretResponses`.
   */
  continuation(challenge: string): Promise<string | null>;
  /** Switches to TLS after STLS's +OK has been queued (RFC 2595 §4). */
  startTls(): Promise<void>;
  /** Opens the account's maildrop snapshot and enters the TRANSACTION state (RFC 1939 §4). */
  /** Login succeeded; `credential` names how ('password' unless the login path says otherwise). */
  login(account: Account, credential?: string): Promise<void>;
  /** The capability list for the current state (RFC 2449 §5). */
  capabilities(): string[];
}
