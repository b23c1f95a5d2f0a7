/**
 * SORT and UID SORT (RFC 5256 §3) with DISPLAYFROM / DISPLAYTO (RFC 5957 §4)
 * and the extended form `SORT RETURN (...)` answered with ESEARCH (RFC 5267
 * §3 ESORT, RFC 9394 PARTIAL, RFC 5182 SAVE).
 *
 * Invariants: no EXPUNGE is sent while a SORT by sequence number runs (sync
 * 'no-expunge', RFC 5256 §3); what sorting needs is loaded in batches with
 * event-loop turns between them, and kept hot per mailbox (message-facts.ts);
 * SIZE alone loads nothing.
 */
import { cachedRanks, loadFacts, memoized, type SortValue } from '../../search/message-facts.js';
import { queryNeeds } from '../../search/query.js';
import { sortIndices, sortNeedsRecords, type SortCriterion } from '../../search/sort.js';
import { parseReturnOptions, parseSearchCriteria, parseSortCriteria, type ReturnOptions, type SearchCriteria } from './search-keys.js';
import { ParseError } from '../wire/reader.js';
import { selectedView } from './message-set.js';
import { keepingSaved, searchSelected, selectedFacts, sendResult } from './search.js';
import { command, PRESYNC_NO_EXPUNGE } from './spec.js';

/** A parsed SORT command. */
export interface SortArgs extends SearchCriteria {
  /** null for the plain SORT of RFC 5256 (answered with `* SORT`). */
  returnOptions: ReturnOptions | null;
  criteria: SortCriterion[];
}

/** RFC 5256 §3 — SORT; RFC 5267 §3 — extended SORT. */
export const sort = command({
  name: 'SORT',
  states: ['selected'],
  uidForm: true,
  sync: 'no-expunge',
  presync: PRESYNC_NO_EXPUNGE,
  parse(r, inv): SortArgs {
    r.sp();
    let returnOptions: ReturnOptions | null = null;
    // RFC 5267 §3: `SORT RETURN (opts) (criteria) charset keys`.
    if (r.peekByte() !== 0x28) {
      if (r.atom().toUpperCase() !== 'RETURN') throw new ParseError('Expected sort criteria');
      r.sp();
      returnOptions = parseReturnOptions(r);
      r.sp();
    }
    const criteria = parseSortCriteria(r);
    r.sp();
    return { returnOptions, criteria, ...parseSearchCriteria(r, inv.session.rev2) };
  },
  async run(inv, args) {
    const session = inv.session;
    await keepingSaved(session, args.returnOptions?.save ?? false, async () => {
      const indices = await searchSelected(session, args.query, args.charsetSupported ? null : args.charset);
      const { view } = selectedView(session);
      const uids = indices.map((i) => view.messages[i]!.uid);
      const source = selectedFacts(session);
      const ranks = (key: string, value: SortValue) => cachedRanks(source, key, value, uids);
      // Every sort key is fixed per message, so an unchanged mailbox re-sorted (a webmail page view)
      // gets the order computed last time, as THREAD gets its tree.
      const name = `SORT ${args.criteria.map((c) => (c.reverse ? `REVERSE ${c.key}` : c.key)).join(' ')}`;
      const sorted = await memoized(source, name, uids, indices, async () => {
        const facts = sortNeedsRecords(args.criteria) ? await loadFacts(source, uids) : [];
        return sortIndices(indices, args.criteria, (i) => view.messages[i]!.size, facts, ranks);
      });
      await sendResult(
        inv,
        'SORT',
        args.returnOptions,
        sorted,
        sorted.map((i) => view.messages[i]!),
        queryNeeds(args.query).modseq,
      );
    });
  },
});
