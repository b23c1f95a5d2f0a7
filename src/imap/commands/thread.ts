/**
 * THREAD and UID THREAD (RFC 5256 §3) with the ORDEREDSUBJECT and REFERENCES
 * algorithms (src/search/thread.ts).
 *
 * Invariants: no EXPUNGE is sent while a THREAD by sequence number runs (sync
 * 'no-expunge'); the response is written in bounded pieces with backpressure,
 * and encoding a thread never recurses, however deep it is.
 */
import { loadFacts, memoized } from '../../search/message-facts.js';
import { parseSearchCriteria, type SearchCriteria } from './search-keys.js';
import { threadOrderedSubject, threadReferences, type ThreadInput, type ThreadNode } from '../../search/thread.js';
import { ParseError } from '../wire/reader.js';
import { selectedView } from './message-set.js';
import { searchSelected, selectedFacts, writePieces } from './search.js';
import { command, PRESYNC_NO_EXPUNGE } from './spec.js';

/** The threading algorithms this server implements (capabilities.ts advertises each as THREAD=<name>). */
const THREAD_ALGORITHMS = {
  ORDEREDSUBJECT: threadOrderedSubject,
  REFERENCES: threadReferences,
} satisfies Record<string, (input: ThreadInput) => ThreadNode[]>;

type Algorithm = keyof typeof THREAD_ALGORITHMS;

/** A parsed THREAD command. */
export interface ThreadArgs extends SearchCriteria {
  algorithm: Algorithm;
}

/** RFC 5256 §3 — THREAD. */
export const thread = command({
  name: 'THREAD',
  states: ['selected'],
  uidForm: true,
  sync: 'no-expunge',
  presync: PRESYNC_NO_EXPUNGE,
  parse(r, inv): ThreadArgs {
    r.sp();
    const algorithm = r.atom().toUpperCase();
    // thread-alg-ext is any atom; one this server does not know is an invalid argument (BAD).
    if (!Object.hasOwn(THREAD_ALGORITHMS, algorithm)) throw new ParseError(`Unknown threading algorithm ${algorithm}`);
    r.sp();
    return { algorithm: algorithm as Algorithm, ...parseSearchCriteria(r, inv.session.rev2) };
  },
  async run(inv, args) {
    const session = inv.session;
    const indices = await searchSelected(session, args.query, args.charsetSupported ? null : args.charset);
    const { view } = selectedView(session);
    const source = selectedFacts(session);
    const uids = indices.map((i) => view.messages[i]!.uid);
    // A client re-threading an unchanged mailbox gets the tree built last time (Dovecot keeps a thread index for this).
    const threads = await memoized(source, `THREAD ${args.algorithm}`, uids, indices, async () =>
      THREAD_ALGORITHMS[args.algorithm]({ indices, facts: await loadFacts(source, uids) }),
    );
    const number = inv.uid ? (i: number) => view.messages[i]!.uid : (i: number) => i + 1;
    await writePieces(session, '* THREAD', threadPieces(threads, number), '\r\n');
  },
});

/**
 * RFC 5256 §5 `thread-list`s, in pieces: a message followed by its only child
 * as "n m", by several children as "n (…)(…)"; a dummy as "(…)(…)" alone.
 * The first piece starts with the SP that follows "THREAD".
 */
export function* threadPieces(threads: readonly ThreadNode[], number: (index: number) => number): Generator<string> {
  let sep = ' ';
  for (const root of threads) {
    // Pending output, last first: literal text, or a node still to be expanded.
    const stack: Array<string | ThreadNode> = [')', root];
    yield `${sep}(`;
    sep = '';
    while (stack.length > 0) {
      const top = stack.pop()!;
      if (typeof top === 'string') {
        yield top;
        continue;
      }
      const kids = top.children;
      if (top.index !== null) yield `${number(top.index)}`;
      if (top.index !== null && kids.length === 1) {
        stack.push(kids[0]!, ' ');
      } else {
        for (let k = kids.length - 1; k >= 0; k--) stack.push(')', kids[k]!, '(');
        if (top.index !== null && kids.length > 0) stack.push(' ');
      }
    }
  }
}
