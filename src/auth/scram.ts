/**
 * The SCRAM exchange on the server (RFC 5802; SCRAM-SHA-256 is RFC 7677),
 * apart from any protocol and any store: auth/sasl-login.ts supplies the
 * keys and the connection's channel bindings, and runs the proof check under
 * the login throttle.
 *
 *   C: gs2-header client-first-message-bare       (n=user,r=cnonce)
 *   S: server-first-message                       (r=cnonce+snonce,s=salt,i=count)
 *   C: client-final-message                       (c=binding,r=nonce,p=proof)
 *   S: server-final-message                       (v=signature), after the proof is right
 *
 * Invariants: every message is bounded (MAX_MESSAGE) and parsed strictly;
 * malformed input throws SaslFailure, never reaches a log, and costs no
 * store access beyond one account lookup. A wrong proof, a nonce or channel
 * binding that does not match and a downgrade (RFC 5802 §6) all end as
 * refusals the caller counts as failed logins.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredential, ScramHash } from '../store/types.js';
import { SaslFailure } from './sasl.js';
import { scramDigest, scramHmac, SCRAM_DIGESTS } from './scram-keys.js';

/** A SCRAM mechanism: its hash function and whether it binds the channel (-PLUS). */
export interface ScramMechanism {
  hash: ScramHash;
  plus: boolean;
}

/** The SCRAM mechanisms by name, the strongest first (their advertised order). */
export const SCRAM_MECHANISMS: ReadonlyMap<string, ScramMechanism> = new Map([
  ['SCRAM-SHA-256-PLUS', { hash: 'SHA-256', plus: true }],
  ['SCRAM-SHA-256', { hash: 'SHA-256', plus: false }],
  ['SCRAM-SHA-1-PLUS', { hash: 'SHA-1', plus: true }],
  ['SCRAM-SHA-1', { hash: 'SHA-1', plus: false }],
]);

/** Longest SCRAM message accepted: far beyond any real one (a username, a nonce, a binding of at most 64 octets). */
export const MAX_MESSAGE = 4096;
/** Longest nonce a client may send (RFC 5802 leaves it open). */
const MAX_NONCE = 512;

/** What the exchange needs from its surroundings. */
export interface ScramContext {
  /** The connection offers -PLUS mechanisms (TLS): a client that says "y" was downgraded (RFC 5802 §6). */
  bindingOffered: boolean;
  /** The connection's channel binding data of a type; null when it cannot give that type. */
  channelBinding(type: string): Buffer | null;
  /** The keys of `user` for the mechanism's hash: real ones, or for an unknown user stable made-up ones that fail every proof. */
  credential(user: string): Promise<ScramCredential>;
  /** The server's nonce part; injectable for transcript tests (RFC 7677 §3). */
  serverNonce?: string;
}

/** A finished exchange: who, whether the proof held, and the server's last message. */
export interface ScramOutcome {
  user: string;
  /** Authorization identity; '' when the client asked for none. */
  authzid: string;
  /** Why it failed before the proof could count (a refusal the client should be told); null when the proof decided. */
  refusal: string | null;
  /** The client proved it knows the password for these keys. */
  proofValid: boolean;
  /** server-final-message (v=…), sent only after the login succeeded. */
  serverFinal: string;
}

/** SCRAM's base64 (RFC 5802 §7: RFC 4648 §4 with padding); null when not strictly that. */
function strictBase64(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/** RFC 5802 §5.1 saslname: "=2C" is ",", "=3D" is "="; any other "=" is malformed. */
function decodeSaslName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw new SaslFailure('Malformed SCRAM username');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** The message as UTF-8 text (RFC 5802 §5: messages are UTF-8), bounded. */
function text(message: Buffer): string {
  if (message.length > MAX_MESSAGE) throw new SaslFailure('SCRAM message too long');
  const s = message.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(message) || s.includes('\0')) throw new SaslFailure('SCRAM message is not UTF-8 text');
  return s;
}

/** `name=value` with the expected one-letter name; throws SaslFailure otherwise. */
function attribute(field: string | undefined, name: string): string {
  if (field === undefined || !field.startsWith(`${name}=`)) throw new SaslFailure(`Malformed SCRAM message: expected ${name}=`);
  return field.slice(2);
}

/** RFC 5802 §7 printable: %x21-2B / %x2D-7E. */
const NONCE = /^[\x21-\x2B\x2D-\x7E]+$/;

/** The parsed client-first-message (RFC 5802 §7). */
interface ClientFirst {
  /** gs2-header as sent: part of the channel binding check. */
  gs2Header: string;
  /** "n": no binding, client can't; "y": client could but thinks the server can't; else the binding type. */
  binding: { flag: 'n' | 'y' } | { flag: 'p'; type: string };
  /** RFC 5802 §5.1 a: the authorization identity, '' when none was asked for. */
  authzid: string;
  user: string;
  clientNonce: string;
  bare: string;
}

function parseClientFirst(message: string): ClientFirst {
  const fields = message.split(',');
  const [flag, authz] = fields;
  let binding: ClientFirst['binding'];
  if (flag === 'n' || flag === 'y') binding = { flag };
  else if (flag?.startsWith('p=') && /^[A-Za-z0-9.-]+$/.test(flag.slice(2))) binding = { flag: 'p', type: flag.slice(2) };
  else throw new SaslFailure('Malformed SCRAM gs2 header');
  if (authz === undefined || (authz !== '' && !authz.startsWith('a='))) throw new SaslFailure('Malformed SCRAM gs2 header');
  const authzid = authz === '' ? '' : decodeSaslName(authz.slice(2));
  const bareFields = fields.slice(2);
  // RFC 5802 §5.1: a mandatory extension (m=) this server does not know fails the exchange.
  if (bareFields[0]?.startsWith('m=')) throw new SaslFailure('Unsupported SCRAM extension');
  const user = decodeSaslName(attribute(bareFields[0], 'n'));
  const clientNonce = attribute(bareFields[1], 'r');
  if (user === '' || !NONCE.test(clientNonce) || clientNonce.length > MAX_NONCE) throw new SaslFailure('Malformed SCRAM client-first-message');
  // RFC 5802 §7 extension: attr-val; optional ones are ignored.
  if (!bareFields.slice(2).every((f) => /^[A-Za-z]=/.test(f))) throw new SaslFailure('Malformed SCRAM extension');
  return { gs2Header: `${flag},${authz},`, binding, authzid, user, clientNonce, bare: bareFields.join(',') };
}

/** The parsed client-final-message (RFC 5802 §7). */
interface ClientFinal {
  binding: Buffer;
  nonce: string;
  withoutProof: string;
  proof: Buffer;
}

function parseClientFinal(message: string, hash: ScramHash): ClientFinal {
  const cut = message.lastIndexOf(',p=');
  if (cut < 0) throw new SaslFailure('Malformed SCRAM client-final-message: no proof');
  const withoutProof = message.slice(0, cut);
  const fields = withoutProof.split(',');
  const binding = strictBase64(attribute(fields[0], 'c'));
  const nonce = attribute(fields[1], 'r');
  const proof = strictBase64(message.slice(cut + 3));
  if (binding === null || proof === null || proof.length !== SCRAM_DIGESTS[hash].bytes) throw new SaslFailure('Malformed SCRAM client-final-message');
  return { binding, nonce, withoutProof, proof };
}

/**
 * Why the client's channel binding choice is refused, or null when it is
 * acceptable (RFC 5802 §6): "p" needs a -PLUS mechanism and a type this
 * connection gives; "y" while this connection offers -PLUS is a downgrade;
 * a -PLUS mechanism needs "p".
 */
function bindingRefusal(first: ClientFirst, mechanism: ScramMechanism, ctx: ScramContext): string | null {
  const { binding } = first;
  if (mechanism.plus !== (binding.flag === 'p')) return mechanism.plus ? 'SCRAM -PLUS needs channel binding' : 'Channel binding needs a -PLUS mechanism';
  if (binding.flag === 'y' && ctx.bindingOffered) return 'Channel binding was offered: downgrade refused';
  if (binding.flag === 'p' && ctx.channelBinding(binding.type) === null) return `Unsupported channel binding type ${binding.type.slice(0, 32)}`;
  return null;
}

/**
 * One SCRAM exchange as a SASL exchange (auth/sasl.ts): the client speaks
 * first, so the first challenge is empty (RFC 4422 §3; SASL-IR carries the
 * client-first-message).
 */
export function scramExchange(mechanism: ScramMechanism, ctx: ScramContext): { first: string; step(response: Buffer): Promise<string | ScramOutcome> } {
  let state: { first: ClientFirst; serverFirst: string; nonce: string; credential: ScramCredential } | null = null;
  return {
    first: '',
    async step(response) {
      const message = text(response);
      if (state === null) {
        const first = parseClientFirst(message);
        const credential = await ctx.credential(first.user);
        const nonce = first.clientNonce + (ctx.serverNonce ?? randomBytes(18).toString('base64'));
        const serverFirst = `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
        state = { first, serverFirst, nonce, credential };
        return serverFirst;
      }
      const { first, serverFirst, nonce, credential } = state;
      const final = parseClientFinal(message, mechanism.hash);
      const authMessage = `${first.bare},${serverFirst},${final.withoutProof}`;
      const serverFinal = `v=${scramHmac(mechanism.hash, credential.serverKey, authMessage).toString('base64')}`;
      let refusal = bindingRefusal(first, mechanism, ctx);
      if (refusal === null && final.nonce !== nonce) refusal = 'SCRAM nonce does not match';
      if (refusal === null) {
        // RFC 5802 §6: c= carries the gs2 header and, with "p", the binding data.
        const cbData = first.binding.flag === 'p' ? ctx.channelBinding(first.binding.type) : null;
        const expected = Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), cbData ?? Buffer.alloc(0)]);
        if (!expected.equals(final.binding)) refusal = 'Channel bindings do not match';
      }
      return {
        user: first.user,
        authzid: first.authzid,
        refusal,
        proofValid: refusal === null && proofHolds(mechanism.hash, credential, authMessage, final.proof),
        serverFinal,
      };
    },
  };
}

/** RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof holds when H(ClientKey) = StoredKey. */
function proofHolds(hash: ScramHash, credential: ScramCredential, authMessage: string, proof: Buffer): boolean {
  const signature = scramHmac(hash, credential.storedKey, authMessage);
  const clientKey = Buffer.alloc(proof.length);
  for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
  const stored = scramDigest(hash, clientKey);
  return stored.length === credential.storedKey.length && timingSafeEqual(stored, credential.storedKey);
}
