/**
 * The one-pass analysis run at ingestion (DESIGN invariant 3): part byte
 * ranges, ENVELOPE, BODY, BODYSTRUCTURE, Date, decoded headers and search
 * text, computed while the message streams in.
 *
 * Invariants: the message bytes are only read; memory is bounded by the
 * limits below whatever the message size; chunk boundaries do not change
 * the result; malformed input never throws.
 */
import { encodeBodyStructure, reportedType, type StructNode } from './body-structure.js';
import { TextCollector } from './body-text.js';
import { parseDate } from './date.js';
import { decodeHeaderValue } from './encoded-words.js';
import { buildEnvelope } from './envelope.js';
import { nameIs, type HeaderField } from './header-fields.js';
import { MimeScanner, type ScanLimits, type ScanNode } from './mime-scanner.js';
import type { MessageAnalysis, PartIndex } from './types.js';

/** All bounds of one analysis. */
export interface AnalyzerLimits extends ScanLimits {
  /** Characters of decoded body text kept for SEARCH. */
  maxBodyText: number;
  /** Raw octets of one text part buffered for decoding. */
  maxRawTextBytes: number;
  /** Characters of decoded header text kept for SEARCH. */
  maxHeaderText: number;
}

/** Default limits: generous for real mail, small enough to bound memory per message. */
export const DEFAULT_LIMITS: AnalyzerLimits = {
  maxParts: 1000,
  maxDepth: 50,
  maxHeaderBytes: 256 * 1024,
  maxTotalHeaderBytes: 1024 * 1024,
  maxHeaderFields: 2000,
  maxBodyText: 256 * 1024,
  maxRawTextBytes: 1024 * 1024,
  maxHeaderText: 64 * 1024,
};

const EMPTY_ENVELOPE = Buffer.from('(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');

function charsetOf(node: ScanNode): string | undefined {
  const p = node.fields.params.find((x) => nameIs(x.name, 'charset'));
  return p === undefined ? undefined : p.value.toString('latin1').toLowerCase();
}

/** A header field as `MessageAnalysis.headers` holds it: the name lower-cased, the value decoded (RFC 2047, charsets). */
export function decodedField(f: HeaderField): [name: string, value: string] {
  return [f.name.toString('latin1').toLowerCase(), decodeHeaderValue(f.value)];
}

/** Incremental analyzer: write() the message in chunks of any size, then end() once. */
export class MessageAnalyzer {
  private readonly scanner: MimeScanner;
  private readonly text: TextCollector;
  private readonly limits: AnalyzerLimits;
  private readonly envelopes = new Map<ScanNode, Buffer>();
  private readonly headers: Array<[name: string, value: string]> = [];
  private headerChars = 0;
  private envelope: Buffer = EMPTY_ENVELOPE;
  private sentDate: number | null = null;
  private result: MessageAnalysis | null = null;

  constructor(limits: Partial<AnalyzerLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.text = new TextCollector(this.limits.maxBodyText, this.limits.maxRawTextBytes);
    this.scanner = new MimeScanner(
      {
        headerEnd: (node, fields) => this.headerEnd(node, fields),
        bodyData: (_node, data) => this.text.addRaw(data),
        partEnd: (node) => {
          if (node.captureBody) this.text.endPart(node.be - node.bs, node.fields.transferEncoding, charsetOf(node));
        },
      },
      this.limits,
    );
  }

  /** Feeds the next chunk of the message. */
  write(chunk: Buffer): void {
    if (this.result !== null) throw new Error('MessageAnalyzer: write after end');
    this.scanner.write(chunk);
  }

  /** Finishes the analysis (idempotent). */
  end(): MessageAnalysis {
    if (this.result !== null) return this.result;
    this.scanner.end();
    const root = this.scanner.root;
    const struct = this.toStruct(root);
    this.result = {
      root: toPartIndex(root),
      envelope: this.envelope,
      bodyStructure: encodeBodyStructure(struct, true),
      body: encodeBodyStructure(struct, false),
      sentDate: this.sentDate,
      headers: this.headers,
      bodyText: this.text.text(),
    };
    return this.result;
  }

  private headerEnd(node: ScanNode, fields: readonly HeaderField[]): void {
    if (node.parent === null) {
      this.envelope = buildEnvelope(fields);
      const date = fields.find((f) => nameIs(f.name, 'date'));
      this.sentDate = date === undefined ? null : parseDate(decodeHeaderValue(date.value));
      for (const f of fields) this.addHeader(f);
    } else if (node.parent.kind === 'message') {
      // the encapsulated message: its envelope goes into the parent's BODYSTRUCTURE
      this.envelopes.set(node.parent, buildEnvelope(fields));
      this.text.addText(fields.map((f) => `${f.name.toString('latin1')}: ${decodeHeaderValue(f.value)}`).join('\n'));
    }
    node.captureBody = node.kind === 'text' && this.text.remaining() > 0;
  }

  private addHeader(f: HeaderField): void {
    const room = this.limits.maxHeaderText - this.headerChars;
    if (room <= 0) return;
    const [name, decoded] = decodedField(f);
    const value = decoded.slice(0, room);
    this.headerChars += value.length;
    this.headers.push([name, value]);
  }

  private toStruct(node: ScanNode): StructNode {
    const common = { fields: node.fields, opaque: node.opaque, size: node.be - node.bs, lines: node.lfBe - node.lfBs };
    const [first] = node.children;
    if (node.kind === 'message' && first !== undefined) {
      return { ...common, kind: 'message', child: this.toStruct(first), envelope: this.envelopes.get(node) ?? EMPTY_ENVELOPE };
    }
    if (node.kind === 'multipart') return { ...common, kind: 'multipart', children: node.children.map((c) => this.toStruct(c)) };
    return { ...common, kind: 'basic' };
  }
}

function toPartIndex(node: ScanNode): PartIndex {
  const { fields } = node;
  let type: string;
  let subtype: string;
  if (node.kind === 'multipart') {
    type = 'multipart';
    subtype = (fields.subtype ?? Buffer.alloc(0)).toString('latin1').toLowerCase();
  } else {
    const t = reportedType(node.kind === 'message' ? 'message' : 'basic', fields, node.opaque);
    type = t.type.toString('latin1').toLowerCase();
    subtype = t.subtype.toString('latin1').toLowerCase();
  }
  const part: PartIndex = { hs: node.hs, bs: node.bs, be: node.be, type, subtype, encoding: fields.transferEncoding };
  const charset = charsetOf(node);
  if (charset !== undefined) part.charset = charset;
  if (node.kind === 'multipart' || node.kind === 'message') part.parts = node.children.map(toPartIndex);
  return part;
}

/** Analyzes a complete message held in memory. */
export function analyzeMessage(bytes: Buffer, limits: Partial<AnalyzerLimits> = {}): MessageAnalysis {
  const a = new MessageAnalyzer(limits);
  a.write(bytes);
  return a.end();
}
