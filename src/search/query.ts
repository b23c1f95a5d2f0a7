/**
 * The search query model shared by SEARCH, SORT and THREAD (RFC 9051 §6.4.4,
 * RFC 5256) and by any SQL push-down: a typed tree that knows nothing of IMAP
 * syntax. Strings are already decoded from the client's CHARSET; dates are
 * calendar days; sequence sets keep `*` and `$` symbolic because they are
 * resolved against the mailbox only when the query runs.
 */
import type { DayNumber } from '../mime/calendar-day.js';
import type { SequenceSet } from './sequence-set.js';

/** Which date a date key compares: INTERNALDATE, the Date header (SENT*) or the save date (SAVED*, RFC 8514 §4.3). */
export type DateField = 'internal' | 'sent' | 'saved';

/** How a date key compares: BEFORE/SENTBEFORE/SAVEDBEFORE, ON/…, SINCE/…. */
export type DateOp = 'before' | 'on' | 'since';

/** One search key (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 7162 §3.1.5, RFC 8474 §6, RFC 8514 §4.3). */
export type SearchKey =
  /** ALL, and the empty conjunction. */
  | { kind: 'all' }
  /** A system flag or keyword is set (`set`) or not set. */
  | { kind: 'flag'; flag: string; set: boolean }
  /** RFC 3501 \Recent for this session. */
  | { kind: 'recent' }
  /** Messages by sequence number (`set` may be `$`, the saved result). */
  | { kind: 'seq'; set: SequenceSet }
  /** Messages by UID (`set` may be `$`). */
  | { kind: 'uid'; set: SequenceSet }
  /** RFC822.SIZE larger / smaller than n octets. */
  | { kind: 'size'; op: 'larger' | 'smaller'; n: number }
  /** Per-message modseq ≥ min (entry name and type are ignored: modseqs are per message, RFC 7162 §3.1.5). */
  | { kind: 'modseq'; min: number }
  /** A date key on a calendar day. */
  | { kind: 'date'; field: DateField; op: DateOp; day: DayNumber }
  /** RFC 5032 OLDER/YOUNGER: INTERNALDATE at or before / at or after `seconds` before the time of the search. */
  | { kind: 'within'; op: 'older' | 'younger'; seconds: number }
  /**
   * Substring of a decoded header field (lower-cased name), any occurrence.
   * FROM/TO/CC/BCC/SUBJECT are this with the field's name; an empty value
   * matches any message that has the field. FROM/TO/CC/BCC set `address`:
   * they also match the envelope's normalized addresses (RFC 9051 §6.4.4).
   */
  | { kind: 'header'; field: string; value: string; address?: true }
  /** The message's EMAILID is exactly `id` (RFC 8474 §6; case-sensitive). */
  | { kind: 'emailid'; id: string }
  /** The message's THREADID is exactly `id`; no message has one here, so it matches none (RFC 8474 §5.2). */
  | { kind: 'threadid'; id: string }
  /** Substring of the decoded body text (BODY). */
  | { kind: 'body'; value: string }
  /** Substring of the header fields or the body text (TEXT). */
  | { kind: 'text'; value: string }
  | { kind: 'not'; key: SearchKey }
  | { kind: 'or'; left: SearchKey; right: SearchKey }
  | { kind: 'and'; keys: SearchKey[] };

/** What a query needs beyond the session's view, so callers load only that. */
export interface QueryNeeds {
  /** Store records (INTERNALDATE, save date, EMAILID; also the blob id any analysis needs). */
  record: boolean;
  /** The stored MIME analysis (headers, body text, Date header). */
  analysis: boolean;
  /** A MODSEQ key is present: responses carry the highest modseq (RFC 7162 §3.1.6). */
  modseq: boolean;
  /** A sequence-set key is present (refused under UIDONLY, RFC 9586 §3.5). */
  seqNumbers: boolean;
  /** BODY or TEXT: the analysis must include the decoded body text. */
  bodyText: boolean;
  /** A header or TEXT key: header fields are read (all of them, full-header.ts). */
  headerFields: boolean;
  /** A TEXT key: the whole header is folded into one text. */
  headerText: boolean;
}

/** Walks the tree once and reports which data it needs. */
export function queryNeeds(key: SearchKey): QueryNeeds {
  const needs: QueryNeeds = { record: false, analysis: false, modseq: false, seqNumbers: false, bodyText: false, headerFields: false, headerText: false };
  const visit = (k: SearchKey): void => {
    switch (k.kind) {
      case 'within':
        needs.record = true;
        break;
      case 'date':
        needs.record = true;
        // SENT* reads the Date header.
        if (k.field === 'sent') needs.analysis = true;
        break;
      case 'emailid':
        needs.record = true;
        break;
      case 'header':
      case 'body':
      case 'text':
        needs.record = true;
        needs.analysis = true;
        if (k.kind !== 'header') needs.bodyText = true;
        if (k.kind !== 'body') needs.headerFields = true;
        if (k.kind === 'text') needs.headerText = true;
        break;
      case 'modseq':
        needs.modseq = true;
        break;
      case 'seq':
        needs.seqNumbers = true;
        break;
      case 'not':
        visit(k.key);
        break;
      case 'or':
        visit(k.left);
        visit(k.right);
        break;
      case 'and':
        k.keys.forEach(visit);
        break;
      default:
        break;
    }
  };
  visit(key);
  return needs;
}
