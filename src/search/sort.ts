/**
 * SORT criteria and ordering (RFC 5256 §3, RFC 5957 §4): ordering search
 * results by a sort-criteria list (parsed in imap/commands/search-keys.ts).
 *
 * Rules kept here: strings compare under i;unicode-casemap (RFC 5256 §7), a
 * missing header is the empty string, which sorts first; REVERSE turns one
 * criterion around; full ties fall back to the mailbox order (sequence
 * number), which REVERSE never affects.
 */
import { ranksOf, sentDate, type MessageFacts, type SortValue } from './message-facts.js';

/** A sort-key (RFC 5256 §5, RFC 5957 §5), lower-cased. */
export type SortKey = 'arrival' | 'cc' | 'date' | 'from' | 'size' | 'subject' | 'to' | 'displayfrom' | 'displayto';

/** One sort-criterion. */
export interface SortCriterion {
  key: SortKey;
  reverse: boolean;
}

/** Whether the criteria need store records at all (SIZE alone is in the view). */
export function sortNeedsRecords(criteria: readonly SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== 'size');
}

/** What each key but SIZE compares (RFC 5256 §3, RFC 5957 §4): a casemap key, '' when missing, or a date. */
const VALUE: Record<Exclude<SortKey, 'size'>, SortValue> = {
  arrival: (f) => f.arrival,
  date: sentDate,
  subject: (f) => f.content?.subject ?? '',
  from: (f) => f.content?.from ?? '',
  to: (f) => f.content?.to ?? '',
  cc: (f) => f.content?.cc ?? '',
  displayfrom: (f) => f.content?.displayFrom ?? '',
  displayto: (f) => f.content?.displayTo ?? '',
};

/** One criterion as non-negative integers by position (ranks, or sizes), lower first unless reversed. */
interface Column {
  values: Float64Array;
  reverse: boolean;
}

/**
 * The order of positions when every criterion and the position itself fit
 * in one exact double: then one native numeric sort does it (no comparator
 * calls). null when they do not fit.
 */
function packedOrder(columns: readonly Column[], n: number): Float64Array | null {
  // Room for the position, the last tie-breaker, in the low digits.
  const low = 2 ** Math.ceil(Math.log2(n + 1));
  const spans = columns.map((c) => c.values.reduce((max, v) => Math.max(max, v), 0) + 1);
  if (spans.reduce((total, s) => total * s, low) > Number.MAX_SAFE_INTEGER) return null;
  const keys = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    let key = 0;
    columns.forEach((c, j) => {
      const v = c.values[p]!;
      key = key * spans[j]! + (c.reverse ? spans[j]! - 1 - v : v);
    });
    keys[p] = key * low + p;
  }
  keys.sort();
  return keys.map((k) => k % low);
}

/** The order of positions by comparing criterion after criterion. */
function comparedOrder(columns: readonly Column[], n: number): number[] {
  const order = Array.from({ length: n }, (_, p) => p);
  order.sort((a, b) => {
    for (const { values, reverse } of columns) {
      const d = reverse ? values[b]! - values[a]! : values[a]! - values[b]!;
      if (d !== 0) return d;
    }
    return a - b;
  });
  return order;
}

/**
 * Orders search results (view indices, ascending) by the criteria. `size`
 * gives RFC822.SIZE by view index; `facts` are aligned with `indices` (only
 * read when a criterion needs them); `ranks` may give a key's ranks, aligned
 * too, from a cache (message-facts.ts cachedRanks). Every criterion becomes
 * integers, so SORT compares no strings once ranked.
 */
export function sortIndices(
  indices: readonly number[],
  criteria: readonly SortCriterion[],
  size: (index: number) => number,
  facts: readonly MessageFacts[],
  ranks: (key: SortKey, value: SortValue) => Float64Array | null = () => null,
): number[] {
  const n = indices.length;
  const columns = criteria.map(({ key, reverse }): Column => {
    if (key === 'size') return { values: Float64Array.from(indices, size), reverse };
    const value = VALUE[key];
    return { values: ranks(key, value) ?? ranksOf(facts.map(value)), reverse };
  });
  // Positions ascend with the sequence number, so they are the implicit last criterion.
  const order = packedOrder(columns, n) ?? comparedOrder(columns, n);
  return Array.from(order, (p) => indices[p]!);
}
