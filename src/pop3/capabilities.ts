/**
 * The CAPA list (RFC 2449 §5, §6). Only what works end to end is advertised:
 * EXPIRE and LOGIN-DELAY are left out because nothing enforces them, and
 * before login the list tells the client how it may authenticate.
 */
import { OAUTH_MECHANISMS } from '../auth/oauth/sasl-oauth.js';
import { PASSWORD_MECHANISMS } from '../auth/sasl.js';
import type { Pop3Session } from './session/session.js';

/** The SASL mechanisms offered (CAPA SASL, bare AUTH): bearer tokens only with [oauth] (RFC 7628 §3: where passwords are). */
export function saslMechanisms(session: Pop3Session): string[] {
  return [...PASSWORD_MECHANISMS, ...(session.oauth ? OAUTH_MECHANISMS : [])];
}

/** Capabilities for the session's current state. */
export function capabilityList(session: Pop3Session): string[] {
  // RFC 3206 §6: every credential failure carries [AUTH], and only those do.
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (session.state.kind === 'authorization') {
    // RFC 2595 §4: STLS only before TLS; USER and SASL only where cleartext passwords are allowed.
    if (!session.secure) caps.push('STLS');
    if (!session.loginDisabled) caps.push('USER', `SASL ${saslMechanisms(session).join(' ')}`);
  }
  caps.push('IMPLEMENTATION mailkeep');
  return caps;
}
