/**
 * Validation of CIDR networks (`10.0.0.0/8`, `2001:db8::/32`, or a bare
 * address meaning a host route) as used by `plaintext-auth.trusted-networks`.
 */
import { isIP } from 'node:net';

/** A parsed CIDR block. */
export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses `addr/prefix` or a bare address; null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return null;
  const bits = version === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > bits) return null;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}
