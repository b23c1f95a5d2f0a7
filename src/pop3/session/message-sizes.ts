/**
 * Message sizes as POP3 reports them (RFC 1939 §5 LIST and STAT): the octets
 * RETR sends, CRLF line ends, before byte-stuffing. They equal the stored size
 * unless a message has bare LF line ends or no final line end, and that is
 * only known by reading it, so the size is counted once per blob (one pass
 * through the same encoder RETR uses) and remembered for the process: blobs
 * are content-addressed and immutable, so a blob id's size never changes.
 *
 * Invariants: the cache is bounded (least recently used entries are dropped);
 * counting never holds more than one chunk of a message in memory; at most
 * COUNT_CONCURRENCY blobs are read at once per call.
 */
import type { BlobStore } from '../../store/types.js';
import { MessageEncoder } from '../wire/message-encoder.js';
import { messageChunks } from './message-source.js';

/** Remembered sizes; at ~150 bytes each, 100,000 entries are about 15 MB. */
const DEFAULT_MAX_ENTRIES = 100_000;
/** Blobs counted in parallel by countAll. */
const COUNT_CONCURRENCY = 8;

/** A blob to size. */
export interface SizeRequest {
  blobId: string;
  storedSize: number;
}

/** Process-wide cache of POP3 sizes by blob id, shared by every POP3 session. */
export class MessageSizes {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  /** The POP3 size of a blob: remembered, or counted now. */
  async octets(blobId: string, storedSize: number): Promise<number> {
    const hit = this.known.get(blobId);
    if (hit !== undefined) {
      // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
      this.known.delete(blobId);
      this.known.set(blobId, hit);
      return hit;
    }
    const encoder = new MessageEncoder({ stuff: false, bodyLines: null });
    for await (const chunk of messageChunks(this.blobs, blobId, storedSize)) encoder.push(chunk);
    encoder.end();
    this.remember(blobId, encoder.octets);
    return encoder.octets;
  }

  /** Sizes of many blobs, in order, counting at most COUNT_CONCURRENCY at once. */
  async countAll(requests: readonly SizeRequest[]): Promise<number[]> {
    const out = new Array<number>(requests.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const i = next++;
        const r = requests[i]!;
        out[i] = await this.octets(r.blobId, r.storedSize);
      }
    };
    await Promise.all(Array.from({ length: Math.min(COUNT_CONCURRENCY, requests.length) }, worker));
    return out;
  }

  /** Records a size learned while sending the whole message (RETR). */
  remember(blobId: string, octets: number): void {
    this.known.delete(blobId);
    this.known.set(blobId, octets);
    if (this.known.size > this.maxEntries) this.known.delete(this.known.keys().next().value!);
  }
}
