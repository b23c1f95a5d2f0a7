/**
 * IMAP search syntax → the query model (RFC 9051 §9 `search`, `search-key`,
 * `search-return-opts`; RFC 3501 §9 for NEW/OLD/RECENT; RFC 7162 §3.1.5 for
 * MODSEQ; RFC 8474 §6 EMAILID/THREADID; RFC 8514 §4.3 SAVED*; RFC 9394 §4 PARTIAL),
 * and SORT's sort-criteria and search-criteria (RFC 5256 §5). Keys are
 * case-insensitive; strings are astrings decoded with the CHARSET's decoder.
 * The query model and its evaluation are search/'s; the syntax is IMAP's.
 *
 * Invariants: the number of keys and the nesting depth (NOT, OR and lists)
 * are bounded, so neither parsing nor the recursive evaluation can be driven
 * into unbounded work or stack depth; any violation is a ParseError (BAD).
 */
import { charsetDecoder, type Decode } from '../../search/charset.js';
import { dayNumber } from '../../mime/calendar-day.js';
import type { DateField, DateOp, SearchKey } from '../../search/query.js';
import type { SortCriterion, SortKey } from '../../search/sort.js';
import { ParseError, type ArgReader } from '../wire/reader.js';

/** Most keys one search may contain (each NOT, OR and list counts). */
export const MAX_SEARCH_KEYS = 1000;
/** Deepest nesting of NOT, OR and parenthesized lists. */
export const MAX_SEARCH_DEPTH = 64;

/**
 * RFC 9394 partial-range as the client gave it: 1-based positions in the
 * result list counted from the first result (1:500), or, when negative, from
 * the last one (-1:-100 are the last hundred); either end may come first.
 */
export interface PartialRange {
  first: number;
  last: number;
}

/** RETURN options of an extended SEARCH or SORT (RFC 4731 §3.1, RFC 5182 SAVE, RFC 9394 PARTIAL). */
export interface ReturnOptions {
  min: boolean;
  max: boolean;
  all: boolean;
  count: boolean;
  save: boolean;
  /** Present only when PARTIAL was given. */
  partial?: PartialRange;
}

/** A parsed SEARCH command (everything after "SEARCH"). */
export interface SearchArgs {
  /** null when no RETURN was given (the rev1 SEARCH response). */
  returnOptions: ReturnOptions | null;
  /** The CHARSET argument as given, or null. */
  charset: string | null;
  /** False when the charset is not supported: the command answers NO [BADCHARSET] (RFC 9051 §6.4.4). */
  charsetSupported: boolean;
  query: SearchKey;
}

const FLAG_KEYS: Record<string, [flag: string, set: boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

/** FROM/TO/CC/BCC/SUBJECT search the header field of the same name. */
const HEADER_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);

const DATE_KEYS: Record<string, [DateField, DateOp]> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
  // RFC 8514 §4.3.
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
};

/** RFC 8474 §7 `objectid`: 1*255(ALPHA / DIGIT / "_" / "-"). */
const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** RFC 7162 §3.1.5 entry-type-req. */
const ENTRY_TYPES = new Set(['priv', 'shared', 'all']);

/** Parser state for one search program. */
class KeyParser {
  private keys = 0;
  private depth = 0;

  constructor(
    private readonly r: ArgReader,
    private readonly decode: Decode,
  ) {}

  /** `search-key *(SP search-key)` up to the end of the command; `first` is an already-read key name. */
  program(first: string | null): SearchKey {
    const keys = [first === null ? this.key() : this.named(first)];
    while (!this.r.atEnd()) {
      this.r.sp();
      keys.push(this.key());
    }
    return keys.length === 1 ? keys[0]! : { kind: 'and', keys };
  }

  /** One `search-key`. */
  key(): SearchKey {
    const r = this.r;
    if (r.peekByte() === 0x28) {
      this.count();
      const keys = this.nested(() => r.list(() => this.key(), false));
      return keys.length === 1 ? keys[0]! : { kind: 'and', keys };
    }
    if (r.atSequenceSet()) {
      this.count();
      return { kind: 'seq', set: r.sequenceSet() };
    }
    return this.named(r.atom().toUpperCase());
  }

  /** The key whose (upper-cased) name was just read. */
  named(name: string): SearchKey {
    this.count();
    const r = this.r;
    const flag = FLAG_KEYS[name];
    if (flag) return { kind: 'flag', flag: flag[0], set: flag[1] };
    const date = DATE_KEYS[name];
    if (date) {
      r.sp();
      const [y, m, d] = r.date();
      return { kind: 'date', field: date[0], op: date[1], day: dayNumber(y, m, d) };
    }
    if (HEADER_KEYS.has(name)) {
      const field = name.toLowerCase();
      // RFC 9051 §6.4.4: FROM/TO/CC/BCC search the envelope's address field.
      return field === 'subject' ? { kind: 'header', field, value: this.string() } : { kind: 'header', field, value: this.string(), address: true };
    }
    switch (name) {
      case 'ALL':
        return { kind: 'all' };
      case 'RECENT':
        return { kind: 'recent' };
      // RFC 3501 §6.4.4: NEW is RECENT UNSEEN; OLD is NOT RECENT.
      case 'NEW':
        return { kind: 'and', keys: [{ kind: 'recent' }, { kind: 'flag', flag: '\\Seen', set: false }] };
      case 'OLD':
        return { kind: 'not', key: { kind: 'recent' } };
      case 'KEYWORD':
      case 'UNKEYWORD':
        r.sp();
        // flag-keyword is an atom; a system flag here is accepted and means that flag.
        return { kind: 'flag', flag: r.flag(), set: name === 'KEYWORD' };
      // RFC 5032 §3: ( "OLDER" / "YOUNGER" ) SP nz-number.
      case 'OLDER':
      case 'YOUNGER':
        r.sp();
        return { kind: 'within', op: name === 'OLDER' ? 'older' : 'younger', seconds: r.nzNumber() };
      case 'LARGER':
      case 'SMALLER':
        r.sp();
        return { kind: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', n: r.number64() };
      case 'BODY':
        return { kind: 'body', value: this.string() };
      case 'TEXT':
        return { kind: 'text', value: this.string() };
      case 'HEADER': {
        const field = this.string().toLowerCase();
        return { kind: 'header', field, value: this.string() };
      }
      case 'UID':
        r.sp();
        return { kind: 'uid', set: r.sequenceSet() };
      case 'NOT':
        r.sp();
        return { kind: 'not', key: this.nested(() => this.key()) };
      case 'OR': {
        r.sp();
        const left = this.nested(() => this.key());
        r.sp();
        return { kind: 'or', left, right: this.nested(() => this.key()) };
      }
      case 'MODSEQ':
        return this.modseq();
      // RFC 8514 §4.3: every mailbox here keeps save dates.
      case 'SAVEDATESUPPORTED':
        return { kind: 'all' };
      case 'EMAILID':
      case 'THREADID': {
        r.sp();
        const id = r.atom();
        if (!OBJECT_ID.test(id)) throw new ParseError(`Invalid ${name}`);
        return { kind: name === 'EMAILID' ? 'emailid' : 'threadid', id };
      }
      default:
        throw new ParseError(`Unknown search key ${name}`);
    }
  }

  /** RFC 7162 §3.1.5: `MODSEQ [entry-name entry-type-req] mod-sequence-valzer`; the entry is checked, then ignored. */
  private modseq(): SearchKey {
    const r = this.r;
    r.sp();
    if (r.peekByte() === 0x22) {
      const entry = r.string().bytes.toString('latin1');
      if (!/^\/flags\/\\?[^\\]+$/i.test(entry)) throw new ParseError('Invalid MODSEQ entry name');
      r.sp();
      if (!ENTRY_TYPES.has(r.atom().toLowerCase())) throw new ParseError('Invalid MODSEQ entry type');
      r.sp();
    }
    return { kind: 'modseq', min: r.number64() };
  }

  /** SP astring, decoded. */
  private string(): string {
    this.r.sp();
    return this.decode(this.r.astring().bytes);
  }

  private count(): void {
    if (++this.keys > MAX_SEARCH_KEYS) throw new ParseError('Too many search keys');
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_SEARCH_DEPTH) throw new ParseError('Search keys nested too deeply');
    const out = parse();
    this.depth--;
    return out;
  }
}

/** `search-key *(SP search-key)` to the end of the command (SORT and THREAD pass their own charset's decoder). */
export function parseSearchKeys(r: ArgReader, decode: Decode): SearchKey {
  return new KeyParser(r, decode).program(null);
}

/** RFC 9394 §4 `partial-range`: `nz-number ":" nz-number` or `"-" nz-number ":" "-" nz-number`. */
function parsePartialRange(r: ArgReader): PartialRange {
  const negative = r.skip('-');
  const first = r.nzNumber();
  r.expect(':');
  if (r.skip('-') !== negative) throw new ParseError('PARTIAL range mixes positive and negative positions');
  const last = r.nzNumber();
  return negative ? { first: -first, last: -last } : { first, last };
}

/** `"(" [search-return-opt *(SP search-return-opt)] ")"` after RETURN SP; unknown options are BAD (RFC 9051 §6.4.4). */
export function parseReturnOptions(r: ArgReader): ReturnOptions {
  const o: ReturnOptions = { min: false, max: false, all: false, count: false, save: false };
  r.list(() => {
    const name = r.atom().toUpperCase();
    switch (name) {
      case 'MIN':
      case 'MAX':
      case 'ALL':
      case 'COUNT':
      case 'SAVE':
        o[name.toLowerCase() as 'min' | 'max' | 'all' | 'count' | 'save'] = true;
        break;
      case 'PARTIAL':
        if (o.partial) throw new ParseError('PARTIAL given twice');
        r.sp();
        o.partial = parsePartialRange(r);
        break;
      default:
        throw new ParseError(`Unknown RETURN option ${name}`);
    }
  });
  // RFC 9394 §3.1: one PARTIAL or one ALL, never both.
  if (o.partial && o.all) throw new ParseError('PARTIAL and ALL cannot be combined');
  // RFC 4731 §3.1: an empty list means ALL.
  if (!o.min && !o.max && !o.count && !o.save && !o.partial) o.all = true;
  return o;
}

/** The next search-program word, upper-cased, when the input continues with an atom rather than a set or list. */
function leadingWord(r: ArgReader): string | null {
  if (r.peekByte() === 0x28 || r.atSequenceSet() || r.atLiteral()) return null;
  return r.atom().toUpperCase();
}

/**
 * `[search-return-opts] SP search-program` (RFC 9051 §9), after "SEARCH" and
 * its SP. An unsupported charset does not stop the parse: the syntax is still
 * checked (BAD wins over NO), and run() answers BADCHARSET.
 */
export function parseSearchCommand(r: ArgReader, rev2: boolean): SearchArgs {
  let word = leadingWord(r);
  let returnOptions: ReturnOptions | null = null;
  if (word === 'RETURN') {
    r.sp();
    returnOptions = parseReturnOptions(r);
    r.sp();
    word = leadingWord(r);
  }
  let charset: string | null = null;
  if (word === 'CHARSET') {
    r.sp();
    charset = r.astring().bytes.toString('latin1');
    r.sp();
    word = leadingWord(r);
  }
  const decode = charsetDecoder(charset, rev2);
  const query = new KeyParser(r, decode ?? ((b) => b.toString('utf8'))).program(word);
  return { returnOptions, charset, charsetSupported: decode !== null, query };
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
