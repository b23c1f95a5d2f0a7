/**
 * A tiny OpenID Connect issuer for tests, on 127.0.0.1: the discovery
 * document, the JWKS, an RFC 7662 introspection endpoint (client
 * `mailkeep`, Basic authentication), signed JWT access tokens (jose), key
 * rotation, and counts of the requests each endpoint got.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/** The client mailkeep authenticates as at the introspection endpoint. */
export const INTROSPECTION_CLIENT = { id: 'mailkeep', secret: 'introspection secret' };

/** The audience tokens are minted for unless told otherwise. */
export const TEST_AUDIENCE = 'mailkeep';

type Alg = 'RS256' | 'ES256' | 'EdDSA';

interface SigningKey {
  kid: string;
  alg: Alg;
  privateKey: webcrypto.CryptoKey;
  jwk: JWK;
}

/** How a token deviates from a good one. */
export interface TokenOptions {
  /** Seconds from now; negative: already expired. Default 300. */
  expiresIn?: number;
  /** Leave `exp` out. */
  noExpiry?: boolean;
  audience?: string;
  issuer?: string;
  /** Sign with a key the JWKS does not hold, under the current kid (a forged signature). */
  forged?: boolean;
  /** Sign with this key instead of the current one (e.g. the one before a rotation). */
  key?: SigningKey;
  /** Sign with HS256 and this shared secret, under the current kid (algorithm confusion). */
  hmacSecret?: string;
}

async function newKey(alg: Alg): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = randomBytes(6).toString('hex');
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** Reads a request body of at most 64 KiB. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
      if (body.length > 65536) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** A running test issuer. */
export class TestIssuer {
  /** Requests per endpoint: 'discovery', 'jwks', 'introspect'. */
  readonly hits = { discovery: 0, jwks: 0, introspect: 0 };
  /** Opaque tokens the introspection endpoint knows, with their answers. */
  private readonly opaque = new Map<string, Record<string, unknown>>();
  private keys: SigningKey[] = [];

  private constructor(
    private readonly server: Server,
    /** The `iss` of the tokens (http://127.0.0.1:port/realms/test). */
    readonly issuer: string,
  ) {}

  /** Starts the issuer with one signing key of `alg`. */
  static async start(alg: Alg = 'RS256'): Promise<TestIssuer> {
    let self: TestIssuer | null = null;
    const server = createServer((req, res) => {
      self!.handle(req, res).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    self = new TestIssuer(server, `http://127.0.0.1:${port}/realms/test`);
    self.keys = [await newKey(alg)];
    return self;
  }

  /** The key tokens are signed with now. */
  get currentKey(): SigningKey {
    return this.keys[0]!;
  }

  /** Replaces the signing key with a new one (new kid); the JWKS then holds only the new one. */
  async rotate(alg: Alg = this.currentKey.alg): Promise<void> {
    this.keys = [await newKey(alg)];
  }

  /** A signed JWT access token with `claims`. */
  async token(claims: JWTPayload, opts: TokenOptions = {}): Promise<string> {
    const key = opts.key ?? this.currentKey;
    const signer = opts.hmacSecret ? new TextEncoder().encode(opts.hmacSecret) : opts.forged ? (await newKey(key.alg)).privateKey : key.privateKey;
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: opts.hmacSecret ? 'HS256' : key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(opts.issuer ?? this.issuer)
      .setAudience(opts.audience ?? TEST_AUDIENCE)
      .setIssuedAt();
    if (!opts.noExpiry) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expiresIn ?? 300));
    return jwt.sign(signer);
  }

  /** An opaque token whose introspection answer is `answer` (active or not). */
  opaqueToken(answer: Record<string, unknown>): string {
    const token = randomBytes(24).toString('base64url');
    this.opaque.set(token, answer);
    return token;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', this.issuer).pathname;
    const base = new URL(this.issuer).pathname;
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === `${base}/.well-known/openid-configuration`) {
      this.hits.discovery++;
      return json(200, {
        issuer: this.issuer,
        jwks_uri: `${this.issuer}/protocol/openid-connect/certs`,
        introspection_endpoint: `${this.issuer}/protocol/openid-connect/token/introspect`,
        authorization_endpoint: `${this.issuer}/protocol/openid-connect/auth`,
        token_endpoint: `${this.issuer}/protocol/openid-connect/token`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
      });
    }
    if (path === `${base}/protocol/openid-connect/certs`) {
      this.hits.jwks++;
      return json(200, { keys: this.keys.map((k) => k.jwk) });
    }
    if (path === `${base}/protocol/openid-connect/token/introspect` && req.method === 'POST') {
      this.hits.introspect++;
      const expected = `Basic ${Buffer.from(`${INTROSPECTION_CLIENT.id}:${INTROSPECTION_CLIENT.secret.replace(/ /g, '+')}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return json(401, { error: 'invalid_client' });
      const token = new URLSearchParams(await readBody(req)).get('token') ?? '';
      return json(200, this.opaque.get(token) ?? { active: false });
    }
    json(404, { error: 'not found' });
  }
}
