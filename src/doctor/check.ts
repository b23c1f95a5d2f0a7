/**
 * The doctor's vocabulary: one check is one output line (✓ / ! / ✗) and, for a
 * problem, one line of advice in plain words. Sections group the lines: the
 * name resolution first, then one per probed port.
 */

/** ok ✓, warn ! (listed, exit 0), fail ✗ (exit 1). */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the report. */
export interface Check {
  status: CheckStatus;
  text: string;
  /** What to do about it; present on every warn and fail. */
  advice?: string;
}

/** A passing check. */
export const ok = (text: string): Check => ({ status: 'ok', text });
/** A finding that does not stop a client (exit status stays 0). */
export const warn = (text: string, advice: string): Check => ({ status: 'warn', text, advice });
/** A finding that stops a client or exposes a password (exit status 1). */
export const fail = (text: string, advice: string): Check => ({ status: 'fail', text, advice });

/** Protocols `--port` names: IMAP/POP3, each with STARTTLS/STLS or implicit TLS (RFC 8314). */
export type Proto = 'imap' | 'imaps' | 'pop3' | 'pop3s';

/** One port to probe. */
export interface PortSpec {
  proto: Proto;
  port: number;
}

/** The default set when no --port is given: implicit TLS first (RFC 8314 §3.3). */
export const DEFAULT_PORTS: readonly PortSpec[] = [
  { proto: 'imaps', port: 993 },
  { proto: 'imap', port: 143 },
  { proto: 'pop3s', port: 995 },
  { proto: 'pop3', port: 110 },
];

/** True for the implicit-TLS protocols. */
export const implicitTls = (proto: Proto): boolean => proto === 'imaps' || proto === 'pop3s';

/** "IMAP", "POP3". */
export const family = (proto: Proto): 'IMAP' | 'POP3' => (proto.startsWith('imap') ? 'IMAP' : 'POP3');

/** What a client calls the port's security: "SSL/TLS" or "STARTTLS". */
export const securityName = (proto: Proto): string => (implicitTls(proto) ? 'SSL/TLS' : 'STARTTLS');

/** Server-supplied text made safe for one terminal line: controls removed, length capped. */
export function printable(text: string, max = 160): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
