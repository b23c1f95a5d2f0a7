/**
 * The CAPA list (RFC 2449 §5, §6). Only what works end to end is advertised:
 * EXPIRE and LOGIN-DELAY are left out because nothing enforces them, and
 * before login the list tells the client how it may authenticate.
 */
import { offeredMechanisms } from '../auth/sasl-login.js';
import type { Pop3Session } from './session/session.js';

/** Capabilities for the session's current state. */
export function capabilityList(session: Pop3Session): string[] {
  // RFC 3206 §6: every credential failure carries [AUTH], and only those do.
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (session.state.kind === 'authorization') {
    // RFC 2595 §4: STLS only before TLS; USER only where cleartext passwords are allowed; SASL lists what this connection offers (auth/sasl-login.ts).
    if (!session.secure) caps.push('STLS');
    if (!session.loginDisabled) caps.push('USER');
    const mechanisms = offeredMechanisms(session);
    if (mechanisms.length > 0) caps.push(`SASL ${mechanisms.join(' ')}`);
  }
  caps.push('IMPLEMENTATION mailkeep');
  return caps;
}
