/**
 * Base subject extraction (RFC 5256 §2.1, ABNF in §5), used by SORT SUBJECT
 * and both THREAD algorithms, and the "reply or forward" test of THREAD
 * REFERENCES (RFC 5256 §3, REFERENCES).
 *
 * Invariants: the input is already RFC 2047-decoded (MessageAnalysis.headers);
 * the work is linear in the subject's length, whatever its shape (cursor
 * positions instead of re-slicing, and a blob run that was scanned once is not
 * scanned again), so a hostile Subject cannot make a SORT quadratic.
 */

/** A subject with its artifacts removed. */
export interface BaseSubject {
  /** The base subject, case preserved (compare it through casemapKey). */
  text: string;
  /** A subj-refwd, a "(fwd)" trailer or a "[fwd: ...]" wrapper was removed. */
  replyOrForward: boolean;
}

const SP = 0x20;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;

/** Case-insensitive ASCII match of `word` (lower case) at position i, within s[0, end). */
function matchesAt(s: string, i: number, end: number, word: string): boolean {
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) {
    const c = s.charCodeAt(i + k);
    const w = word.charCodeAt(k);
    const letter = w >= 0x61 && w <= 0x7a;
    if (c !== w && !(letter && (c | 0x20) === w)) return false;
  }
  return true;
}

/** Removes artifacts from the RFC 5256 §2.1 base subject of a decoded Subject. */
export function baseSubject(subject: string): BaseSubject {
  // (1) Tabs and line breaks become spaces, runs of spaces one space.
  const s = subject.replace(/[ \t\r\n]+/g, ' ');
  let start = 0;
  let end = s.length;
  let replyOrForward = false;

  /** subj-blob at i: "[" *BLOBCHAR "]" *WSP; the position after it, or -1. */
  const blob = (i: number): number => {
    if (i >= end || s.charCodeAt(i) !== LBRACKET) return -1;
    for (let k = i + 1; k < end; k++) {
      const c = s.charCodeAt(k);
      if (c === LBRACKET) return -1;
      if (c === RBRACKET) return k + 1 < end && s.charCodeAt(k + 1) === SP ? k + 2 : k + 1;
    }
    return -1;
  };

  /** subj-refwd at i: ("re" / "fw" ["d"]) *WSP [subj-blob] ":"; the position after it, or -1. */
  const refwd = (i: number): number => {
    let k: number;
    if (matchesAt(s, i, end, 're')) k = i + 2;
    else if (matchesAt(s, i, end, 'fwd')) k = i + 3;
    else if (matchesAt(s, i, end, 'fw')) k = i + 2;
    else return -1;
    if (k < end && s.charCodeAt(k) === SP) k++;
    if (k < end && s.charCodeAt(k) === LBRACKET) k = blob(k);
    return k >= 0 && k < end && s.charCodeAt(k) === COLON ? k + 1 : -1;
  };

  for (;;) {
    // (2) Trailers: "(fwd)" or white space, repeatedly.
    for (;;) {
      if (end > start && s.charCodeAt(end - 1) === SP) end--;
      else if (end - start >= 5 && matchesAt(s, end - 5, end, '(fwd)')) {
        end -= 5;
        replyOrForward = true;
      } else break;
    }
    // A run of blobs [runFrom, runTo) already seen not to end in a subj-refwd.
    let runFrom = -1;
    let runTo = -1;
    // (3) and (4), repeated until neither matches (5).
    for (;;) {
      let found = false;
      // (3) subj-leader: (*subj-blob subj-refwd) / WSP.
      if (start < end && s.charCodeAt(start) === SP) {
        start++;
        found = true;
      } else if (!(start >= runFrom && start < runTo)) {
        let k = start;
        for (let next = blob(k); next >= 0; next = blob(k)) k = next;
        const after = refwd(k);
        if (after >= 0) {
          start = after;
          replyOrForward = true;
          found = true;
        } else if (k > start) {
          runFrom = start;
          runTo = k;
        }
      }
      // (4) A leading subj-blob goes when something remains after it.
      const next = blob(start);
      if (next >= 0 && next < end) {
        start = next;
        found = true;
      }
      if (!found) break;
    }
    // (6) "[fwd:" ... "]" wraps a forwarded subject: unwrap and start again from (2).
    if (end - start >= 6 && matchesAt(s, start, end, '[fwd:') && s.charCodeAt(end - 1) === RBRACKET) {
      start += 5;
      end--;
      replyOrForward = true;
      continue;
    }
    return { text: s.slice(start, end), replyOrForward };
  }
}
