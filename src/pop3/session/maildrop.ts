/**
 * A POP3 session's maildrop: a snapshot of INBOX taken at login (RFC 1939 §4),
 * numbered 1..n, with deletion marks that only QUIT applies (§6) and the
 * messages retrieved, which get \Seen when the session ends (QUIT or not),
 * in one store call: like Dovecot, and unlike one durable transaction per RETR
 * for a client that downloads a thousand messages one at a time.
 *
 * Invariants:
 * - Message numbers never change during a session; a message marked deleted
 *   is hidden from every command but keeps its number.
 * - Nothing is removed before QUIT: a dropped connection, a timeout or a
 *   server shutdown leaves every message in place (RFC 1939 §6).
 * - QUIT removes exactly the marked messages (UID EXPUNGE semantics,
 *   RFC 4315 §2.1), never other messages an IMAP client flagged \Deleted.
 *   The store publishes the change, so IMAP sessions see EXPUNGE/VANISHED.
 * - A unique-id is derived from UIDVALIDITY and UID only, so it is stable
 *   forever and never reused (RFC 1939 §7 UIDL, RFC 9051 §2.3.1.1).
 * - Read-ahead is bounded: at most READ_AHEAD small messages (each at most
 *   READ_WHOLE_LIMIT octets) are held per session.
 */
import type { AccountId, Uid } from '../../ids.js';
import type { Mailbox, MailStore } from '../../store/types.js';
import { failure } from '../errors.js';
import { messageChunks, READ_WHOLE_LIMIT, readWhole } from './message-source.js';
import type { MessageSizes } from './message-sizes.js';

/** One message of the snapshot. */
export interface DropMessage {
  /** Its RFC 1939 message-number, 1-based. */
  readonly n: number;
  readonly uid: Uid;
  /** Octets as stored. */
  readonly storedSize: number;
  /** Had \Seen at login, or has been given it since. */
  seen: boolean;
  deleted: boolean;
  /** Where its bytes are, once looked up. */
  blobId: string | null;
  /** Octets as RETR sends them (LIST, STAT), once known. */
  octets: number | null;
}

/** getRecords takes at most this many UIDs per call (store/types.ts). */
const RECORD_BATCH = 1000;
/** Blob ids looked up at once when a client walks the maildrop in order. */
const LOOKUP_AHEAD = 100;
/**
 * Messages read ahead of a client that fetches in order (the usual "download
 * everything new" loop): where reads are round trips (PostgreSQL) they overlap
 * the sending of the current message and the client's round trip; the file
 * store serves them at once from the page cache (readWhole).
 */
const READ_AHEAD = 4;
const SEEN = '\\Seen';

/** What a maildrop needs from the server. */
export interface MaildropDeps {
  store: MailStore;
  sizes: MessageSizes;
}

/** The snapshot of one session. */
export class Maildrop {
  /** Retrieved messages whose \Seen is not stored yet. */
  private unsavedSeen: DropMessage[] = [];
  /** Whole-message reads started ahead of the client (see READ_AHEAD). */
  private ahead = new Map<DropMessage, Promise<Buffer>>();

  private constructor(
    private readonly deps: MaildropDeps,
    private readonly accountId: AccountId,
    private readonly mailbox: Mailbox,
    private readonly messages: readonly DropMessage[],
  ) {}

  /** Takes the snapshot of the account's INBOX. */
  static async open(deps: MaildropDeps, accountId: AccountId): Promise<Maildrop> {
    const inbox = await deps.store.getMailbox(accountId, 'INBOX');
    if (!inbox) throw failure('The INBOX is missing', 'SYS/PERM');
    const summaries = await deps.store.listSummaries(accountId, inbox.id);
    const messages = summaries.map(
      (s, i): DropMessage => ({
        n: i + 1,
        uid: s.uid,
        storedSize: s.size,
        seen: s.flags.includes(SEEN),
        deleted: false,
        blobId: null,
        octets: s.size === 0 ? 0 : null,
      }),
    );
    return new Maildrop(deps, accountId, inbox, messages);
  }

  /** Messages in the snapshot, deleted ones included (the highest message-number). */
  get count(): number {
    return this.messages.length;
  }

  /** The message with this number, unless out of range or marked deleted (RFC 1939 §5). */
  message(n: number): DropMessage {
    const m = this.messages[n - 1];
    if (!m) throw failure(`There is no message ${n}`);
    if (m.deleted) throw failure(`Message ${n} is deleted`);
    return m;
  }

  /** Messages not marked deleted, in order. */
  live(): DropMessage[] {
    return this.messages.filter((m) => !m.deleted);
  }

  /** RFC 1939 §7 unique-id: Dovecot's default format (%08Xu%08Xv), so UIDLs survive a migration that keeps UIDs. */
  uniqueId(m: DropMessage): string {
    const hex = (x: number): string => x.toString(16).toUpperCase().padStart(8, '0');
    return `${hex(m.uid)}${hex(this.mailbox.uidValidity)}`;
  }

  /** Fills in `octets` for the given messages (reads the ones no session has sized yet). */
  async size(list: readonly DropMessage[]): Promise<void> {
    const todo = list.filter((m) => m.octets === null);
    await this.lookUpBlobs(todo);
    const known = todo.filter((m) => m.blobId !== null);
    const sizes = await this.deps.sizes.countAll(known.map((m) => ({ blobId: m.blobId!, storedSize: m.storedSize })));
    known.forEach((m, i) => (m.octets = sizes[i]!));
    // Gone for good (expunged elsewhere and released): the stored size is the best answer left.
    for (const m of todo) m.octets ??= m.storedSize;
  }

  /** The message's blob id; a failure when it no longer exists. */
  async blobOf(m: DropMessage): Promise<string> {
    await this.lookUpBlobs([m]);
    if (m.blobId === null) throw failure(`Message ${m.n} was removed from the mailbox by another session`);
    return m.blobId;
  }

  /**
   * The message's bytes as chunks (RETR, TOP); starts reading the next few
   * messages, so a client fetching in order finds them ready.
   */
  async read(m: DropMessage): Promise<AsyncGenerator<Buffer>> {
    const blobId = await this.blobOf(m);
    const early = this.ahead.get(m);
    await this.readAhead(m);
    return messageChunks(this.deps.store.blobs, blobId, m.storedSize, early);
  }

  /** Keeps whole-message reads under way for the small live messages after m, and only those. */
  private async readAhead(m: DropMessage): Promise<void> {
    const next = this.messages.slice(m.n, m.n + READ_AHEAD).filter((x) => !x.deleted && x.storedSize <= READ_WHOLE_LIMIT);
    if (next.some((x) => x.blobId === null)) await this.lookUpBlobs(this.messages.slice(m.n, m.n + LOOKUP_AHEAD));
    const ahead = new Map<DropMessage, Promise<Buffer>>();
    for (const x of next) {
      if (x.blobId === null) continue;
      let read = this.ahead.get(x);
      if (!read) {
        read = readWhole(this.deps.store.blobs, x.blobId, x.storedSize);
        read.catch(() => undefined); // a failure surfaces when (if) the client asks for the message
      }
      ahead.set(x, read);
    }
    this.ahead = ahead;
  }

  /** Marks a message deleted (DELE). */
  delete(m: DropMessage): void {
    m.deleted = true;
  }

  /** Unmarks every deleted message (RSET). */
  reset(): void {
    for (const m of this.messages) m.deleted = false;
  }

  /** Notes a complete RETR of `octets`: the size is remembered and the message gets \Seen at the next saveSeen(). */
  retrieved(m: DropMessage, octets: number): void {
    m.octets = octets;
    if (m.blobId !== null) this.deps.sizes.remember(m.blobId, octets);
    if (m.seen) return;
    m.seen = true;
    this.unsavedSeen.push(m);
  }

  /** Stores \Seen for the messages retrieved so far, in one store call. */
  async saveSeen(): Promise<void> {
    if (this.unsavedSeen.length === 0) return;
    const uids = this.unsavedSeen.map((m) => m.uid);
    this.unsavedSeen = [];
    await this.deps.store.storeFlags(this.accountId, this.mailbox.id, uids, { op: 'add', flags: [SEEN] });
  }

  /**
   * RFC 1939 §6 UPDATE state: stores pending \Seen, then removes the messages
   * marked deleted, and only those. Returns how many were marked.
   */
  async update(): Promise<number> {
    await this.saveSeen();
    const uids = this.messages.filter((m) => m.deleted).map((m) => m.uid);
    if (uids.length === 0) return 0;
    await this.deps.store.storeFlags(this.accountId, this.mailbox.id, uids, { op: 'add', flags: ['\\Deleted'] });
    await this.deps.store.expunge(this.accountId, this.mailbox.id, uids);
    return uids.length;
  }

  /** Looks up blob ids for messages that lack one, in store-sized batches; gone messages keep null. */
  private async lookUpBlobs(list: readonly DropMessage[]): Promise<void> {
    const todo = list.filter((m) => m.blobId === null);
    for (let i = 0; i < todo.length; i += RECORD_BATCH) {
      const batch = todo.slice(i, i + RECORD_BATCH);
      const byUid = new Map(batch.map((m) => [m.uid as number, m]));
      const records = await this.deps.store.getRecords(
        this.accountId,
        this.mailbox.id,
        batch.map((m) => m.uid),
      );
      for (const r of records) {
        const m = byUid.get(r.uid);
        if (m) m.blobId = r.blobId;
      }
    }
  }
}
