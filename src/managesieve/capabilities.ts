/**
 * The capability list (RFC 5804 §1.7): sent on connect, after STARTTLS and
 * for CAPABILITY. Only what works end to end is advertised; before login the
 * SASL list says how the client may authenticate here.
 */
import { offeredMechanisms } from '../auth/sasl-login.js';
import { DEFAULT_SIEVE_LIMITS, SIEVE_EXTENSIONS } from '../sieve/index.js';
import type { SieveSession } from './session/session.js';

/** Capability name and value pairs for the session's current state. */
export function capabilityList(session: SieveSession): [name: string, value?: string][] {
  const caps: [string, string?][] = [
    ['IMPLEMENTATION', 'mailkeep'],
    ['SIEVE', [...SIEVE_EXTENSIONS].join(' ')],
    // RFC 5804 §1.7: the redirects one script run may do (the runner's limit).
    ['MAXREDIRECTS', String(DEFAULT_SIEVE_LIMITS.maxRedirects)],
  ];
  if (session.state.kind === 'nonauth') {
    caps.push(['SASL', offeredMechanisms(session).join(' ')]);
    // RFC 5804 §2.2: STARTTLS only before TLS and login.
    if (!session.secure) caps.push(['STARTTLS']);
  }
  // RFC 5804 §1.7: OWNER, the authenticated user, only after login.
  if (session.state.kind === 'auth') caps.push(['OWNER', session.state.account.name]);
  // RFC 5804 §2.14.1: the UNAUTHENTICATE extension is advertised by name.
  caps.push(['UNAUTHENTICATE'], ['VERSION', '1.0']);
  return caps;
}
