/**
 * Writing messages as mbox entries (RFC 4155), the inverse of
 * import/mbox-reader.ts: a From_ line, the message with LF line ends, flags
 * in Status / X-Status / X-Keywords headers, From-quoting by format, and the
 * empty line that separates entries.
 *
 * A message that came from an mbox whose From_ line named the Return-Path (or
 * From) address and the INTERNALDATE in UTC, whose flag headers ended its
 * header and which ended with a line end, is written back byte for byte.
 */
import { mboxFlagHeaders } from '../import/flag-codes.js';
import { toLf } from '../import/line-endings.js';
import type { MboxFormat } from '../import/mbox-reader.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Header fields that carry flags: rewritten from the stored flags on export. */
const FLAG_FIELDS = new Set(['status', 'x-status', 'x-keywords']);
const ADDRESS = /<([^<>\s]+@[^<>\s]+)>|([^\s<>"(),;:]+@[^\s<>"(),;:]+)/;

/** asctime in UTC, as From_ lines carry it: `Thu Jan  1 00:00:00 1970`. */
export function asctime(date: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${p2(date.getUTCHours())}:${p2(date.getUTCMinutes())}:${p2(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
}

/** Splits LF text (latin1, one char per byte) into its header (with the header's last line end) and the rest. */
function splitHeader(text: string): { header: string; rest: string } {
  if (text.startsWith('\n')) return { header: '', rest: text };
  const end = text.indexOf('\n\n');
  if (end < 0) return { header: text.endsWith('\n') || text === '' ? text : `${text}\n`, rest: '' };
  return { header: text.slice(0, end + 1), rest: text.slice(end + 1) };
}

/** Header fields as [name, whole text with continuation lines]. */
function headerFields(header: string): Array<[name: string, text: string]> {
  const out: Array<[string, string]> = [];
  for (const line of header.split(/(?<=\n)/)) {
    const last = out[out.length - 1];
    if (last && (line.startsWith(' ') || line.startsWith('\t'))) last[1] += line;
    else
      out.push([
        line
          .slice(0, Math.max(0, line.indexOf(':')))
          .trim()
          .toLowerCase(),
        line,
      ]);
  }
  return out;
}

/** The envelope sender of the From_ line: the Return-Path address, else the From address, else MAILER-DAEMON. */
function envelopeSender(fields: ReadonlyArray<[string, string]>): string {
  for (const name of ['return-path', 'from']) {
    const field = fields.find(([n]) => n === name);
    const m = field ? ADDRESS.exec(field[1].slice(field[1].indexOf(':') + 1)) : null;
    if (m) return (m[1] ?? m[2])!;
  }
  return 'MAILER-DAEMON';
}

/** One mbox entry for a stored message: From_ line, message, separating empty line. */
export function mboxEntry(stored: Buffer, flags: readonly string[], internalDate: Date, format: MboxFormat): Buffer {
  // latin1 maps bytes to chars one to one, so the text round-trips to the same bytes.
  const text = toLf(stored).toString('latin1');
  const { header, rest } = splitHeader(text);
  const fields = headerFields(header);
  const kept = fields.filter(([n]) => !FLAG_FIELDS.has(n)).map(([, t]) => t);
  const added = mboxFlagHeaders(flags).map(([n, v]) => `${n}: ${v}\n`);
  let body = kept.join('') + added.join('') + rest;
  if (!body.endsWith('\n')) body += '\n';
  // mboxrd quotes `>*From ` lines, mboxo only `From ` lines (see mbox-reader.ts).
  const quoted = format === 'mboxrd' ? body.replace(/(^|\n)(>*From )/g, '$1>$2') : body.replace(/(^|\n)(From )/g, '$1>$2');
  return Buffer.from(`From ${envelopeSender(fields)} ${asctime(internalDate)}\n${quoted}\n`, 'latin1');
}
