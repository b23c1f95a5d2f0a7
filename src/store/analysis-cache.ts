/**
 * A per-process cache of decoded MessageAnalysis by blob id. Blobs never
 * change, so entries never go stale; the cache only bounds memory (LRU by an
 * approximate byte budget). FETCH ENVELOPE/BODYSTRUCTURE and SEARCH on a
 * mailbox a client keeps re-reading then cost no decoding at all.
 *
 * Cached objects are shared: callers must treat them as read-only.
 */
import type { MessageAnalysis } from '../mime/types.js';

/** Default budget: enough for tens of thousands of typical messages. */
const DEFAULT_BUDGET = 64 * 1024 * 1024;
/** Body text longer than this is not cached. */
const MAX_CACHED_TEXT = 1024;

function approximateSize(a: MessageAnalysis): number {
  let n = 256 + a.envelope.length + a.bodyStructure.length + a.body.length + a.bodyText.length * 2;
  for (const [name, value] of a.headers) n += (name.length + value.length) * 2 + 32;
  return n;
}

/** LRU of analyses with a byte budget. */
export class AnalysisCache {
  private readonly entries = new Map<string, { analysis: MessageAnalysis; size: number; textOmitted: boolean }>();
  private bytes = 0;

  constructor(private readonly budget = DEFAULT_BUDGET) {}

  /**
   * The cached analysis, marking it recently used. With wantsText (the
   * default) an entry whose long body text was left out does not count.
   */
  get(blobId: string, wantsText = true): MessageAnalysis | undefined {
    const e = this.entries.get(blobId);
    if (!e || (wantsText && e.textOmitted)) return undefined;
    this.entries.delete(blobId);
    this.entries.set(blobId, e);
    return e.analysis;
  }

  /** Forgets a blob's analysis (the blob was garbage-collected). */
  delete(blobId: string): void {
    const e = this.entries.get(blobId);
    if (!e) return;
    this.entries.delete(blobId);
    this.bytes -= e.size;
  }

  /** Caches an analysis, evicting the least recently used ones over budget. */
  set(blobId: string, full: MessageAnalysis): void {
    // Long body text is what would crowd everything else out; SEARCH BODY reads it from the store.
    const textOmitted = full.bodyText.length > MAX_CACHED_TEXT;
    const analysis = textOmitted ? { ...full, bodyText: '' } : full;
    const size = approximateSize(analysis);
    if (size > this.budget / 4) return;
    const old = this.entries.get(blobId);
    if (old) {
      this.bytes -= old.size;
      this.entries.delete(blobId);
    }
    this.entries.set(blobId, { analysis, size, textOmitted });
    this.bytes += size;
    for (const [id, e] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(id);
      this.bytes -= e.size;
    }
  }
}
