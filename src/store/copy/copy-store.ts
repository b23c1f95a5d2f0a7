/**
 * Copies a whole installation from one store to another (SQLite → PostgreSQL
 * or any other pair) so that clients do not notice the move: accounts with
 * their password hashes, aliases, subscriptions, mailboxes with their ids,
 * UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, every message with its UID, modseq,
 * flags, dates and EMAILID, expunge tombstones (RFC 7162 §3.2.5.2: a QRESYNC
 * client reconnecting after the move gets the right VANISHED), metadata
 * (RFC 5464), import records and sync states, Sieve scripts and memory, SCRAM
 * keys, app passwords, the admin rows (admin users, API tokens, audit log,
 * sign-ins), and the installation's
 * allocators (RFC 9051 §2.3.1.1: a mailbox created after the move never gets
 * a UIDVALIDITY used before).
 *
 * How: the source dumps section by section in key order, one bounded page at
 * a time (MailStore.dumpPage); each page is restored in one transaction on
 * the target (MailStore.restore), which keeps its derived data (counts, blob
 * references) as its own insertions do. Message bytes stream from blob store
 * to blob store and are checked against their content address; a blob the
 * target already holds (shared by several messages) is not copied again; a
 * composite blob (LMTP per-recipient lines) is recreated as prefix + base, so
 * the base is still stored once. Analyses are copied, not recomputed, so
 * FETCH and BODYSTRUCTURE answers stay identical.
 *
 * Invariants: the target must hold no account (or replace: they and the
 * admin rows are deleted first); the source must not change meanwhile (stop every server using it):
 * the final verification compares every mailbox's state and counts and fails
 * if they differ. An interrupted copy leaves a partial target, which a new
 * run with replace starts over.
 */
import type { AccountId } from '../../ids.js';
import type { MessageAnalysis } from '../../mime/types.js';
import type { DumpedMessage, DumpKey, DumpRecord, DumpSection, MailStore, RestoreRecord, StagedBlob } from '../types.js';
import { DUMP_SECTIONS } from '../types.js';
import { keyOf } from './sections.js';
import { verifyCopy } from './verify.js';

/** Messages per page (one target transaction); analyses of a page are held in memory together. */
const MESSAGE_PAGE = 200;
/** Records per page of the other sections. */
const ROW_PAGE = 1000;
/** Blobs copied at once. */
const COPY_CONCURRENCY = 16;

/** Receives progress (cli/progress.ts Progress fits). */
export interface CopyProgress {
  begin(totals: { messages?: number; bytes?: number }): void;
  advance(messages: number, bytes: number): void;
}

/** Options of copyStore. */
export interface CopyOptions {
  /** Delete the target's accounts (and all they own) first; otherwise a target holding accounts is refused. */
  replace?: boolean;
  progress?: CopyProgress;
  /** Stops after the page being restored; the summary says `interrupted`. */
  signal?: AbortSignal;
}

/** What was copied. */
export interface CopySummary {
  accounts: number;
  aliases: number;
  mailboxes: number;
  messages: number;
  /** Sum of the copied messages' sizes. */
  bytes: number;
  /** Distinct blobs whose bytes were copied (shared and composite blobs count once). */
  blobs: number;
  tombstones: number;
  metadata: number;
  /** Accounts deleted from the target first (replace). */
  replaced: number;
  interrupted: boolean;
}

/** A copy refused (non-empty target) or failed its verification: the message says what to do. */
export class StoreCopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreCopyError';
  }
}

/** Copies everything in `source` into `target` (see the module comment). */
export async function copyStore(source: MailStore, target: MailStore, opts: CopyOptions = {}): Promise<CopySummary> {
  const summary: CopySummary = {
    accounts: 0,
    aliases: 0,
    mailboxes: 0,
    messages: 0,
    bytes: 0,
    blobs: 0,
    tombstones: 0,
    metadata: 0,
    replaced: 0,
    interrupted: false,
  };
  summary.replaced = await emptyTarget(target, opts.replace ?? false);
  opts.progress?.begin(await sourceTotals(source));
  // The allocators must end at least at the largest values in use, whatever the source's counters say.
  const largest = { account: 0, mailbox: 0, uidValidity: 0 };
  for (const section of DUMP_SECTIONS) {
    for await (const page of pages(source, section)) {
      if (opts.signal?.aborted) return { ...summary, interrupted: true };
      let records: RestoreRecord[];
      if (section === 'messages') {
        records = await stageBlobs(source, target, page as DumpedMessage[], summary);
      } else {
        records = page.map((r) => (r.kind === 'counters' ? raised(r, largest) : (r as RestoreRecord)));
      }
      await target.restore(records);
      for (const r of page) count(r, summary, largest);
      if (section === 'messages')
        opts.progress?.advance(
          page.length,
          page.reduce((sum, r) => sum + (r as DumpedMessage).size, 0),
        );
    }
  }
  const problems = await verifyCopy(source, target);
  if (problems.length > 0) {
    throw new StoreCopyError(
      `the copy differs from the source (${problems.join('; ')}). Was a server still using the source? Stop it and run the copy again with --replace.`,
    );
  }
  return summary;
}

/** Refuses a target holding accounts, or deletes them and the admin rows (replace); returns how many accounts were deleted. */
async function emptyTarget(target: MailStore, replace: boolean): Promise<number> {
  if (replace) await target.clearAdministration();
  const accounts = await target.listAccounts();
  if (accounts.length === 0) return 0;
  if (!replace) {
    const names = accounts
      .slice(0, 3)
      .map((a) => a.name)
      .join(', ');
    throw new StoreCopyError(
      `the target already holds ${accounts.length} account(s) (${names}${accounts.length > 3 ? ', …' : ''}); ` +
        'refusing to copy into it (use --replace to delete them and everything they own first)',
    );
  }
  for (const account of accounts) await target.deleteAccount(account.id);
  return accounts.length;
}

/** What the progress display counts towards: the source's live messages and their bytes. */
async function sourceTotals(source: MailStore): Promise<{ messages: number; bytes: number }> {
  let messages = 0;
  let bytes = 0;
  for (const account of await source.listAccounts()) {
    const usage = await source.getQuotaUsage(account.id as AccountId);
    messages += usage.usedMessages;
    bytes += usage.usedStorage;
  }
  return { messages, bytes };
}

/** The pages of one section, each read after the previous one's last key. */
async function* pages(source: MailStore, section: DumpSection): AsyncGenerator<DumpRecord[]> {
  const limit = section === 'messages' ? MESSAGE_PAGE : ROW_PAGE;
  let after: DumpKey | null = null;
  for (;;) {
    const page = await source.dumpPage(section, after, limit);
    if (page.length === 0) return;
    yield page;
    after = keyOf(page[page.length - 1]!);
  }
}

/** The counters record, raised to the largest ids and UIDVALIDITY seen (they precede it in the dump). */
function raised(r: Extract<DumpRecord, { kind: 'counters' }>, largest: { account: number; mailbox: number; uidValidity: number }): RestoreRecord {
  return {
    kind: 'counters',
    lastAccountId: Math.max(r.lastAccountId, largest.account),
    lastMailboxId: Math.max(r.lastMailboxId, largest.mailbox),
    lastUidValidity: Math.max(r.lastUidValidity, largest.uidValidity),
  };
}

function count(r: DumpRecord, s: CopySummary, largest: { account: number; mailbox: number; uidValidity: number }): void {
  switch (r.kind) {
    case 'account':
      s.accounts++;
      largest.account = Math.max(largest.account, r.id);
      break;
    case 'alias':
      s.aliases++;
      break;
    case 'mailbox':
      s.mailboxes++;
      largest.mailbox = Math.max(largest.mailbox, r.id);
      largest.uidValidity = Math.max(largest.uidValidity, r.uidValidity);
      break;
    case 'message':
      s.messages++;
      s.bytes += r.size;
      break;
    case 'tombstone':
      s.tombstones++;
      break;
    case 'metadata':
      s.metadata++;
      break;
    default:
      break;
  }
}

/**
 * Makes every blob of a page of messages available in the target: already
 * there (nothing to do), copied byte for byte, or (composite) recreated over
 * its base. Returns the page as restore records.
 */
async function stageBlobs(source: MailStore, target: MailStore, page: readonly DumpedMessage[], summary: CopySummary): Promise<RestoreRecord[]> {
  const present = await target.restorableBlobs([...new Set(page.flatMap((m) => (m.composite ? [m.blobId, m.composite.baseId] : [m.blobId])))]);
  // The bytes to copy, each blob once: plain blobs, and the bases of composites.
  const missing = new Map<string, number>();
  for (const m of page) {
    if (present.has(m.blobId)) continue;
    if (!m.composite) missing.set(m.blobId, m.size);
    else if (!present.has(m.composite.baseId)) missing.set(m.composite.baseId, m.composite.baseSize);
  }
  const copied = new Map<string, StagedBlob>();
  // Several at once: each staged blob waits for its own fsyncs.
  await inParallel([...missing], COPY_CONCURRENCY, async ([blobId, size]) => {
    copied.set(blobId, await copyBytes(source, target, blobId, size));
  });
  summary.blobs += missing.size;
  const blobOf = (blobId: string, size: number): StagedBlob => copied.get(blobId) ?? { blobId, size };
  const staged = new Map<string, { blob: StagedBlob; analysis: MessageAnalysis | null }>();
  const out: RestoreRecord[] = [];
  for (const m of page) {
    let s = staged.get(m.blobId);
    if (!s) {
      if (present.has(m.blobId)) {
        s = { blob: { blobId: m.blobId, size: m.size }, analysis: null };
      } else if (m.composite) {
        const { baseId, baseSize, prefix, baseFrom } = m.composite;
        if (prefix.length + baseSize - baseFrom !== m.size) throw new StoreCopyError(`composite blob ${m.blobId} does not add up to ${m.size} bytes`);
        // As NewMessage: a composite carries its base's analysis.
        const blob: StagedBlob = { blobId: m.blobId, size: m.size, composite: { prefix, base: blobOf(baseId, baseSize), baseFrom } };
        s = { blob, analysis: await analysisOf(source, baseId) };
      } else {
        s = { blob: blobOf(m.blobId, m.size), analysis: await analysisOf(source, m.blobId) };
      }
      staged.set(m.blobId, s);
    }
    const { kind, accountId, mailboxId, uid, modseq, flags, internalDate, saveDate, emailId } = m;
    out.push({ kind, accountId, mailboxId, uid, modseq, flags, internalDate, saveDate, emailId, ...s });
  }
  return out;
}

/** Runs fn on every item, at most `width` at a time. */
async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** Streams a plain blob's bytes into the target's blob store and checks them against their address. */
async function copyBytes(source: MailStore, target: MailStore, blobId: string, size: number): Promise<StagedBlob> {
  const writer = target.blobs.createWriter(size);
  let staged: StagedBlob;
  try {
    for await (const chunk of source.blobs.createReadStream(blobId)) {
      if (!writer.write(chunk as Buffer)) await writer.drained();
    }
    staged = await writer.finish();
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
  if (staged.blobId !== blobId || staged.size !== size) {
    throw new StoreCopyError(`blob ${blobId} (${size} bytes) of the source reads back as ${staged.blobId} (${staged.size} bytes): its bytes are damaged`);
  }
  return staged;
}

async function analysisOf(source: MailStore, blobId: string): Promise<MessageAnalysis> {
  const analysis = await source.getAnalysis(blobId, { bodyText: true });
  if (!analysis) throw new StoreCopyError(`blob ${blobId} has no stored analysis in the source`);
  return analysis;
}
