/**
 * SORT criteria and ordering (RFC 5256 §3, RFC 5957 §4): parsing the
 * sort-criteria list and ordering search results by it.
 *
 * Rules kept here: strings compare under i;unicode-casemap (RFC 5256 §7), a
 * missing header is the empty string, which sorts first; REVERSE turns one
 * criterion around; full ties fall back to the mailbox order (sequence
 * number), which REVERSE never affects.
 */
import { ParseError, type ArgReader } from '../imap/wire/reader.js';
import { charsetDecoder } from './charset.js';
import { compareKeys } from './collation.js';
import { sentDate, type ContentFacts, type MessageFacts } from './message-facts.js';
import { parseSearchKeys } from './parse.js';
import type { SearchKey } from './query.js';

/** A sort-key (RFC 5256 §5, RFC 5957 §5), lower-cased. */
export type SortKey = 'arrival' | 'cc' | 'date' | 'from' | 'size' | 'subject' | 'to' | 'displayfrom' | 'displayto';

/** One sort-criterion. */
export interface SortCriterion {
  key: SortKey;
  reverse: boolean;
}

/** Most criteria one SORT may list (each key is useful once; REVERSE doubles that). */
export const MAX_SORT_CRITERIA = 32;

const KEYS = new Set<string>(['arrival', 'cc', 'date', 'from', 'size', 'subject', 'to', 'displayfrom', 'displayto']);

/** `sort-criteria`: "(" sort-criterion *(SP sort-criterion) ")" with sort-criterion = ["REVERSE" SP] sort-key. */
export function parseSortCriteria(r: ArgReader): SortCriterion[] {
  let count = 0;
  return r.list(() => {
    if (++count > MAX_SORT_CRITERIA) throw new ParseError('Too many sort criteria');
    let name = r.atom().toLowerCase();
    const reverse = name === 'reverse';
    if (reverse) {
      r.sp();
      name = r.atom().toLowerCase();
    }
    if (!KEYS.has(name)) throw new ParseError(`Unknown sort key ${name.toUpperCase()}`);
    return { key: name as SortKey, reverse };
  }, false);
}

/** The searching part of SORT and THREAD. */
export interface SearchCriteria {
  charset: string;
  /** False when the charset cannot be decoded: the command answers NO [BADCHARSET] (RFC 5256 §3). */
  charsetSupported: boolean;
  query: SearchKey;
}

/**
 * RFC 5256 §5 `search-criteria = charset 1*(SP search-key)`, shared by SORT
 * and THREAD: the charset is mandatory. An unsupported one still lets the
 * keys parse (so BAD wins over NO).
 */
export function parseSearchCriteria(r: ArgReader, rev2: boolean): SearchCriteria {
  const charset = r.astring().bytes.toString('latin1');
  r.sp();
  const decode = charsetDecoder(charset, rev2);
  const query = parseSearchKeys(r, decode ?? ((b) => b.toString('utf8')));
  return { charset, charsetSupported: decode !== null, query };
}

/** Whether the criteria need the message analysis (anything but ARRIVAL and SIZE). */
export function sortNeedsContent(criteria: readonly SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== 'arrival' && c.key !== 'size');
}

/** Whether the criteria need store records at all (SIZE alone is in the view). */
export function sortNeedsRecords(criteria: readonly SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== 'size');
}

/** The string keys a criterion may read from the content facts. */
type StringKey = 'subject' | 'from' | 'to' | 'cc' | 'displayFrom' | 'displayTo';

const STRING_FIELD: Partial<Record<SortKey, StringKey>> = {
  subject: 'subject',
  from: 'from',
  to: 'to',
  cc: 'cc',
  displayfrom: 'displayFrom',
  displayto: 'displayTo',
};

/** One criterion's values, by position, and how two of them compare. */
interface Column {
  compare(a: number, b: number): number;
}

function numberColumn(values: Float64Array, reverse: boolean): Column {
  return { compare: reverse ? (a, b) => values[b]! - values[a]! : (a, b) => values[a]! - values[b]! };
}

function stringColumn(values: readonly string[], reverse: boolean): Column {
  return { compare: reverse ? (a, b) => compareKeys(values[b]!, values[a]!) : (a, b) => compareKeys(values[a]!, values[b]!) };
}

/**
 * Orders search results (view indices, ascending) by the criteria. `size`
 * gives RFC822.SIZE by view index; `facts` are aligned with `indices` (only
 * read when a criterion needs them).
 */
export function sortIndices(
  indices: readonly number[],
  criteria: readonly SortCriterion[],
  size: (index: number) => number,
  facts: readonly MessageFacts[],
): number[] {
  const n = indices.length;
  const columns = criteria.map(({ key, reverse }): Column => {
    const field = STRING_FIELD[key];
    if (field !== undefined) {
      const content = (p: number): ContentFacts | null => facts[p]?.content ?? null;
      return stringColumn(Array.from({ length: n }, (_, p) => content(p)?.[field] ?? ''), reverse);
    }
    const values = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      const f = facts[p];
      values[p] = key === 'size' ? size(indices[p]!) : f === undefined ? 0 : key === 'arrival' ? f.arrival : sentDate(f);
    }
    return numberColumn(values, reverse);
  });
  const order = Array.from({ length: n }, (_, p) => p);
  // Positions ascend with the sequence number, so comparing them is the implicit last criterion.
  order.sort((a, b) => {
    for (const c of columns) {
      const d = c.compare(a, b);
      if (d !== 0) return d;
    }
    return a - b;
  });
  return order.map((p) => indices[p]!);
}
