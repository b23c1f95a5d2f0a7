/**
 * Cursor paging for the admin API's lists: `limit` (1-1000, default 100) and
 * an opaque `cursor` from the previous page's `next` (null on the last page).
 * A cursor is the last item's key in base64url, so a page never skips or
 * repeats an item when others are added or removed meanwhile.
 */
import { z } from 'zod';

/** Most items one page may ask for. */
export const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
/** Longest cursor accepted (an account name is at most 255 characters). */
const MAX_CURSOR = 1400;

/** The paging query parameters (merge into a route's query schema). */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
  cursor: z
    .string()
    .max(MAX_CURSOR)
    .regex(/^[A-Za-z0-9_-]+$/, { error: 'expected the `next` value of the previous page' })
    .optional(),
});

/** A key as a cursor. */
export const toCursor = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');

/** The key of a cursor (undefined: the first page). */
export const fromCursor = (cursor: string | undefined): string | undefined =>
  cursor === undefined ? undefined : Buffer.from(cursor, 'base64url').toString('utf8');

/**
 * A page from `limit + 1` fetched items: the first `limit`, and the cursor
 * of the last one shown when more follow.
 */
export function page<T>(fetched: T[], limit: number, keyOf: (item: T) => string): { items: T[]; next: string | null } {
  const items = fetched.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next: fetched.length > limit && last !== undefined ? toCursor(keyOf(last)) : null };
}
