/**
 * The one path by which import and migrate put messages into a mailbox:
 * batches of messages, each committed in one store transaction together with
 * the messages' source keys (store importMessages), so an interrupted run
 * leaves whole batches and a second run skips them.
 *
 * Invariants: stored bytes are the source bytes with bare LF turned into CRLF
 * (line-endings.ts), nothing else; memory is bounded by the batch limits and
 * the message size limit; the abort signal is honoured only between commits.
 */
import { analyzeMessage } from '../../mime/analyze.js';
import { isInternalDateInRange } from '../../mime/calendar-day.js';
import type { AccountId } from '../../ids.js';
import type { ImportedMessage, MailStore, Mailbox } from '../../store/types.js';
import { uid as toUid } from '../../ids.js';
import { toCrlf } from './line-endings.js';
import type { IncomingMessage, ProgressSink, TransferSummary } from './types.js';
import { mapLimit } from '../map-limit.js';

/** Limits and callbacks of an import. */
export interface ImportLimits {
  /** Largest message stored, in bytes after line-end conversion; larger ones are left out with a warning. */
  maxMessageSize: number;
  /** Messages per transaction (default 200). */
  batchSize?: number;
  /** Source bytes per transaction (default 64 MiB); a batch closes when either limit is reached. */
  batchBytes?: number;
  /** Messages read, analysed and staged at once (default 4): overlaps the blob store's fsyncs. */
  concurrency?: number;
  progress: ProgressSink;
  warn: (message: string) => void;
  /** Stops the import after the batch being committed. */
  signal?: AbortSignal;
}

const DEFAULT_BATCH = 200;
const DEFAULT_BATCH_BYTES = 64 * 1024 * 1024;
const DEFAULT_CONCURRENCY = 4;

/** Imports messages into one mailbox, batch by batch, counting into a shared summary. */
export class MailboxImporter {
  constructor(
    private readonly store: MailStore,
    private readonly accountId: AccountId,
    readonly mailbox: Mailbox,
    private readonly limits: ImportLimits,
    private readonly summary: TransferSummary,
  ) {}

  /** Stores one batch in one transaction; messages whose source key is already imported are skipped unread. */
  async addBatch(items: readonly IncomingMessage[]): Promise<void> {
    if (items.length === 0) return;
    const known = await this.store.findImported(
      this.accountId,
      this.mailbox.id,
      items.map((m) => m.sourceKey),
    );
    const todo = items.filter((m) => !known.has(m.sourceKey));
    this.summary.skipped += items.length - todo.length;
    const staged = await mapLimit(todo, this.limits.concurrency ?? DEFAULT_CONCURRENCY, (m) => this.stage(m));
    const ready = staged.filter((m): m is ImportedMessage => m !== null);
    if (ready.length > 0) {
      const { uids } = await this.store.importMessages(this.accountId, this.mailbox.id, ready);
      uids.forEach((u, i) => {
        if (u === null) {
          this.summary.skipped++; // repeated within the batch
        } else {
          this.summary.messages++;
          this.summary.bytes += ready[i]!.blob.size;
        }
      });
    }
    this.limits.progress.advance(
      items.length,
      items.reduce((sum, m) => sum + m.size, 0),
    );
  }

  /** Reads, converts, stages and analyses one message; null when it is left out. */
  private async stage(m: IncomingMessage): Promise<ImportedMessage | null> {
    const max = this.limits.maxMessageSize;
    if (m.size > max) return this.reject(m, `larger than the limit of ${max} bytes`);
    const bytes = toCrlf(typeof m.bytes === 'function' ? await m.bytes() : m.bytes);
    if (bytes.length > max) return this.reject(m, `larger than the limit of ${max} bytes`);
    if (bytes.length === 0) return this.reject(m, 'empty');
    const blob = await this.store.blobs.put(bytes);
    const analysis = analyzeMessage(bytes);
    const flags = typeof m.flags === 'function' ? m.flags(analysis) : m.flags;
    // The first of source date, Date header and now that an INTERNALDATE may hold (4DIGIT years, RFC 9051 §9).
    const candidates = [m.internalDate?.getTime() ?? null, analysis.sentDate];
    const internalDate = new Date(candidates.find((ms) => ms !== null && isInternalDateInRange(ms)) ?? Date.now());
    return { blob, analysis, flags, internalDate, sourceKey: m.sourceKey, ...(m.uid !== undefined ? { uid: toUid(m.uid) } : {}) };
  }

  private reject(m: IncomingMessage, why: string): null {
    this.summary.rejected++;
    this.limits.warn(`${this.mailbox.name}: left out message ${m.sourceKey}: ${why}`);
    return null;
  }
}

/**
 * Feeds a stream of messages to an importer in batches. Returns false when
 * the abort signal stopped it (after a committed batch), true when done.
 */
export async function importStream(importer: MailboxImporter, source: AsyncIterable<IncomingMessage>, limits: ImportLimits): Promise<boolean> {
  const maxCount = limits.batchSize ?? DEFAULT_BATCH;
  const maxBytes = limits.batchBytes ?? DEFAULT_BATCH_BYTES;
  let batch: IncomingMessage[] = [];
  let bytes = 0;
  for await (const m of source) {
    if (limits.signal?.aborted) return false;
    batch.push(m);
    bytes += m.size;
    if (batch.length >= maxCount || bytes >= maxBytes) {
      await importer.addBatch(batch);
      batch = [];
      bytes = 0;
    }
  }
  if (limits.signal?.aborted) return false;
  await importer.addBatch(batch);
  return true;
}
