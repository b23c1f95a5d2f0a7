/**
 * Calendar days as numbers, the unit SEARCH's date keys compare
 * (RFC 9051 §6.4.4: "disregarding time and timezone").
 */

/** A calendar date as a day number: days since 1970-01-01 (UTC calendar). */
export type DayNumber = number;

/** The day number of an instant (its UTC calendar date). */
export function dayOf(epochMs: number): DayNumber {
  return Math.floor(epochMs / 86_400_000);
}

/** The day number of a calendar date (month0 is 0-based). */
export function dayNumber(year: number, month0: number, day: number): DayNumber {
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, keeps years 0–99 as written.
  d.setUTCFullYear(year, month0, day);
  return dayOf(d.getTime());
}

/**
 * Instants an INTERNALDATE may hold: RFC 9051 `date-year` is 4DIGIT, and no
 * mail is dated before 1900. Checked on the UTC date, after zone adjustment.
 */
export const INTERNALDATE_MIN_MS = Date.UTC(1900, 0, 1);
export const INTERNALDATE_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/** Whether an instant is a date an INTERNALDATE may hold (see INTERNALDATE_MIN_MS). */
export function isInternalDateInRange(epochMs: number): boolean {
  return epochMs >= INTERNALDATE_MIN_MS && epochMs <= INTERNALDATE_MAX_MS;
}
