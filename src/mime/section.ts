/**
 * Section numbering for FETCH BODY[section] and BINARY[section]
 * (RFC 9051 §6.4.5): parts of a multipart are numbered from 1; part 1 of a
 * non-multipart message is its body; inside a MESSAGE/RFC822 (or GLOBAL)
 * part the numbering continues with the parts of the encapsulated message.
 */
import type { PartIndex } from './types.js';

const isMultipart = (p: PartIndex): boolean => p.type === 'multipart';
/** An encapsulated-message part (its single child is the message). */
export const isMessagePart = (p: PartIndex): boolean => p.type === 'message' && p.parts !== undefined && p.parts.length === 1;

/** The part named by a section path such as [2, 1], or null when there is none. */
export function findPart(root: PartIndex, path: readonly number[]): PartIndex | null {
  if (path.length === 0) return null;
  let node: PartIndex | null = null;
  for (const n of path) {
    if (!Number.isInteger(n) || n < 1) return null;
    // the message whose parts `n` numbers: the top level, or the one inside a message part
    let container: PartIndex;
    if (node === null) container = root;
    else if (isMultipart(node)) container = node;
    else if (isMessagePart(node)) container = node.parts?.[0] as PartIndex;
    else return null; // a leaf has no subparts
    if (isMultipart(container)) node = container.parts?.[n - 1] ?? null;
    else node = n === 1 ? container : null;
    if (node === null) return null;
  }
  return node;
}

/** Section text specifiers that map to a byte range (HEADER.FIELDS uses HEADER's range). */
export type SectionText = 'HEADER' | 'TEXT' | 'MIME';

/** Byte range [start, end) of BODY[path.spec] in the stored message, or null when it does not exist. */
export function sectionRange(root: PartIndex, path: readonly number[], spec?: SectionText): { start: number; end: number } | null {
  if (path.length === 0) {
    if (spec === 'HEADER') return { start: root.hs, end: root.bs };
    if (spec === 'TEXT') return { start: root.bs, end: root.be };
    return spec === undefined ? { start: 0, end: root.be } : null;
  }
  const part = findPart(root, path);
  if (part === null) return null;
  if (spec === undefined) return { start: part.bs, end: part.be };
  if (spec === 'MIME') return { start: part.hs, end: part.bs };
  // HEADER and TEXT of a part address its encapsulated message
  const msg = isMessagePart(part) ? (part.parts?.[0] as PartIndex) : null;
  if (msg === null) return null;
  return spec === 'HEADER' ? { start: msg.hs, end: msg.bs } : { start: msg.bs, end: msg.be };
}
