/**
 * Streaming MIME structure scanner (RFC 5322 §2.1, RFC 2045, RFC 2046 §5).
 *
 * Invariants:
 * - Bytes are never changed or reordered; every node records exact byte
 *   offsets (header start, body start, body end) into the input.
 * - Memory stays bounded whatever the input: a line is examined through its
 *   first HEAD_MAX octets only, header bytes are kept per part up to a cap
 *   and released when the header ends, and part count and nesting depth are
 *   limited (beyond them the rest is opaque body).
 * - The result does not depend on how the input is split into chunks.
 * - It never throws on malformed input.
 *
 * Boundary and header rules follow Dovecot 2.3 (our reference): a boundary
 * line only has to start with "--" + boundary (longest match wins, inner
 * wins ties), the line break before it belongs to it, a boundary also ends
 * a header that has no blank line, and a non-MIME part defaults to
 * text/plain (message/rfc822 inside multipart/digest).
 */
import { parseHeaderFields, type HeaderField } from './header-fields.js';
import { parsePartFields, partKind, type PartFields, type PartKind } from './part-fields.js';

/** Bounds on what one message may make the scanner do or keep. */
export interface ScanLimits {
  /** Most parts (the message itself included); later boundaries are ignored. */
  maxParts: number;
  /** Deepest nesting; a multipart or message part deeper than this is opaque. */
  maxDepth: number;
  /** Header octets kept per part for parsing; the rest of a longer header is not parsed. */
  maxHeaderBytes: number;
  /** Header octets kept over the whole message. */
  maxTotalHeaderBytes: number;
  /** Header fields parsed per part. */
  maxHeaderFields: number;
}

/** One part as scanned. Offsets are final once the part has ended. */
export interface ScanNode {
  hs: number;
  bs: number;
  be: number;
  /** LF octets before bs and be: their difference is the body's line count. */
  lfBs: number;
  lfBe: number;
  parent: ScanNode | null;
  depth: number;
  fields: PartFields;
  kind: PartKind;
  /** Past a limit: its body is not parsed for structure. */
  opaque: boolean;
  children: ScanNode[];
  /** Set by the header hook: deliver this part's body bytes to bodyData. */
  captureBody: boolean;
  /** While open: end of the bytes accounted to this part so far, and LF octets before it. */
  end: number;
  lfEnd: number;
}

/** Callbacks from the scanner to whoever derives data from the parts. */
export interface ScanHooks {
  /** A part's header has ended; `fields` are its parsed header fields. */
  headerEnd(node: ScanNode, fields: readonly HeaderField[]): void;
  /** Body octets of a part with captureBody set, in order, starting at bs; may run past be by a final line break. */
  bodyData(node: ScanNode, data: Buffer): void;
  /** The part has ended; be is final. */
  partEnd(node: ScanNode): void;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
/** Octets of a line examined to classify it (boundary or blank line). */
const HEAD_MAX = 1024;

type LineKind = 'header' | 'blank' | 'body' | 'boundary';

interface Boundary {
  owner: ScanNode;
  bytes: Buffer;
}

function newNode(parent: ScanNode | null, hs: number, lf: number): ScanNode {
  return {
    hs,
    bs: hs,
    be: hs,
    lfBs: lf,
    lfBe: lf,
    parent,
    depth: parent === null ? 0 : parent.depth + 1,
    fields: parsePartFields([], false),
    kind: 'text',
    opaque: false,
    children: [],
    captureBody: false,
    end: hs,
    lfEnd: lf,
  };
}

/** Incremental scanner: feed chunks with write(), then end() once. */
export class MimeScanner {
  /** The message (root part); complete after end(). */
  readonly root: ScanNode;
  private cur: ScanNode;
  /** afterBlank: the header ended with a blank line, the body has not started yet. */
  private mode: 'header' | 'afterBlank' | 'body' = 'header';
  private offset = 0;
  private lf = 0;
  private parts = 1;
  private boundaries: Boundary[] = [];
  /** Part limit reached: boundaries are no longer recognised. */
  private boundariesOff = false;

  // current header
  private hdrChunks: Buffer[] = [];
  private hdrBytes = 0;
  private totalHdrBytes = 0;
  private hdrEnd = 0;
  private hdrLfEnd = 0;
  private hdrNl = 0;

  // current body
  private firstBodyLine = true;
  private prevNl = 0;

  // current line
  private lineStart = 0;
  private lfAtLineStart = 0;
  private readonly head = Buffer.alloc(HEAD_MAX);
  private headLen = 0;
  private kind: LineKind | null = null;
  private closeBoundary = false;
  private last1 = -1;
  private last2 = -1;

  constructor(
    private readonly hooks: ScanHooks,
    private readonly limits: ScanLimits,
  ) {
    this.root = newNode(null, 0, 0);
    this.cur = this.root;
  }

  /** Feeds the next bytes of the message. */
  write(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const lfAt = chunk.indexOf(LF, i);
      const stop = lfAt < 0 ? chunk.length : lfAt + 1;
      if (this.kind === null) {
        const take = Math.min(stop - i, HEAD_MAX - this.headLen);
        chunk.copy(this.head, this.headLen, i, i + take);
        this.headLen += take;
        this.offset += take;
        i += take;
        const complete = this.head[this.headLen - 1] === LF;
        if (complete || this.headLen === HEAD_MAX || this.canDecideEarly()) this.decide(complete);
      } else {
        this.lineData(chunk.subarray(i, stop));
        this.offset += stop - i;
        i = stop;
        if (lfAt >= 0) this.endLine(true);
      }
    }
  }

  /** Ends the input and closes every open part. */
  end(): void {
    if (this.kind === null && this.headLen > 0) this.decide(false);
    if (this.kind !== null) this.endLine(false);
    // a header cut off by the end of the message ends there
    while (this.mode !== 'body') {
      if (this.mode === 'header') this.parseHeader(false);
      this.startBody(this.offset, this.lf);
    }
    while (this.cur.parent !== null) this.closeCur();
    this.root.end = this.offset;
    this.root.lfEnd = this.lf;
    this.root.be = this.offset;
    this.root.lfBe = this.lf;
    this.hooks.partEnd(this.root);
  }

  private canDecideEarly(): boolean {
    const c0 = this.head[0];
    if (this.mode !== 'body') return c0 !== CR && c0 !== LF && c0 !== DASH;
    if (this.boundaries.length === 0 || this.boundariesOff) return true;
    return c0 !== DASH || (this.headLen >= 2 && this.head[1] !== DASH);
  }

  /** Classifies the current line from its head, switching state as boundaries and blank lines demand. */
  private decide(complete: boolean): void {
    for (;;) {
      const found = this.findBoundary();
      if (this.mode === 'afterBlank') {
        // Dovecot looks for a boundary before the body starts: one right
        // after the blank line takes that line's break as its own
        if (found !== null && found.boundary.owner !== this.cur) this.headerEndsAtBoundary();
        else this.startBody(this.hdrEnd, this.hdrLfEnd);
        continue;
      }
      if (this.mode === 'header') {
        if (found !== null) {
          this.parseHeader(false);
          this.headerEndsAtBoundary();
          continue; // the same line now seen from the new state
        }
        const blank = complete && (this.headLen === 1 || (this.headLen === 2 && this.head[0] === CR));
        this.kind = blank ? 'blank' : 'header';
      } else if (found !== null) {
        this.startBoundaryLine(found.boundary, found.close);
        this.kind = 'boundary';
      } else {
        this.kind = 'body';
      }
      break;
    }
    this.lineData(this.head.subarray(0, this.headLen));
    if (complete) this.endLine(true);
  }

  /**
   * RFC 2046 §5.1.1 boundary recognition, Dovecot 2.3 style: the line after
   * "--" only has to start with the boundary (so trailing white space or
   * junk is fine); the longest matching boundary wins, the innermost on ties.
   */
  private findBoundary(): { boundary: Boundary; close: boolean } | null {
    if (this.boundaries.length === 0 || this.boundariesOff) return null;
    const h = this.head;
    if (this.headLen < 2 || h[0] !== DASH || h[1] !== DASH) return null;
    const len = this.headLen - 2;
    let best: Boundary | null = null;
    for (let i = this.boundaries.length - 1; i >= 0; i--) {
      const b = this.boundaries[i] as Boundary;
      if (b.bytes.length > len || (best !== null && best.bytes.length >= b.bytes.length)) continue;
      if (h.compare(b.bytes, 0, b.bytes.length, 2, 2 + b.bytes.length) === 0) best = b;
    }
    if (best === null) return null;
    const after = 2 + best.bytes.length;
    const close = this.headLen >= after + 2 && h[after] === DASH && h[after + 1] === DASH;
    return { boundary: best, close };
  }

  /** A boundary line ends the header early; the line break before it is the boundary's, not the header's. */
  private headerEndsAtBoundary(): void {
    const node = this.cur;
    // Dovecot counts that line break in the enclosing part's body
    if (this.hdrNl > 0 && node.parent !== null) this.extend(node.parent, this.hdrEnd, this.hdrLfEnd);
    this.startBody(this.hdrEnd - this.hdrNl, this.hdrLfEnd - (this.hdrNl > 0 ? 1 : 0));
  }

  /** Parses the collected header of the current part; `blankLine` says a blank line (not a boundary or EOF) ended it. */
  private parseHeader(blankLine: boolean): void {
    const node = this.cur;
    const fields = parseHeaderFields(Buffer.concat(this.hdrChunks), this.limits.maxHeaderFields);
    this.hdrChunks = [];
    this.hdrBytes = 0;
    const parent = node.parent;
    node.fields = parsePartFields(fields, parent !== null && parent.kind === 'multipart');
    const inDigest = parent !== null && parent.kind === 'multipart' && parent.fields.typeKey === 'multipart/digest';
    let kind = partKind(node.fields, inDigest);
    if ((kind === 'multipart' || kind === 'message') && (node.depth >= this.limits.maxDepth || this.parts >= this.limits.maxParts)) {
      node.opaque = true;
      kind = 'other';
    }
    node.kind = kind;
    this.hooks.headerEnd(node, fields);
    // active from the body on, so a "--boundary" right away belongs to this part
    if (kind === 'multipart' && blankLine && node.fields.boundary !== null) {
      this.boundaries.push({ owner: node, bytes: node.fields.boundary });
    }
    this.mode = blankLine ? 'afterBlank' : 'body';
  }

  /** The current part's body starts at bs (its header is parsed). */
  private startBody(bs: number, lfBs: number): void {
    const node = this.cur;
    node.bs = bs;
    node.lfBs = lfBs;
    node.end = bs;
    node.lfEnd = lfBs;
    if (node.kind === 'message') {
      this.openChild(node, bs, lfBs); // RFC 2046 §5.2.1: the body is a message with its own header
    } else {
      this.mode = 'body';
      this.firstBodyLine = true;
      this.prevNl = 0;
    }
  }

  private openChild(parent: ScanNode, hs: number, lf: number): void {
    const child = newNode(parent, hs, lf);
    parent.children.push(child);
    // the last part allowed: later boundaries are not recognised, the rest stays in it
    if (++this.parts >= this.limits.maxParts) this.boundariesOff = true;
    this.cur = child;
    this.mode = 'header';
    this.hdrEnd = hs;
    this.hdrLfEnd = lf;
    this.hdrNl = 0;
  }

  /** Accounts bytes up to `end` to a part (and, when it closes, to its ancestors). */
  private extend(node: ScanNode, end: number, lfEnd: number): void {
    if (end > node.end) {
      node.end = end;
      node.lfEnd = lfEnd;
    }
  }

  private closeCur(): void {
    const node = this.cur;
    node.be = node.end;
    node.lfBe = node.lfEnd;
    this.hooks.partEnd(node);
    const parent = node.parent as ScanNode;
    this.extend(parent, node.end, node.lfEnd);
    this.cur = parent;
  }

  private startBoundaryLine(b: Boundary, close: boolean): void {
    if (!this.firstBodyLine) {
      // the previous line's break is part of the delimiter, not of the body
      this.cur.end = this.lineStart - this.prevNl;
      this.cur.lfEnd = this.lfAtLineStart - (this.prevNl > 0 ? 1 : 0);
    }
    while (this.cur !== b.owner) this.closeCur();
    const idx = this.boundaries.indexOf(b);
    // a close delimiter retires its boundary; any delimiter retires those nested inside
    this.boundaries.length = close ? idx : idx + 1;
    this.closeBoundary = close;
  }

  private lineData(seg: Buffer): void {
    if (seg.length === 0) return;
    if (this.kind === 'header') {
      const room = Math.min(this.limits.maxHeaderBytes - this.hdrBytes, this.limits.maxTotalHeaderBytes - this.totalHdrBytes);
      if (room > 0) {
        const kept = seg.length <= room ? Buffer.from(seg) : Buffer.from(seg.subarray(0, room));
        this.hdrChunks.push(kept);
        this.hdrBytes += kept.length;
        this.totalHdrBytes += kept.length;
      }
    } else if (this.kind === 'body' && this.cur.captureBody) {
      this.hooks.bodyData(this.cur, seg);
    }
    this.last2 = seg.length >= 2 ? (seg[seg.length - 2] as number) : this.last1;
    this.last1 = seg[seg.length - 1] as number;
  }

  private endLine(hasLf: boolean): void {
    if (hasLf) this.lf++;
    const nl = hasLf ? (this.last2 === CR ? 2 : 1) : 0;
    const node = this.cur;
    switch (this.kind) {
      case 'header':
      case 'blank':
        node.end = this.offset;
        node.lfEnd = this.lf;
        this.hdrEnd = this.offset;
        this.hdrLfEnd = this.lf;
        this.hdrNl = nl;
        if (this.kind === 'blank') this.parseHeader(true);
        break;
      case 'body':
        node.end = this.offset;
        node.lfEnd = this.lf;
        this.prevNl = nl;
        this.firstBodyLine = false;
        break;
      case 'boundary':
        node.end = this.offset;
        node.lfEnd = this.lf;
        // after a close delimiter the owner's epilogue follows; otherwise its next part
        this.firstBodyLine = true;
        this.prevNl = 0;
        if (!this.closeBoundary && hasLf) this.openChild(node, this.offset, this.lf);
        break;
    }
    this.kind = null;
    this.headLen = 0;
    this.lineStart = this.offset;
    this.lfAtLineStart = this.lf;
    this.last1 = -1;
    this.last2 = -1;
  }
}
