/**
 * SASL exchanges (RFC 4422) apart from any protocol, and the password
 * mechanisms: IMAP AUTHENTICATE (RFC 9051 §6.2.2) and POP3 AUTH (RFC 5034 §4)
 * run the same exchanges and differ only in how a challenge goes out and a
 * failure is said. runSasl drives any mechanism's exchange (SCRAM's lives in
 * auth/scram.ts; auth/sasl-login.ts picks the mechanism); the password
 * mechanisms here are PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login-00, for Outlook and older clients).
 *
 * Invariant: an exchange takes a bounded number of steps; the responses are
 * secret (the protocols keep them out of traces) and never in an error.
 */

/** What a password mechanism yields: the identities and the password to check. */
export interface PasswordCredentials {
  /** Authorization identity; '' when the client asked for none. */
  authz: string;
  user: string;
  password: string;
}

/** A malformed exchange: IMAP answers BAD, POP3 -ERR. */
export class SaslFailure extends Error {}

/**
 * One exchange of any mechanism: the challenge to send when the client gave
 * no initial response, then one step per response, yielding the next
 * challenge or, once complete, the mechanism's result (credentials to check,
 * a SCRAM outcome, …).
 */
export interface SaslExchange<R extends object> {
  first: string;
  step(response: Buffer): string | R | Promise<string | R>;
}

type Exchange = SaslExchange<PasswordCredentials>;

/** Splits a SASL PLAIN response (RFC 4616 §2) into its parts; null when malformed. */
function parseSaslPlain(decoded: Buffer): PasswordCredentials | null {
  const parts = decoded.toString('utf8').split('\0');
  if (parts.length !== 3) return null;
  const [authz, user, password] = parts as [string, string, string];
  return { authz, user, password };
}

const utf8 = (b: Buffer): string => b.toString('utf8');

const MECHANISMS: Record<string, () => Exchange> = {
  // RFC 4616 §2: one message, authzid NUL authcid NUL passwd; the server's first challenge is empty.
  PLAIN: () => ({
    first: '',
    step(response) {
      const plain = parseSaslPlain(response);
      if (!plain) throw new SaslFailure('Malformed PLAIN response');
      return plain;
    },
  }),
  // draft-murchison-sasl-login-00 §2: "Username:", then "Password:"; an initial response is the user name.
  LOGIN: () => {
    let user: string | null = null;
    return {
      first: 'Username:',
      step(response) {
        if (user === null) {
          user = utf8(response);
          return 'Password:';
        }
        return { authz: '', user, password: utf8(response) };
      },
    };
  },
};

/** Password mechanisms in the order they are advertised. */
export const PASSWORD_MECHANISMS: readonly string[] = Object.keys(MECHANISMS);

/** Whether `name` (upper case) is a mechanism this server runs. */
export function isPasswordMechanism(name: string): boolean {
  return Object.hasOwn(MECHANISMS, name);
}

/** More steps than any mechanism here needs: a client cannot keep an exchange going. */
const MAX_STEPS = 4;

/** Decodes a base64 response line (RFC 4648 §4, strict: no whitespace); SaslFailure when it is not. */
export function decodeSaslResponse(line: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(line) || line.length % 4 !== 0) throw new SaslFailure('Invalid base64 in SASL response');
  return Buffer.from(line, 'base64');
}

/**
 * Runs an exchange from the client's initial response (null: none; "="
 * is an empty one, RFC 4959 §3 and RFC 5034 §4), asking `ask` for each
 * further response with a challenge (plain text; sent base64-encoded).
 * Resolves to the mechanism's result, 'cancelled' when the client sent "*"
 * (RFC 9051 §6.2.2, RFC 5034 §4), or null when the connection closed.
 */
export async function runSasl<R extends object>(
  exchange: SaslExchange<R>,
  initial: string | null,
  ask: (challenge: string) => Promise<string | null>,
): Promise<R | 'cancelled' | null> {
  let line = initial === '=' ? '' : initial;
  let challenge = exchange.first;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    if (line === null) {
      line = await ask(encodeChallenge(challenge));
      if (line === null) return null;
    }
    if (line === '*') return 'cancelled';
    const result = await exchange.step(decodeSaslResponse(line));
    if (typeof result !== 'string') return result;
    challenge = result;
    line = null;
  }
  throw new SaslFailure('Too many SASL steps');
}

/** A challenge as it goes on the wire: base64 of its text. */
export function encodeChallenge(challenge: string): string {
  return Buffer.from(challenge, 'utf8').toString('base64');
}

/** Runs password mechanism `name` (see runSasl); resolves to the credentials to check. */
export function runPasswordSasl(
  name: string,
  initial: string | null,
  ask: (challenge: string) => Promise<string | null>,
): Promise<PasswordCredentials | 'cancelled' | null> {
  const make = MECHANISMS[name];
  if (!make) throw new Error(`not a mechanism: ${name}`);
  return runSasl(make(), initial, ask);
}
