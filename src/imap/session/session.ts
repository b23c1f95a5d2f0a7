/**
 * What commands may use of a connection. Commands speak to the session through
 * this interface, never to the socket, so the protocol core stays testable.
 */
import type { Config } from '../../config/schema.js';
import type { Uid } from '../../ids.js';
import type { Account, NewMessage } from '../../store/types.js';
import type { EncodeMode } from '../../syntax/imap-string.js';
import type { SaslSession } from '../../auth/sasl-login.js';
import type { SessionState } from './state.js';
import type { MailboxIndexCache } from './mailbox-index.js';
import type { MailboxNameCache } from './mailbox-names.js';
import type { SyncMode } from './state.js';
import type { NotifyControl } from '../notify/control.js';
import type { ResponseBatch } from '../../net/response-batch.js';

/** Extensions a client turned on with ENABLE (RFC 5161). */
export type Enabled = Set<'IMAP4REV2' | 'UTF8=ACCEPT' | 'CONDSTORE' | 'QRESYNC' | 'UIDONLY'>;

/** The connection as commands see it: what a SASL login needs of it (secure: implicit TLS or after STARTTLS), and more. */
export interface ImapSession extends SaslSession {
  readonly id: string;
  /** The process-wide shared mailbox index (SELECT snapshots). */
  readonly indexCache: MailboxIndexCache;
  /** The process-wide name → mailbox cache (SELECT). */
  readonly mailboxNames: MailboxNameCache;
  readonly config: Config;
  readonly enabled: Enabled;
  state: SessionState;
  /** SEARCH ... RETURN (SAVE) result for `$` (RFC 5182), as UIDs; reset on SELECT. */
  savedSearch: Uid[] | null;
  /** How values are encoded for this client. */
  readonly encodeMode: EncodeMode;
  /** IMAP4rev2 enabled: rev1-only responses (RECENT, LSUB quirks) are left out. */
  readonly rev2: boolean;
  /** Queues an untagged response line (without "* " and CRLF). */
  untagged(line: Buffer | string): void;
  /** Queues raw bytes (already framed). */
  write(bytes: Buffer): void;
  /** Sends queued output and waits while the client is slow to read (backpressure). */
  flush(): Promise<void>;
  /** Sends queued output at once: false when the client is slow to read and flush() must wait. */
  flushNow(): boolean;
  /**
   * Resolves once the socket (or TLS, or DEFLATE) has taken every byte
   * written so far, so that the buffers passed to write() may be reused.
   * Output still queued is not forced out; the wait covers the write that
   * will carry it. Never rejects; may never resolve if the connection dies.
   */
  whenWritten(): Promise<void>;
  /**
   * Waits only if the client is slow to read; output keeps coalescing into
   * large writes. Long loops (FETCH, LIST, SEARCH) call this between responses.
   */
  backpressure(): Promise<void>;
  /** Streams message data (`size` octets, a FETCH literal's content) from a readable to the client with backpressure; the trace shows only its size. */
  pipeFrom(source: NodeJS.ReadableStream, size: number): Promise<void>;
  /** A batch for many responses (FETCH): it keeps the trace entry of what it holds when tracing is on. */
  responseBatch(): ResponseBatch;
  /** Queues what the batch holds (see ResponseBatch), and traces it. */
  writeBatch(out: ResponseBatch): void;
  /**
   * Sends "+ text" and waits for the client's next line (AUTHENTICATE); null
   * when the connection closed. The trace hides the line when the running
   * command declares `secretResponses`.
   */
  continuation(text: string): Promise<Buffer | null>;
  /** Waits for the next client line without sending anything (IDLE's DONE); resolves null on close; rejects never. Traced like continuation's. */
  readLine(): Promise<Buffer | null>;
  /** Switches to DEFLATE after the tagged OK of COMPRESS has been sent (RFC 4978). */
  startCompression(): Promise<void>;
  /** Whether COMPRESS is active. */
  readonly compressed: boolean;
  /** Switches to TLS after the tagged OK of STARTTLS has been sent. */
  startTls(): Promise<void>;
  /** The capability list for the current state. */
  capabilities(): string[];
  /** Becomes authenticated. */
  /** Login succeeded; `credential` names how ('password' unless the login path says otherwise). */
  authenticated(account: Account, credential?: string): void;
  /** A message streamed by the framer for this command (APPEND): staged bytes and analysis. */
  takeStagedMessage(streamId: number): Promise<Omit<NewMessage, 'flags' | 'internalDate'>>;
  /**
   * Reports changes to the selected mailbox as the RFC allows at this point
   * (the one sync step, sync.ts). `deferFlags`: flag changes are owed to
   * the sync after the command instead of sent now (before and inside a
   * command that answers from message state). Returns nothing when it
   * finished at once, all it needed in memory (an idler after a change's
   * first); otherwise the promise of the rest.
   */
  sync(mode: SyncMode, deferFlags?: boolean): Promise<void> | undefined;
  /**
   * Reports progress of a long command at a response boundary; sends
   * `* OK [INPROGRESS ...]` when the configured interval has passed (RFC 9585).
   */
  progress(done: number, goal: number | null): void;
  /** NOTIFY state and delivery (RFC 5465). */
  readonly notifier: NotifyControl;
  /** Sets a wake-up callback while idling; null to clear. */
  onMailboxChange(listener: (() => void) | null): void;
}
