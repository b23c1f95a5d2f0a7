/**
 * Branded numeric identifiers shared by every layer. Mixing a UID with a
 * sequence number is the classic IMAP bug; distinct brands make it a type error.
 */
declare const brand: unique symbol;
/** A value of base type T that only code naming B may produce. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Account primary key. */
export type AccountId = Brand<number, 'AccountId'>;
/** Mailbox primary key (unique across accounts). */
export type MailboxId = Brand<number, 'MailboxId'>;
/** IMAP UID: 1..2^32-1, strictly increasing within a mailbox (RFC 9051 §2.3.1.1). */
export type Uid = Brand<number, 'Uid'>;
/** IMAP message sequence number: 1..EXISTS within one session's view (RFC 9051 §2.3.1.2). */
export type SeqNum = Brand<number, 'SeqNum'>;
/** Modification sequence: grows with every change to a mailbox (RFC 7162 §3). */
export type ModSeq = Brand<number, 'ModSeq'>;

/** Brands a number as a UID. */
export const uid = (n: number): Uid => n as Uid;
/** Brands a number as a sequence number. */
export const seq = (n: number): SeqNum => n as SeqNum;
/** Brands a number as a modseq. */
export const modseq = (n: number): ModSeq => n as ModSeq;
