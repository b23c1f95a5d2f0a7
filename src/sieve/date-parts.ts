/**
 * RFC 5260 §4.2 date parts of an instant seen in a time zone, and the zone
 * handling of the date and currentdate tests (§4.1 :zone, :originalzone).
 */
import { parseDate } from '../mime/index.js';

const NAMED_ZONES: Record<string, number> = { UT: 0, GMT: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420 };
const pad = (n: number, w = 2): string => String(Math.trunc(Math.abs(n))).padStart(w, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "+hhmm" for a zone offset in minutes. */
export function zoneText(minutes: number): string {
  return `${minutes < 0 ? '-' : '+'}${pad(Math.abs(minutes) / 60)}${pad(Math.abs(minutes) % 60)}`;
}

/** Parses a :zone argument ("+hhmm"/"-hhmm") to minutes, or null when malformed. */
export function parseZone(z: string): number | null {
  const m = /^([+-])(\d\d)(\d\d)$/.exec(z.trim());
  if (!m || Number(m[3]) > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** A Date-like header value's instant and its written zone, or null when it is no date. */
export function headerDate(value: string): { instant: number; zone: number } | null {
  const instant = parseDate(value);
  if (instant === null) return null;
  const m = /([+-]\d{4})\s*(\([^)]*\)\s*)?$/.exec(value);
  if (m) return { instant, zone: parseZone(m[1] as string) ?? 0 };
  // RFC 5322 §4.3 obsolete zone names
  const named = /\b(UT|GMT|[ECMP][SD]T)\s*$/i.exec(value)?.[1]?.toUpperCase();
  return { instant, zone: named === undefined ? 0 : (NAMED_ZONES[named] ?? 0) };
}

/** The value of a date part (RFC 5260 §4.2) for an instant seen in `zone` minutes east of UTC; null for an unknown part. */
export function datePart(instant: number, zone: number, part: string): string | null {
  const d = new Date(instant + zone * 60_000);
  const y = d.getUTCFullYear();
  const mo = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  const h = d.getUTCHours();
  const mi = d.getUTCMinutes();
  const s = d.getUTCSeconds();
  switch (part.toLowerCase()) {
    case 'year':
      return pad(y, 4);
    case 'month':
      return pad(mo);
    case 'day':
      return pad(day);
    case 'date':
      return `${pad(y, 4)}-${pad(mo)}-${pad(day)}`;
    case 'julian':
      // Modified Julian Day: days since 1858-11-17
      return String(Math.floor((Date.UTC(y, mo - 1, day) - Date.UTC(1858, 10, 17)) / 86_400_000));
    case 'hour':
      return pad(h);
    case 'minute':
      return pad(mi);
    case 'second':
      return pad(s);
    case 'time':
      return `${pad(h)}:${pad(mi)}:${pad(s)}`;
    case 'iso8601': {
      const z = zoneText(zone);
      return `${pad(y, 4)}-${pad(mo)}-${pad(day)}T${pad(h)}:${pad(mi)}:${pad(s)}${z.slice(0, 3)}:${z.slice(3)}`;
    }
    case 'std11':
      return `${DAYS[d.getUTCDay()]}, ${day} ${MONTHS[mo - 1]} ${pad(y, 4)} ${pad(h)}:${pad(mi)}:${pad(s)} ${zoneText(zone)}`;
    case 'zone':
      return zoneText(zone);
    case 'weekday':
      return String(d.getUTCDay());
    default:
      return null;
  }
}
