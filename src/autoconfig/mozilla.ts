/**
 * Mozilla ISPDB "clientConfig" version 1.1, read by Thunderbird, K-9 Mail /
 * Thunderbird for Android, FairEmail and Evolution: an emailProvider with its
 * domain, then incomingServer and outgoingServer entries in order of
 * preference, each with hostname, port, socketType, username and
 * authentication.
 * (wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat)
 */
import type { AccountSetup } from './account-setup.js';
import type { ClientSettings, ServerEndpoint } from './client-settings.js';
import { el, type XmlElement, xmlDocument } from './xml-writer.js';

/** The placeholder clients replace with the address the user typed. */
const EMAIL_ADDRESS_PLACEHOLDER = '%EMAILADDRESS%';

const SOCKET_TYPE = { tls: 'SSL', starttls: 'STARTTLS' } as const;

function server(kind: 'incomingServer' | 'outgoingServer', endpoint: ServerEndpoint, username: string): XmlElement {
  return el(
    kind,
    [
      el('hostname', endpoint.host),
      el('port', String(endpoint.port)),
      el('socketType', SOCKET_TYPE[endpoint.security]),
      el('username', username),
      // A password over TLS: every endpoint here is TLS or STARTTLS, never plain.
      el('authentication', 'password-cleartext'),
    ],
    { type: endpoint.protocol },
  );
}

/**
 * The clientConfig document for a domain; `setup` (when the request named an
 * address) gives the login name, otherwise clients fill in the address.
 */
export function mozillaClientConfig(settings: ClientSettings, setup: AccountSetup | null): string {
  const username = setup?.loginName ?? EMAIL_ADDRESS_PLACEHOLDER;
  const children: XmlElement[] = [
    el('domain', settings.domain),
    el('displayName', settings.domain),
    el('displayShortName', settings.domain),
    ...settings.incoming.map((e) => server('incomingServer', e, username)),
  ];
  if (settings.outgoing !== null) children.push(server('outgoingServer', settings.outgoing, username));
  return xmlDocument(el('clientConfig', [el('emailProvider', children, { id: settings.domain })], { version: '1.1' }));
}
