/**
 * CONDSTORE and QRESYNC state (RFC 7162): enabling, explicit (ENABLE) or
 * implicit (a CONDSTORE-enabling command, §3.1), and the HIGHESTMODSEQ the
 * client must learn when that happens with a mailbox selected.
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

/** Whether VANISHED replaces EXPUNGE (RFC 7162 §3.2.10). */
export function qresync(session: ImapSession): boolean {
  return session.enabled.has('QRESYNC');
}
