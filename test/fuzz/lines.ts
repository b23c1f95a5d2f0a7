/**
 * Reading server lines for the fuzz adapters: CRLF lines, or IMAP lines with
 * their literals inlined. A read ends in a line, 'closed' or 'timeout' — never
 * an exception — and a line is bounded so a runaway response cannot eat the
 * harness's memory.
 */
import type { BufferedSocket } from '../helpers/socket-buffer.js';

export type Read = Buffer | 'closed' | 'timeout';

/** Longest response line (with literals) the harness accepts; longer is reported as a violation by the caller. */
export const MAX_RESPONSE_LINE = 64 * 1024 * 1024;

async function waitOn(sock: BufferedSocket, pred: () => boolean, ms: number): Promise<'ok' | 'closed' | 'timeout'> {
  try {
    await sock.waitFor(pred, ms);
    return 'ok';
  } catch (e) {
    if (pred()) return 'ok';
    return /closed/.test((e as Error).message) ? 'closed' : 'timeout';
  }
}

/** One line up to CRLF (the CRLF consumed, not returned). A bare LF does not end a line. */
export async function readCrlfLine(sock: BufferedSocket, ms: number): Promise<Read> {
  const got = await waitOn(sock, () => sock.buf.indexOf('\r\n') >= 0 || sock.buf.length > MAX_RESPONSE_LINE, ms);
  if (got !== 'ok') return got;
  const eol = sock.buf.indexOf('\r\n');
  if (eol < 0) return 'closed';
  const line = Buffer.from(sock.buf.subarray(0, eol));
  sock.consume(eol + 2);
  return line;
}

/** One IMAP response line with literals inlined (`{n}\r\n` + n octets, RFC 9051 §4.3). */
export async function readImapLine(sock: BufferedSocket, ms: number): Promise<Read> {
  let pos = 0;
  for (;;) {
    const got = await waitOn(sock, () => sock.buf.indexOf('\r\n', pos) >= 0 || sock.buf.length > MAX_RESPONSE_LINE, ms);
    if (got !== 'ok') return got;
    const eol = sock.buf.indexOf('\r\n', pos);
    if (eol < 0) return 'closed';
    const m = /~?\{(\d{1,12})\}$/.exec(sock.buf.subarray(Math.max(pos, eol - 24), eol).toString('latin1'));
    if (m) {
      const need = eol + 2 + Number(m[1]);
      if (need > MAX_RESPONSE_LINE) return 'closed';
      const full = await waitOn(sock, () => sock.buf.length >= need, ms);
      if (full !== 'ok') return full;
      pos = need;
      continue;
    }
    const line = Buffer.from(sock.buf.subarray(0, eol));
    sock.consume(eol + 2);
    return line;
  }
}

/** A short printable form of a line for reports. */
export function show(line: Buffer, max = 200): string {
  const s = JSON.stringify(line.subarray(0, max).toString('latin1'));
  return line.length > max ? `${s}…(${line.length} octets)` : s;
}
