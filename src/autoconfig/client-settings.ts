/**
 * What a mail client needs to know, derived from the running configuration:
 * every client set-up format (Mozilla autoconfig, Outlook Autodiscover, Apple
 * profiles, `mailkeep dns`) renders this one description, so they never
 * disagree.
 *
 * RFC 8314 §3.1/§5.1: implicit TLS is preferred, so IMAP 993 comes before 143
 * with STARTTLS, POP3 995 before 110 with STLS; a listener on port 0 is off and
 * left out; plaintext is never offered.
 */
import type { Config } from '../config/schema.js';

export type MailProtocol = 'imap' | 'pop3' | 'smtp';
/** `tls`: TLS from the first byte (RFC 8314); `starttls`: STARTTLS/STLS before login. */
export type Security = 'tls' | 'starttls';

/** One way to reach a server. */
export interface ServerEndpoint {
  protocol: MailProtocol;
  host: string;
  port: number;
  security: Security;
}

/** Everything a client set-up answer says, most preferred first. */
export interface ClientSettings {
  /** Email address domain the answer is for. */
  domain: string;
  /** IMAP endpoints first (IMAP keeps the mail on the server), then POP3; implicit TLS before STARTTLS within each. */
  incoming: ServerEndpoint[];
  /** The organisation's submission server ([submission]), or null when not configured. */
  outgoing: ServerEndpoint | null;
}

/** The settings client set-up reads. */
export type ClientSetupConfig = Pick<Config, 'hostname' | 'domains' | 'imapPort' | 'imapsPort' | 'pop3Port' | 'pop3sPort' | 'submission'>;

/** RFC 6409 §3.1 submission on 587 (STARTTLS); RFC 8314 §7.3 submissions on 465 (implicit TLS). */
export function submissionPort(submission: Config['submission']): number {
  return submission.port ?? (submission.security === 'tls' ? 465 : 587);
}

/** The incoming endpoints in the order clients should try them. */
export function incomingEndpoints(config: ClientSetupConfig): ServerEndpoint[] {
  const candidates: ServerEndpoint[] = [
    { protocol: 'imap', host: config.hostname, port: config.imapsPort, security: 'tls' },
    { protocol: 'imap', host: config.hostname, port: config.imapPort, security: 'starttls' },
    { protocol: 'pop3', host: config.hostname, port: config.pop3sPort, security: 'tls' },
    { protocol: 'pop3', host: config.hostname, port: config.pop3Port, security: 'starttls' },
  ];
  return candidates.filter((e) => e.port !== 0);
}

/** The submission endpoint, or null when `[submission] host` is unset. */
export function outgoingEndpoint(config: ClientSetupConfig): ServerEndpoint | null {
  const { submission } = config;
  if (submission.host === null) return null;
  return { protocol: 'smtp', host: submission.host, port: submissionPort(submission), security: submission.security };
}

/** True when this server answers set-up requests for `domain`: one of `domains`, or any when that is empty. */
export function servesDomain(config: Pick<Config, 'domains'>, domain: string): boolean {
  return config.domains.length === 0 || config.domains.includes(domain.toLowerCase());
}

/** The settings for a domain, or null when this server does not serve it. */
export function clientSettings(config: ClientSetupConfig, domain: string): ClientSettings | null {
  if (!servesDomain(config, domain)) return null;
  return { domain: domain.toLowerCase(), incoming: incomingEndpoints(config), outgoing: outgoingEndpoint(config) };
}
