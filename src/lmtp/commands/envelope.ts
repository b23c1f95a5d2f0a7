/**
 * The envelope of a mail transaction: MAIL (RFC 5321 §4.1.1.2) and RCPT
 * (§4.1.1.3) with their paths (§4.1.2) and the parameters of the extensions
 * we announce: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531).
 *
 * Invariant: an address that reaches the store or a trace line has no
 * control characters and fits the §4.5.3.1.3 path limit.
 */
import { resolveRecipient } from '../../mail/deliver.js';
import { countRejection } from '../../metrics/metrics.js';
import { badSequence, badSyntax, LmtpError } from '../errors.js';
import type { LmtpSession } from '../session/session.js';
import type { BodyType } from '../session/state.js';
import { command } from './spec.js';

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets. */
const MAX_PATH = 256;
/** Parameters on one MAIL or RCPT command. */
const MAX_PARAMS = 16;
const BODY_TYPES: readonly BodyType[] = ['7BIT', '8BITMIME', 'BINARYMIME'];

/** A parsed path and the ESMTP parameters after it. */
interface PathArgs {
  address: string;
  params: Map<string, string | null>;
}

/**
 * Parses `FROM:<path> params` / `TO:<path> params` (RFC 5321 §4.1.2, §4.1.1.2/3):
 * a source route is dropped (§4.1.2 says to accept and ignore it), quoted local
 * parts may hold '>' and spaces. A space after the colon is tolerated.
 */
function parsePath(args: string, keyword: 'FROM' | 'TO', errorCode: string): PathArgs {
  const head = `${keyword}:`;
  if (args.slice(0, head.length).toUpperCase() !== head) throw badSyntax(`Syntax: ${keyword === 'FROM' ? 'MAIL FROM:<address>' : 'RCPT TO:<address>'}`);
  const text = args.slice(head.length).replace(/^ +/, '');
  if (!text.startsWith('<')) throw badSyntax('Address must be in angle brackets', errorCode);
  let i = 1;
  let quoted = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '>' && !quoted) break;
  }
  if (i >= text.length) throw badSyntax('Unterminated address', errorCode);
  let address = text.slice(1, i);
  if (Buffer.byteLength(address) + 2 > MAX_PATH) throw badSyntax('Address too long', errorCode);
  if (address.startsWith('@')) {
    const colon = address.indexOf(':');
    if (colon < 0) throw badSyntax('Bad source route', errorCode);
    address = address.slice(colon + 1);
  }
  // Control characters would end up in a trace line or a log; spaces only inside a quoted local part.
  if (/[\x00-\x1f\x7f]/.test(address) || /\s/.test(address.replace(/"(?:[^"\\]|\\.)*"/g, ''))) {
    throw badSyntax('Bad address syntax', errorCode);
  }
  const rest = text.slice(i + 1);
  if (rest !== '' && !rest.startsWith(' ')) throw badSyntax('Bad address syntax', errorCode);
  return { address, params: parseParams(rest) };
}

/** ESMTP parameters (RFC 5321 §4.1.2 esmtp-param): `KEYWORD[=value]`, keywords case-insensitive, each at most once. */
function parseParams(text: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  const words = text.trim() === '' ? [] : text.trim().split(/ +/);
  if (words.length > MAX_PARAMS) throw badSyntax('Too many parameters');
  for (const word of words) {
    const eq = word.indexOf('=');
    const key = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key) || params.has(key)) throw badSyntax(`Bad parameter ${word.slice(0, 40)}`);
    params.set(key, eq < 0 ? null : word.slice(eq + 1));
  }
  return params;
}

/** RFC 5321 §4.1.1.11: 555 for parameters we do not know. */
function unsupported(key: string): LmtpError {
  return new LmtpError(555, '5.5.4', `Unsupported parameter ${key}`, true);
}

/** RFC 6531 §3.4: non-ASCII addresses only in an SMTPUTF8 transaction (RFC 6533 X.6.7). */
function checkAscii(address: string, smtputf8: boolean): void {
  if (!smtputf8 && /[^\x00-\x7f]/.test(address)) {
    throw new LmtpError(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8');
  }
}

/** Ends the current transaction, discarding any BDAT chunks received (RFC 3030 §2: RSET clears them). */
export async function resetTransaction(session: LmtpSession): Promise<void> {
  const st = session.state;
  if (st.kind === 'transaction' && st.envelope.chunks) await st.envelope.chunks.abort();
  if (st.kind === 'transaction') session.state = { kind: 'ready' };
}

/** RFC 5321 §4.1.1.2 — MAIL FROM. */
export const mail = command({
  name: 'MAIL',
  states: ['ready'],
  parse(args) {
    const { address, params } = parsePath(args, 'FROM', '5.1.7');
    let body: BodyType = '7BIT';
    let size: number | null = null;
    let smtputf8 = false;
    for (const [key, value] of params) {
      if (key === 'SIZE' && value !== null && /^\d{1,15}$/.test(value)) size = Number(value);
      else if (key === 'BODY' && value !== null && (BODY_TYPES as readonly string[]).includes(value.toUpperCase())) body = value.toUpperCase() as BodyType;
      else if (key === 'SMTPUTF8' && value === null) smtputf8 = true;
      else if (key === 'SIZE' || key === 'BODY' || key === 'SMTPUTF8') throw badSyntax(`Bad ${key} parameter`);
      else throw unsupported(key);
    }
    return { address, body, size, smtputf8 };
  },
  async run(session, { address, body, size, smtputf8 }) {
    checkAscii(address, smtputf8);
    const limit = session.config.limits.appendLimit;
    // RFC 1870 §6: a declared size above the limit is refused before any data.
    if (size !== null && size > limit) throw new LmtpError(552, '5.3.4', `Message size exceeds the limit of ${limit} octets`);
    session.state = { kind: 'transaction', envelope: { sender: address, body, smtputf8, recipients: [], chunks: null } };
    session.reply(250, '2.1.0', 'Sender OK');
  },
});

/** RFC 5321 §4.1.1.3 — RCPT TO; RFC 2033: unknown recipients are refused here, one by one. */
export const rcpt = command({
  name: 'RCPT',
  states: ['transaction'],
  parse(args) {
    const { address, params } = parsePath(args, 'TO', '5.1.3');
    if (address === '') throw badSyntax('Empty recipient address', '5.1.3');
    for (const key of params.keys()) throw unsupported(key);
    return address;
  },
  async run(session, address) {
    if (session.state.kind !== 'transaction') throw badSequence();
    const envelope = session.state.envelope;
    if (envelope.chunks) throw badSequence('RCPT after BDAT');
    checkAscii(address, envelope.smtputf8);
    // RFC 5321 §4.5.3.1.10: 452 for the recipients over the limit; the client sends them later.
    if (envelope.recipients.length >= session.config.lmtp.maxRecipients) throw new LmtpError(452, '4.5.3', 'Too many recipients');
    const recipient = await resolveRecipient(session.store, address, session.rules);
    if (!recipient) {
      countRejection();
      throw new LmtpError(550, '5.1.1', `<${address}> User unknown`);
    }
    envelope.recipients.push({ address, recipient });
    session.reply(250, '2.1.5', 'Recipient OK');
  },
});
