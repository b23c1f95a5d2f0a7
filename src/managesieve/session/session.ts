/**
 * What commands may use of a ManageSieve connection. Commands speak to the
 * session through this interface, never to the socket, so the socket
 * handling lives in one place (connection.ts).
 */
import type { SaslSession } from '../../auth/sasl-login.js';
import type { Config } from '../../config/schema.js';
import type { Account } from '../../store/types.js';
import type { SieveSessionState } from './state.js';

/** The connection as commands see it: what a SASL login needs of it (secure after STARTTLS), and more. */
export interface SieveSession extends SaslSession {
  readonly id: string;
  readonly config: Config;
  state: SieveSessionState;
  /** Queues framed protocol bytes. */
  write(bytes: Buffer): void;
  /** Queues `OK (code) "text"`; `codeArg` is the code's string (TAG, SASL). */
  ok(text: string, code?: string | null, codeArg?: string | Buffer): void;
  /** Queues the capability lines of the current state, without the closing OK (RFC 5804 §1.7). */
  writeCapabilities(): void;
  /**
   * Sends a SASL challenge (base64, as a string, RFC 5804 §2.1) and waits for the client's
   * response string; null when the connection closed. The trace hides the response.
   */
  continuation(challenge: string): Promise<string | null>;
  /** Switches to TLS after STARTTLS's OK has been queued, and re-sends the capabilities (RFC 5804 §2.2). */
  startTls(): Promise<void>;
  /** Login succeeded; `credential` names how, for the live-session list. */
  login(account: Account, credential?: string): void;
  /** Back to the non-authenticated state (RFC 5804 §2.14.1 UNAUTHENTICATE). */
  logout(): void;
}
