/**
 * The LMTP session states (RFC 5321 §3.3, §4.1.4; RFC 2033 §4.1) as a
 * discriminated union: only a mail transaction carries its envelope, so
 * "RCPT before MAIL" is a type error in the commands, not a runtime surprise.
 */
import type { MessageStager, Recipient } from '../../mail/deliver.js';

/** RFC 6152 / RFC 3030 body types a client may declare with MAIL BODY=. */
export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';

/** A RCPT that was accepted, in order: each gets one reply after the data (RFC 2033 §4.2). */
export interface AcceptedRecipient {
  /** The address as the client gave it (Delivered-To). */
  address: string;
  recipient: Recipient;
}

/** One mail transaction, from MAIL to the end of its data. */
export interface Envelope {
  /** The reverse-path; '' for the null sender <>. */
  sender: string;
  body: BodyType;
  smtputf8: boolean;
  recipients: AcceptedRecipient[];
  /** The message being received by BDAT chunks (RFC 3030), or null before the first. */
  chunks: MessageStager | null;
}

/** Where a session stands. */
export type LmtpState =
  /** Greeted, waiting for LHLO. */
  | { kind: 'connected' }
  /** After LHLO, between transactions. */
  | { kind: 'ready' }
  | { kind: 'transaction'; envelope: Envelope }
  /** After QUIT (or a fatal error): nothing more is read. */
  | { kind: 'closing' };

/** A state's name, as command specs list them. */
export type LmtpStateName = LmtpState['kind'];
