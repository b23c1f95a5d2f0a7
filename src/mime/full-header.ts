/**
 * Every header field of a message whose analysis holds only the first ones.
 * The analysis caps header fields, header bytes and decoded header text
 * (analyze.ts DEFAULT_LIMITS) to bound what is stored per message; SEARCH
 * HEADER and TEXT read such a header raw instead, so no field can be hidden
 * from them behind thousands of others. The raw header is bounded by the
 * message, and so by the message size limit.
 */
import { DEFAULT_LIMITS, decodedField } from './analyze.js';
import { parseHeaderFields } from './header-fields.js';
import type { MessageAnalysis } from './types.js';

/** Whether `analysis.headers` may lack fields of the message header (a cap cut them short). */
export function headerFieldsCapped(a: MessageAnalysis): boolean {
  if (a.headers.length >= DEFAULT_LIMITS.maxHeaderFields) return true;
  if (a.root.bs - a.root.hs > DEFAULT_LIMITS.maxHeaderBytes) return true;
  let chars = 0;
  for (const [, value] of a.headers) chars += value.length;
  return chars >= DEFAULT_LIMITS.maxHeaderText;
}

/** The byte range of the message header, blank line included: what allHeaderFields parses. */
export function headerRange(a: MessageAnalysis): { start: number; end: number } {
  return { start: a.root.hs, end: a.root.bs };
}

/**
 * All fields of a raw message header, as `MessageAnalysis.headers` holds them
 * but uncapped. Decoding thousands of fields takes milliseconds: `pause` is
 * called after each and awaited when it returns a promise (the caller's turn
 * to let the event loop run).
 */
export async function allHeaderFields(rawHeader: Buffer, pause: () => Promise<void> | null): Promise<Array<[name: string, value: string]>> {
  const fields: Array<[string, string]> = [];
  for (const field of parseHeaderFields(rawHeader, Number.MAX_SAFE_INTEGER)) {
    // The blank line ending the header parses as a field without a name.
    if (field.name.length === 0) continue;
    fields.push(decodedField(field));
    const paused = pause();
    if (paused) await paused;
  }
  return fields;
}
