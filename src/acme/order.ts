/**
 * One ACME order for one name (RFC 8555 §7.4): new order, answer the chosen
 * challenge of each pending authorization, finalize with a fresh key's CSR,
 * download the chain. acme-client speaks the protocol (JWS, nonces, polling);
 * this module chooses the steps, publishes the challenge responses and keeps
 * the CA's problem document when a step fails.
 */
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { AcmeChallenges } from './challenges.js';
import type { AcmeError as AcmeProblem } from '../net/acme-files.js';

export type ChallengeType = 'http-01' | 'tls-alpn-01';

/** A failed step, with the CA's problem document when it sent one. */
export class AcmeError extends Error {
  constructor(
    message: string,
    readonly problem: Omit<AcmeProblem, 'time'>,
  ) {
    super(message);
    this.name = 'AcmeError';
  }
}

/** A certificate chain and the key it was issued for. */
export interface IssuedPair {
  keyPem: Buffer;
  certPem: string;
}

type ProblemDocument = { type?: unknown; detail?: unknown; status?: unknown };

/** The problem document in an ACME response: an error response, or the error of an invalid challenge/authorization (RFC 8555 §7.1.3-7.1.6). */
function problemIn(status: number, data: unknown): Omit<AcmeProblem, 'time'> | null {
  if (typeof data !== 'object' || data === null) return null;
  const body = data as ProblemDocument & { error?: ProblemDocument; challenges?: { error?: ProblemDocument }[] };
  const doc = status >= 400 ? body : (body.error ?? body.challenges?.find((c) => c.error)?.error);
  if (!doc || typeof doc.type !== 'string') return null;
  return {
    type: doc.type,
    detail: typeof doc.detail === 'string' ? doc.detail : '',
    status: typeof doc.status === 'number' ? doc.status : status >= 400 ? status : null,
  };
}

/**
 * The last problem document the CA sent in this process. acme-client keeps
 * only the detail text in its errors, so the responses are watched instead;
 * orders run one at a time (acme/manager.ts), so "last" is this order's.
 */
let lastProblem: Omit<AcmeProblem, 'time'> | null = null;
acme.axios.interceptors.response.use((response) => {
  const found = problemIn(response.status, response.data);
  if (found) lastProblem = found;
  return response;
});

/** Trusts `caFile` besides the public roots for the directory's HTTPS (acme-client has one HTTP client per process). */
export async function trustDirectoryCa(caFile: string | null): Promise<void> {
  if (caFile === null) return;
  acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, await readFile(caFile, 'utf8')] });
}

/** An account client; the key is the account (RFC 8555 §7.3), created or found again on first use. */
export async function accountClient(directoryUrl: string, accountKey: Buffer, email: string | null): Promise<acme.Client> {
  // Polling of challenges and orders: from 1 s up to 10 s between tries, 12 tries.
  const client = new acme.Client({ directoryUrl, accountKey, backoffAttempts: 12, backoffMin: 1000, backoffMax: 10_000 });
  await step(() => client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) }));
  return client;
}

/** A new ECDSA P-256 private key in PEM (account and certificate keys). */
export function newPrivateKey(): Promise<Buffer> {
  return acme.crypto.createPrivateEcdsaKey();
}

/** Runs one protocol step; a failure becomes an AcmeError carrying the CA's problem document (or a local one). */
async function step<T>(run: () => Promise<T>): Promise<T> {
  lastProblem = null;
  try {
    return await run();
  } catch (err) {
    const message = (err as Error).message;
    const problem = lastProblem ?? { type: 'urn:mailkeep:acme:client', detail: message, status: null };
    throw new AcmeError(message, problem);
  }
}

/** Obtains a certificate for `name`, answering `challengeType`; rejects with an AcmeError. */
export async function orderCertificate(client: acme.Client, name: string, challengeType: ChallengeType, challenges: AcmeChallenges): Promise<IssuedPair> {
  const order = await step(() => client.createOrder({ identifiers: [{ type: 'dns', value: name }] }));
  const authorizations = await step(() => client.getAuthorizations(order));
  for (const authz of authorizations) {
    // RFC 8555 §7.1.4: a CA may reuse a valid authorization; nothing to prove then.
    if (authz.status === 'valid') continue;
    const challenge = authz.challenges.find((c) => c.type === challengeType);
    if (!challenge) {
      throw new AcmeError(`the CA offers no ${challengeType} challenge for ${name}`, {
        type: 'urn:mailkeep:acme:no-challenge',
        detail: `offered: ${authz.challenges.map((c) => c.type).join(', ')}`,
        status: null,
      });
    }
    const keyAuthorization = await step(() => client.getChallengeKeyAuthorization(challenge));
    if (challengeType === 'http-01') challenges.addHttp(challenge.token, keyAuthorization);
    else {
      const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
      challenges.addAlpn(authz.identifier.value, key, cert);
    }
    try {
      await step(() => client.completeChallenge(challenge));
      await step(() => client.waitForValidStatus(authz));
    } finally {
      if (challengeType === 'http-01') challenges.removeHttp(challenge.token);
      else challenges.removeAlpn(authz.identifier.value);
    }
  }
  const keyPem = await newPrivateKey();
  const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, keyPem);
  const finalized = await step(() => client.finalizeOrder(order, csr));
  // getCertificate polls the order until it is valid (RFC 8555 §7.4: "processing" first).
  const certPem = await step(() => client.getCertificate(finalized));
  return { keyPem, certPem };
}
