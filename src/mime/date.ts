/**
 * Date header parsing (RFC 5322 §3.3 date-time, with the obsolete forms of
 * §4.3: two- and three-digit years, alphabetic zones, comments and white
 * space anywhere): the date as written for SENTBEFORE/SENTON/SENTSINCE, the
 * instant for SORT DATE. Tolerant of field order (asctime style, month
 * before day) since real mail varies.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
/** Zone names to minutes east of UTC (RFC 5322 §4.3, plus common European/Asian ones). */
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  edt: -240,
  est: -300,
  cdt: -300,
  cst: -360,
  mdt: -360,
  mst: -420,
  pdt: -420,
  pst: -480,
  bst: 60,
  cet: 60,
  met: 60,
  cest: 120,
  mest: 120,
  eet: 120,
  eest: 180,
  msk: 180,
  jst: 540,
  kst: 540,
  hkt: 480,
};

function stripComments(s: string): string {
  let depth = 0;
  let out = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')' && depth > 0) depth--;
    else if (depth === 0) out += ch;
  }
  return out;
}

const daysInMonth = (y: number, m: number): number => new Date(Date.UTC(y, m + 1, 0)).getUTCDate();

/** A Date header's date-time as written, and the instant it names. */
export interface WrittenDate {
  /** The calendar date in the header's own zone (RFC 9051 §6.4.4 SENT* disregard time and zone); month0 is 0-based. */
  year: number;
  month0: number;
  day: number;
  /**
   * Epoch ms, or null when the zone is a name this parser does not know:
   * RFC 5322 §4.3 reads such a zone as "-0000", but SORT DATE has always
   * fallen back to INTERNALDATE for these, and keeps doing so.
   */
  instant: number | null;
}

/** Parses a Date header value to its written date and instant, or null when it is not a date. */
export function parseWrittenDate(value: string): WrittenDate | null {
  const tokens = stripComments(value.slice(0, 256))
    .replace(/,/g, ' ')
    .split(/\s+/)
    .flatMap((t) => (/^\d{1,2}-[a-z]{3,}-\d{2,4}$/i.test(t) ? t.split('-') : t === '' ? [] : [t])); // "1-Jul-2003" too
  let day = -1;
  let month = -1;
  let year = -1;
  let time: number[] | null = null;
  let zone = 0;
  let unknownZone = false;
  for (const tok of tokens) {
    const t = tok.toLowerCase();
    let m: RegExpExecArray | null;
    if ((m = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/.exec(t))) {
      time = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
    } else if ((m = /^([+-])(\d\d)(\d\d)$/.exec(t))) {
      zone = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
      if (Number(m[3]) > 59) return null;
    } else if (/^\d+$/.test(t)) {
      const n = Number(t);
      if (day < 0 && t.length <= 2 && n >= 1 && n <= 31) day = n;
      else if (year < 0 && t.length <= 4)
        year = t.length === 4 ? n : n < 50 ? 2000 + n : 1900 + n; // RFC 5322 §4.3
      else return null;
    } else if (/^[a-z]+\.?$/.test(t)) {
      const w = t.replace('.', '');
      const mi = MONTHS.indexOf(w.slice(0, 3));
      if (mi >= 0 && w.length >= 3 && month < 0) month = mi;
      else if (w in ZONES) zone = ZONES[w] ?? 0;
      else if (DAYS.includes(w.slice(0, 3)) || w.length === 1)
        continue; // military zones count as UTC
      // RFC 5322 §4.3: another 3-5 letter name after the time is a zone of unknown meaning.
      else if (time !== null && !unknownZone && w.length >= 3 && w.length <= 5) unknownZone = true;
      else return null;
    } else {
      return null;
    }
  }
  if (day < 0 || month < 0 || year < 0) return null;
  if (day > daysInMonth(year, month)) return null;
  const [h = 0, min = 0, s = 0] = time ?? [];
  if (h > 23 || min > 59 || s > 60) return null;
  const instant = unknownZone ? null : Date.UTC(year, month, day, h, min, Math.min(s, 59)) - zone * 60_000;
  return { year, month0: month, day, instant };
}

/** Parses a Date header value to epoch milliseconds, or null when it is not a date (or its zone is unknown). */
export function parseDate(value: string): number | null {
  return parseWrittenDate(value)?.instant ?? null;
}
