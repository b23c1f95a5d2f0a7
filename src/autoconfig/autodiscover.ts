/**
 * Outlook's Autodiscover "POX" (plain old XML): the client POSTs
 * `<Autodiscover><Request><EMailAddress>…<AcceptableResponseSchema>…` and reads
 * an Account of AccountType email, Action settings, with one Protocol entry
 * per protocol (IMAP, POP3, SMTP) — Outlook takes one server of each type, so
 * each gets its preferred endpoint (implicit TLS first, RFC 8314).
 * Errors are Autodiscover Error elements (600 Invalid Request, 601 the
 * requested schema is not available), never internal detail.
 * (learn.microsoft.com "POX Autodiscover web service reference for Exchange")
 */
import { XMLParser } from 'fast-xml-parser';
import type { AccountSetup } from './account-setup.js';
import type { ServerEndpoint } from './client-settings.js';
import { el, type XmlElement, xmlDocument } from './xml-writer.js';

const RESPONSE_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
/** The only response schema mailkeep answers in (mail settings for Outlook). */
export const OUTLOOK_RESPONSE_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
/** A request is a few hundred bytes; anything much larger is not one. */
export const MAX_AUTODISCOVER_REQUEST_BYTES = 16 * 1024;

/** Autodiscover error codes mailkeep sends. */
export const AUTODISCOVER_ERRORS = {
  invalidRequest: { code: '600', message: 'Invalid Request' },
  unsupportedSchema: { code: '601', message: 'The requested schema version is not available' },
} as const;
export type AutodiscoverError = keyof typeof AUTODISCOVER_ERRORS;

/** What a request asks: the address, or the error to answer with. */
export type AutodiscoverRequest = { ok: true; address: string } | { ok: false; error: AutodiscoverError };

// No entity expansion (a DOCTYPE is refused before parsing anyway), no attributes: only the two fields matter.
const parser = new XMLParser({ processEntities: false, ignoreAttributes: true, ignoreDeclaration: true, removeNSPrefix: true, parseTagValue: false });

function textField(value: unknown): string | null {
  return typeof value === 'string' ? value.trim() : null;
}

/** Parses a request body (already bounded by the route); anything unexpected is Invalid Request. */
export function parseAutodiscoverRequest(body: string): AutodiscoverRequest {
  if (body.length > MAX_AUTODISCOVER_REQUEST_BYTES || /<!DOCTYPE|<!ENTITY/i.test(body)) return { ok: false, error: 'invalidRequest' };
  let parsed: unknown;
  try {
    parsed = parser.parse(body, true);
  } catch {
    return { ok: false, error: 'invalidRequest' };
  }
  const request = (parsed as { Autodiscover?: { Request?: Record<string, unknown> } } | null)?.Autodiscover?.Request;
  if (typeof request !== 'object' || request === null) return { ok: false, error: 'invalidRequest' };
  const address = textField(request.EMailAddress);
  const schema = textField(request.AcceptableResponseSchema);
  if (address === null || address === '' || schema === null) return { ok: false, error: 'invalidRequest' };
  if (schema !== OUTLOOK_RESPONSE_SCHEMA) return { ok: false, error: 'unsupportedSchema' };
  return { ok: true, address };
}

const TYPE = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' } as const;
/** Encryption overrides SSL in Outlook 2010+: SSL is TLS from the start, TLS is STARTTLS. */
const ENCRYPTION = { tls: 'SSL', starttls: 'TLS' } as const;

function protocol(endpoint: ServerEndpoint, loginName: string): XmlElement {
  const children = [
    el('Type', TYPE[endpoint.protocol]),
    el('Server', endpoint.host),
    el('Port', String(endpoint.port)),
    el('LoginName', loginName),
    el('DomainRequired', 'off'),
    el('SPA', 'off'),
    el('SSL', 'on'),
    el('Encryption', ENCRYPTION[endpoint.security]),
    el('AuthRequired', 'on'),
  ];
  if (endpoint.protocol === 'smtp') children.push(el('UsePOPAuth', 'off'), el('SMTPLast', 'off'));
  return el('Protocol', children);
}

/** The settings answer for an address. */
export function autodiscoverResponse(setup: AccountSetup): string {
  const loginName = setup.loginName ?? setup.address;
  const { incoming, outgoing } = setup.settings;
  const preferred = (kind: 'imap' | 'pop3') => incoming.find((e) => e.protocol === kind);
  const endpoints = [preferred('imap'), preferred('pop3'), outgoing ?? undefined].filter((e): e is ServerEndpoint => e !== undefined);
  const account = el('Account', [el('AccountType', 'email'), el('Action', 'settings'), ...endpoints.map((e) => protocol(e, loginName))]);
  return xmlDocument(el('Autodiscover', [el('Response', [account], { xmlns: OUTLOOK_RESPONSE_SCHEMA })], { xmlns: RESPONSE_NS }));
}

/** An Autodiscover error document. */
export function autodiscoverError(error: AutodiscoverError): string {
  const { code, message } = AUTODISCOVER_ERRORS[error];
  const body = el('Error', [el('ErrorCode', code), el('Message', message), el('DebugData', [])]);
  return xmlDocument(el('Autodiscover', [el('Response', [body])], { xmlns: RESPONSE_NS }));
}
