/**
 * The LHLO reply (RFC 2033 §4.1, RFC 5321 §4.1.1.1): the server's name, then
 * the service extensions, all of which work end to end.
 */
import type { LmtpSession } from './session/session.js';

/** LHLO reply lines: hostname first, one extension per line. */
export function lhloLines(session: LmtpSession): string[] {
  return [
    session.hostname,
    'PIPELINING', // RFC 2920
    'ENHANCEDSTATUSCODES', // RFC 2034
    '8BITMIME', // RFC 6152
    'SMTPUTF8', // RFC 6531
    'CHUNKING', // RFC 3030
    'BINARYMIME', // RFC 3030
    `SIZE ${session.config.limits.appendLimit}`, // RFC 1870
  ];
}
