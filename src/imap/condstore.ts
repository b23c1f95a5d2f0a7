/**
 * Per-session response modes turned on by extensions: CONDSTORE and QRESYNC
 * (RFC 7162) — enabling, explicit (ENABLE) or implicit (a CONDSTORE-enabling
 * command, §3.1), and the HIGHESTMODSEQ the client must then learn — and
 * UIDONLY (RFC 9586), which replaces sequence numbers in responses.
 */
import type { ImapSession } from './session/session.js';

/** Turns CONDSTORE on (RFC 7162 §3.1); tells a selected client the HIGHESTMODSEQ. */
export function enableCondstore(session: ImapSession): void {
  if (session.enabled.has('CONDSTORE')) return;
  session.enabled.add('CONDSTORE');
  const st = session.state;
  // §3.1.2.1: after a CONDSTORE enabling command the client needs the mailbox's HIGHESTMODSEQ.
  if (st.kind === 'selected') session.untagged(`OK [HIGHESTMODSEQ ${st.view.modseq}] Highest`);
}

/** Whether MODSEQ goes with every FETCH response carrying FLAGS (RFC 7162 §3.1.4.1). */
export function condstore(session: ImapSession): boolean {
  return session.enabled.has('CONDSTORE');
}

/** Whether QRESYNC is on (RFC 7162 §3.2). */
export function qresync(session: ImapSession): boolean {
  return session.enabled.has('QRESYNC');
}

/** Whether the client asked never to see sequence numbers (RFC 9586 §3). */
export function uidOnly(session: ImapSession): boolean {
  return session.enabled.has('UIDONLY');
}

/** Whether VANISHED replaces EXPUNGE (RFC 7162 §3.2.10, RFC 9586 §3.4). */
export function vanishedMode(session: ImapSession): boolean {
  return qresync(session) || uidOnly(session);
}

/** The start of a FETCH response: `n FETCH`, or `uid UIDFETCH` under UIDONLY (RFC 9586 §3.3). */
export function fetchHead(session: ImapSession, seqNum: number, uid: number): string {
  return uidOnly(session) ? `${uid} UIDFETCH` : `${seqNum} FETCH`;
}
