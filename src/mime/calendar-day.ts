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
