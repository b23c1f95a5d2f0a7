/**
 * One address's set-up: the address checked, the server settings for its
 * domain, and the login name — the account the address delivers to (aliases
 * resolve to their account, as delivery does: mail/deliver.ts).
 */
import type { Config } from '../config/schema.js';
import { type AccountResolver, resolveRecipient } from '../mail/deliver.js';
import { type ClientSettings, type ClientSetupConfig, clientSettings } from './client-settings.js';

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
export const MAX_ADDRESS_OCTETS = 254;

/** Settings the lookup reads. */
export type AccountSetupConfig = ClientSetupConfig & { lmtp: Pick<Config['lmtp'], 'recipientDelimiter'> };

export interface AccountSetup {
  address: string;
  settings: ClientSettings;
  /** The account name to log in with; null when no account has the address (clients then use the address itself). */
  loginName: string | null;
}

const DOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** `local@domain` split, with the domain lower-cased; null for anything else (spaces, controls, brackets, no dot). */
export function parseAddress(text: string): { local: string; domain: string } | null {
  if (Buffer.byteLength(text) > MAX_ADDRESS_OCTETS || /[\s\p{C}<>"(),;:\\[\]]/u.test(text)) return null;
  const at = text.lastIndexOf('@');
  if (at <= 0) return null;
  const domain = text.slice(at + 1).toLowerCase();
  return DOMAIN.test(domain) ? { local: text.slice(0, at), domain } : null;
}

/** A valid domain name (two labels at least), lower-cased, or null. */
export function parseDomain(text: string): string | null {
  const domain = text.toLowerCase().replace(/\.$/, '');
  return domain.length <= 253 && DOMAIN.test(domain) ? domain : null;
}

/** The set-up of an address, or null when it is not an address or its domain is not served here. */
export async function accountSetup(config: AccountSetupConfig, store: AccountResolver, address: string): Promise<AccountSetup | null> {
  const parsed = parseAddress(address);
  if (parsed === null) return null;
  const settings = clientSettings(config, parsed.domain);
  if (settings === null) return null;
  const normalized = `${parsed.local}@${parsed.domain}`;
  const rules = { domains: config.domains, recipientDelimiter: config.lmtp.recipientDelimiter };
  const recipient = await resolveRecipient(store, normalized, rules);
  return { address: normalized, settings, loginName: recipient?.account.name ?? null };
}
