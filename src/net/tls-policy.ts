/**
 * What every TLS endpoint accepts: TLS 1.2 and 1.3 only (RFC 8996 retires 1.0
 * and 1.1; RFC 9325 §3.1.1), and on 1.2 only the AEAD suites of Mozilla's
 * "intermediate" profile (Server Side TLS 5.7): forward-secret ECDHE/DHE key
 * exchange with AES-GCM or ChaCha20-Poly1305, so no CBC, SHA-1 MAC, CCM8,
 * ARIA, static RSA key exchange or export suites (RFC 9325 §4.1, §4.2).
 * TLS 1.3 keeps OpenSSL's three default suites, the ones Mozilla lists.
 */
import type { SecureContextOptions } from 'node:tls';
import type { TlsMinVersion } from '../config/schema.js';

/** Mozilla intermediate, TLS 1.3 then TLS 1.2 suites, in its order (OpenSSL names; Node splits 1.3 from 1.2 itself). */
export const INTERMEDIATE_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The protocol and cipher options of every server context; the key and certificate are added per pair. */
export function tlsPolicyOptions(minVersion: TlsMinVersion): SecureContextOptions {
  return {
    minVersion: minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: INTERMEDIATE_CIPHERS,
    // The DHE suites need a group: 'auto' picks RFC 7919 ffdhe2048 (or larger for bigger keys), as Mozilla asks.
    dhparam: 'auto',
  };
}
