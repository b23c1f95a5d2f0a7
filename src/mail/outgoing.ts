/**
 * Mail mailkeep sends on a user's behalf (Sieve redirect and vacation),
 * through `[relay]`: the messages (RFC 5230 §5 replies, RFC 5228 §4.2
 * redirects), the loop guards and the per-account hourly budget.
 *
 * Envelope sender of a redirect: the original envelope sender (RFC 5228
 * §4.2 "the envelope sender ... should be preserved"), so bounces reach the
 * author; mailkeep does no SRS, so a relay that checks SPF of forwarded mail
 * may need the `Return-Path` rewritten there. Vacation replies go from the
 * null sender <> (RFC 5230 §5.1, RFC 3834 §3.3).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { AccountId } from '../ids.js';
import { sendMail, type SmtpRelay } from './smtp-client.js';
import type { VacationAction } from '../sieve/index.js';

/** Sends mail through the relay within each account's hourly budget. */
export class Outgoing {
  /** Send times per account in the last hour; bounded by the budget and by the accounts tracked. */
  private readonly sent = new Map<AccountId, number[]>();
  private static readonly MAX_ACCOUNTS = 10_000;

  constructor(
    private readonly relay: SmtpRelay,
    private readonly perHour: number,
  ) {}

  /** The relay from `[relay]`, or null when no host is configured (redirect and vacation are then skipped). */
  static fromConfig(config: Pick<Config, 'relay' | 'hostname' | 'sieve'>): Outgoing | null {
    const r = config.relay;
    if (r.host === null) return null;
    const password = r.passwordFile === null ? null : (readFileSync(r.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '');
    const relay: SmtpRelay = {
      host: r.host,
      port: r.port,
      security: r.security,
      username: r.username,
      password,
      verifyCertificate: r.verifyCertificate,
      timeoutMs: r.timeout * 1000,
      heloName: config.hostname,
    };
    return new Outgoing(relay, config.sieve.maxOutgoingPerHour);
  }

  /** Takes one send from the account's budget; false when it is spent for this hour. */
  private charge(accountId: AccountId, now: number): boolean {
    const times = (this.sent.get(accountId) ?? []).filter((t) => t > now - 3_600_000);
    if (times.length >= this.perHour) return false;
    times.push(now);
    this.sent.delete(accountId);
    this.sent.set(accountId, times);
    // Oldest-touched accounts go first when too many are tracked.
    if (this.sent.size > Outgoing.MAX_ACCOUNTS) this.sent.delete(this.sent.keys().next().value as AccountId);
    return true;
  }

  /** Sends one message for the account; throws when over budget or when the relay refuses. */
  async send(accountId: AccountId, from: string, to: string, data: Buffer): Promise<void> {
    if (!this.charge(accountId, Date.now())) throw new Error(`the account sent ${this.perHour} messages this hour ([sieve] max-outgoing-per-hour)`);
    await sendMail(this.relay, { from, to: [to], data });
  }
}

/** A header field's value on one line: line breaks would forge fields. */
const oneLine = (s: string): string => s.replace(/[\r\n]+[ \t]*/g, ' ');

/** The header field name a redirect adds; a message already carrying it for this address is not redirected again (loop guard). */
export const LOOP_HEADER = 'X-Mailkeep-Redirected';

/** The redirected message: our loop line, then the original (or edited) header and body, bytes as received. */
export function redirectMessage(original: Buffer, recipientAddress: string, header: Buffer | undefined, bodyStart: number): Buffer {
  const loop = Buffer.from(`${LOOP_HEADER}: ${oneLine(recipientAddress)}\r\n`);
  return Buffer.concat(header ? [loop, header, original.subarray(bodyStart)] : [loop, original]);
}

/** What the vacation reply answers: the original's Message-ID and References (RFC 5230 §5.8). */
export interface RepliedMessage {
  messageId: string | null;
  references: string | null;
}

/** The RFC 5230 §5 reply: From the user, To the sender, Auto-Submitted: auto-replied, threading headers, text or :mime body. */
export function vacationMessage(action: VacationAction, userAddress: string, replied: RepliedMessage, hostname: string, now: Date): Buffer {
  const from = action.from ?? userAddress;
  const lines = [
    `From: ${oneLine(from)}`,
    `To: <${oneLine(action.to)}>`,
    `Subject: ${oneLine(action.subject)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomUUID()}@${hostname}>`,
    'Auto-Submitted: auto-replied (vacation)',
  ];
  if (replied.messageId !== null) {
    const id = oneLine(replied.messageId).trim();
    lines.push(`In-Reply-To: ${id}`, `References: ${replied.references === null ? '' : `${oneLine(replied.references).trim()} `}${id}`);
  }
  lines.push('MIME-Version: 1.0');
  // RFC 5230 §5.7: with :mime the reason is a MIME entity (its own header and body).
  const body = action.reason.replace(/\r?\n/g, '\r\n');
  if (!action.mime) lines.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', body);
  else lines.push(body);
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
}
