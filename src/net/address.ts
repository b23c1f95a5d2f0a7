/**
 * Client address helpers shared by every protocol listener: normalization for
 * per-address limits and CIDR matching for trusted networks.
 */
import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../config/cidr.js';

/** Strips the IPv4-mapped IPv6 prefix so limits and trusted networks see plain IPv4. */
export function normalizeAddress(addr: string | undefined): string {
  if (!addr) return 'unknown';
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(addr) ? addr.slice(7) : addr;
}

const lists = new WeakMap<readonly string[], BlockList>();

/** Whether an address lies in one of the CIDR networks (validated by the config schema). */
export function isTrusted(addr: string, networks: readonly string[]): boolean {
  if (networks.length === 0) return false;
  let list = lists.get(networks);
  if (!list) {
    list = new BlockList();
    for (const net of networks) {
      const c = parseCidr(net);
      if (c) list.addSubnet(c.address, c.prefix, c.family);
    }
    lists.set(networks, list);
  }
  const family = isIP(addr);
  return family !== 0 && list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}
