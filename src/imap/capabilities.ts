/**
 * The CAPABILITY list (RFC 9051 §6.1.1, §7.2.2). Only what works end to end is
 * advertised; before login the list tells a client how it may authenticate.
 */
import { offeredMechanisms } from '../auth/sasl-login.js';
import type { ImapSession } from './session/session.js';

/** Capabilities for the session's current state. */
export function capabilityList(session: ImapSession): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UTF8=ACCEPT'];
  if (session.state.kind === 'not-authenticated') {
    if (!session.secure) caps.push('STARTTLS');
    // RFC 9051 §6.2.3: LOGINDISABLED concerns the LOGIN command; SCRAM may still be offered (auth/sasl-login.ts).
    if (session.loginDisabled) caps.push('LOGINDISABLED');
    caps.push(...offeredMechanisms(session).map((m) => `AUTH=${m}`));
    return caps;
  }
  caps.push(
    'UIDPLUS',
    'COMPRESS=DEFLATE',
    'UIDONLY',
    'INPROGRESS',
    'CONDSTORE',
    'QRESYNC',
    'MOVE',
    'CHILDREN',
    'ESEARCH',
    'SEARCHRES',
    // RFC 5032: OLDER/YOUNGER search keys.
    'WITHIN',
    // RFC 5255 §4.3: SEARCH, SORT and THREAD compare with i;unicode-casemap.
    'I18NLEVEL=1',
    // RFC 5256, RFC 5957, RFC 5267 §3.1, RFC 9394.
    'SORT',
    'SORT=DISPLAY',
    'THREAD=ORDEREDSUBJECT',
    'THREAD=REFERENCES',
    'ESORT',
    'PARTIAL',
    'BINARY',
    'SPECIAL-USE',
    'CREATE-SPECIAL-USE',
    'LIST-EXTENDED',
    'LIST-STATUS',
    'METADATA',
    'LIST-METADATA',
    // RFC 5465, every event but AnnotationChange (no per-message annotations).
    'NOTIFY',
    'STATUS=SIZE',
    'MULTIAPPEND',
    // RFC 4469; URL-PARTIAL: ;PARTIAL= in its URLs (RFC 5550 §4).
    'CATENATE',
    'URL-PARTIAL',
    'REPLACE',
    // RFC 9208 §3.1.1; QUOTASET is left out: limits are set by `mailkeep quota set`.
    'QUOTA',
    'QUOTA=RES-STORAGE',
    'QUOTA=RES-MESSAGE',
    'OBJECTID',
    'SAVEDATE',
    'PREVIEW',
    `APPENDLIMIT=${session.config.limits.appendLimit}`,
  );
  return caps;
}
