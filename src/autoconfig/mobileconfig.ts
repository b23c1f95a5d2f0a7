/**
 * Apple configuration profile (.mobileconfig) for Apple Mail on iOS, iPadOS
 * and macOS: a property list (plist XML 1.0) of type Configuration holding
 * one com.apple.mail.managed payload for the address. Never a password: the
 * device asks for it when the profile is installed.
 * PayloadUUID and PayloadIdentifier are derived from the server and the
 * address, so installing a newer profile replaces the old one instead of
 * adding a second account.
 * (developer.apple.com/documentation/devicemanagement/mail)
 */
import { createHash } from 'node:crypto';
import type { AccountSetup } from './account-setup.js';
import type { ServerEndpoint } from './client-settings.js';
import { el, type XmlElement, xmlDocument } from './xml-writer.js';

const PLIST_DOCTYPE = '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">';
/** HTTP Content-Type of a profile. */
export const MOBILECONFIG_CONTENT_TYPE = 'application/x-apple-aspen-config';

type PlistValue = string | number | boolean;

function plistValue(value: PlistValue): XmlElement {
  if (typeof value === 'boolean') return el(value ? 'true' : 'false', []);
  return typeof value === 'number' ? el('integer', String(value)) : el('string', value);
}

function dict(entries: ReadonlyArray<readonly [string, PlistValue | XmlElement]>): XmlElement {
  return el(
    'dict',
    entries.flatMap(([key, value]) => [el('key', key), typeof value === 'object' ? value : plistValue(value)]),
  );
}

/** RFC 9562 §5.8 UUIDv8 from a SHA-256 of `name`: the same name always gives the same UUID. */
export function nameUuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function serverEntries(prefix: 'Incoming' | 'Outgoing', endpoint: ServerEndpoint, username: string): Array<readonly [string, PlistValue]> {
  return [
    [`${prefix}MailServerAuthentication`, 'EmailAuthPassword'],
    [`${prefix}MailServerHostName`, endpoint.host],
    [`${prefix}MailServerPortNumber`, endpoint.port],
    // UseSSL is TLS from the first byte; without it Apple Mail upgrades with STARTTLS when offered.
    [`${prefix}MailServerUseSSL`, endpoint.security === 'tls'],
    [`${prefix}MailServerUsername`, username],
  ];
}

/**
 * The unsigned profile, or null when no incoming server is enabled. Apple's
 * mail payload has one incoming server: IMAP when enabled, else POP3, each
 * with its preferred (implicit TLS first) endpoint.
 */
export function appleMobileconfig(setup: AccountSetup, hostname: string): string | null {
  const incoming = setup.settings.incoming[0];
  if (incoming === undefined) return null;
  const username = setup.loginName ?? setup.address;
  const identifier = `${hostname.split('.').reverse().join('.')}.mailkeep`;
  const mailUuid = nameUuid(`mail ${hostname} ${setup.address}`);
  const profileUuid = nameUuid(`profile ${hostname} ${setup.address}`);
  const mail: Array<readonly [string, PlistValue]> = [
    ['EmailAccountDescription', setup.address],
    ['EmailAccountType', incoming.protocol === 'imap' ? 'EmailTypeIMAP' : 'EmailTypePOP'],
    ['EmailAddress', setup.address],
    ...serverEntries('Incoming', incoming, username),
  ];
  const outgoing = setup.settings.outgoing;
  if (outgoing !== null) mail.push(...serverEntries('Outgoing', outgoing, username), ['OutgoingPasswordSameAsIncomingPassword', true]);
  mail.push(
    ['PayloadDescription', `Mail account ${setup.address}`],
    ['PayloadDisplayName', setup.address],
    ['PayloadIdentifier', `${identifier}.mail.${mailUuid}`],
    ['PayloadType', 'com.apple.mail.managed'],
    ['PayloadUUID', mailUuid],
    ['PayloadVersion', 1],
  );
  const profile = dict([
    ['PayloadContent', el('array', [dict(mail)])],
    ['PayloadDescription', `Sets up ${setup.address} on ${hostname}`],
    ['PayloadDisplayName', `Mail: ${setup.address}`],
    ['PayloadIdentifier', `${identifier}.profile.${profileUuid}`],
    ['PayloadRemovalDisallowed', false],
    ['PayloadType', 'Configuration'],
    ['PayloadUUID', profileUuid],
    ['PayloadVersion', 1],
  ]);
  return xmlDocument(el('plist', [profile], { version: '1.0' }), PLIST_DOCTYPE);
}
