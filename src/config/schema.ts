/**
 * The configuration schema: every setting, its default and its validation.
 *
 * Values arrive typed from TOML or as strings from the environment and the
 * command line, so each leaf accepts both (a decimal string for a number,
 * `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off` for a boolean, a comma-separated
 * string for a list). Optional settings default to null rather than being
 * absent, so `configSchema.parse({})` lists every setting (load.ts relies on
 * that to recognise unknown keys). Messages say what was expected; the loader
 * adds the setting's name, its source and the value it got.
 */
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import { parseCidr } from './cidr.js';

const fromDecimalString = (v: unknown): unknown => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v);

/** An integer in [min, max]; `what` completes "expected …". */
function int(min: number, max: number, what: string) {
  const error = `expected ${what}`;
  return z.preprocess(fromDecimalString, z.number({ error }).int({ error }).min(min, { error }).max(max, { error }));
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/** A switch as settings and CLI flags write it (`on`/`off`, `yes`/`no`, `true`/`false`, `1`/`0`); null for another word. */
export function switchWord(word: string): boolean | null {
  const w = word.trim().toLowerCase();
  return TRUE_WORDS.has(w) ? true : FALSE_WORDS.has(w) ? false : null;
}

function bool() {
  return z.preprocess((v) => (typeof v === 'string' ? (switchWord(v) ?? v) : v), z.boolean({ error: 'expected true or false' }));
}

function text(what: string) {
  return z
    .string({ error: `expected ${what}` })
    .trim()
    .min(1, { error: `expected ${what}` });
}

/** The non-empty, trimmed items of a comma-separated string from the environment. */
const commaItems = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
const fromCommaList = (v: unknown): unknown => (typeof v === 'string' ? commaItems(v) : v);

const port = (def: number) => int(0, 65535, 'a port number 0-65535 (0 disables the listener)').default(def);
const positive = (def: number, what = 'a positive whole number') => int(1, Number.MAX_SAFE_INTEGER, what).default(def);

const cidrList = z.preprocess(
  fromCommaList,
  z.array(
    z.string({ error: 'expected a network such as 10.0.0.0/8 or ::1' }).refine((s) => parseCidr(s) !== null, {
      error: 'expected a network such as 10.0.0.0/8 or ::1',
    }),
    { error: 'expected a list of networks such as ["10.0.0.0/8", "::1"]' },
  ),
);

/** Listeners that can expect a PROXY protocol header (the LMTP unix socket cannot: its peers have no address). */
export const PROXY_LISTENERS = ['imap', 'imaps', 'pop3', 'pop3s', 'lmtp', 'managesieve'] as const;

const PROXY_LISTENERS_ERROR = `expected a list of listeners from ${PROXY_LISTENERS.join(', ')}`;
const proxyListenerList = z.preprocess(fromCommaList, z.array(z.enum(PROXY_LISTENERS, { error: PROXY_LISTENERS_ERROR }), { error: PROXY_LISTENERS_ERROR }));

/** RFC 6154 §2 special uses a stored mailbox can have (\\All and \\Flagged name virtual mailboxes, which mailkeep has not). */
export const SPECIAL_USES = ['\\Archive', '\\Drafts', '\\Junk', '\\Sent', '\\Trash'] as const;

const USE_WORDS = SPECIAL_USES.map((u) => u.slice(1).toLowerCase());
/** "sent", "Sent" or "\\Sent" → "\\Sent". */
const specialUse = z.preprocess(
  (v) => (typeof v === 'string' ? (SPECIAL_USES[USE_WORDS.indexOf(v.trim().replace(/^\\/, '').toLowerCase())] ?? v) : v),
  z.enum(SPECIAL_USES, { error: `expected one of ${USE_WORDS.join(', ')}` }),
);

const MAILBOX_NAME_ERROR = 'expected a mailbox name other than INBOX, without %, *, control characters or empty levels';
/** A mailbox for new accounts: `{ name = "Sent", use = "sent" }`; the output is what the store takes. */
const defaultMailbox = z
  .strictObject({
    name: text('a mailbox name').refine((n) => !/[\x00-\x1f\x7f%*]/.test(n) && !n.split('/').includes('') && n.toUpperCase() !== 'INBOX', {
      error: MAILBOX_NAME_ERROR,
    }),
    use: specialUse.nullable().default(null),
  })
  .transform(({ name, use }) => ({ name, specialUse: use }));

const defaultMailboxes = z.preprocess(
  // From the environment: "Drafts=drafts,Sent=sent,Receipts".
  (v) =>
    typeof v === 'string'
      ? commaItems(v).map((s) => {
          const eq = s.lastIndexOf('=');
          return eq < 0 ? { name: s } : { name: s.slice(0, eq), use: s.slice(eq + 1) };
        })
      : v,
  z
    .array(defaultMailbox, { error: 'expected a list of mailboxes such as [{ name = "Sent", use = "sent" }]' })
    .refine((list) => new Set(list.map((m) => m.name)).size === list.length, { error: 'expected each mailbox name once' }),
);

const HOSTNAME_ERROR = 'expected a host name such as mail.example.org';
/** A DNS host name (RFC 1123 §2.1 labels), lower-cased. */
const hostName = z
  .string({ error: HOSTNAME_ERROR })
  .trim()
  .toLowerCase()
  .refine((h) => h.length <= 253 && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(h), { error: HOSTNAME_ERROR });

const DOMAIN_ERROR = 'expected a list of domain names such as ["example.com", "example.org"]';
/** Lower-cased domain names (a comma-separated string from the environment). */
const domainList = z.preprocess(
  fromCommaList,
  z.array(
    z
      .string({ error: DOMAIN_ERROR })
      .trim()
      .toLowerCase()
      .refine((d) => /^[^\s@<>()[\],;:\\"\x00-\x1f\x7f]+$/.test(d), { error: DOMAIN_ERROR }),
    { error: DOMAIN_ERROR },
  ),
);

/** Values of `[tls] min-version` (net/tls-policy.ts). */
export const TLS_MIN_VERSIONS = ['1.2', '1.3'] as const;
export type TlsMinVersion = (typeof TLS_MIN_VERSIONS)[number];

const PAIRS_ERROR = 'expected a list of pairs such as [{ cert = "fullchain.pem", key = "privkey.pem" }]';
/** `[[tls.certificates]]` pairs; from the environment "cert.pem:key.pem,cert2.pem:key2.pem". */
const certificatePairs = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? commaItems(v).map((s) => {
          const colon = s.indexOf(':');
          return colon < 0 ? { cert: s } : { cert: s.slice(0, colon), key: s.slice(colon + 1) };
        })
      : v,
  z.array(z.strictObject({ cert: text('a certificate file path'), key: text('a key file path') }, { error: PAIRS_ERROR }), { error: PAIRS_ERROR }),
);

/** Values of acme.challenge. */
export const ACME_CHALLENGES = ['http-01', 'tls-alpn-01'] as const;

/** Values of lmtp.detail-delivery (mail/deliver.ts DetailDelivery). */
export const DETAIL_DELIVERY = ['opt-in', 'unless-special-use', 'off'] as const;

/** Values of submission.security: implicit TLS (RFC 8314 §3.3, port 465) or STARTTLS (RFC 6409, port 587). */
export const SUBMISSION_SECURITY = ['tls', 'starttls'] as const;

/** Values of relay.security: plain, STARTTLS (RFC 3207), or implicit TLS (RFC 8314 §3.3). */
export const RELAY_SECURITY = ['none', 'starttls', 'tls'] as const;

/** JWS algorithms (RFC 7518 §3.1, RFC 8037) an OAuth token may be signed with: public-key ones only. */
export const OAUTH_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
const ALGORITHMS_ERROR = `expected a list from ${OAUTH_ALGORITHMS.join(', ')}`;

const ISSUER_ERROR = 'expected an https URL (http only on a loopback address)';
/** Whether `url` is https, or http to a loopback host (a test or a local issuer): where OAuth metadata and keys may come from. */
export function isIssuerUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname));
  } catch {
    return false;
  }
}
const issuerUrl = z.string({ error: ISSUER_ERROR }).trim().refine(isIssuerUrl, { error: ISSUER_ERROR });

/** pino's level names, most to least severe, plus 'silent'. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Whether a listen address reaches only this machine: 127.0.0.0/8, ::1, localhost. */
function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The whole configuration; parse `{}` to get the defaults. */
export const configSchema = z
  .object({
    /** Mail, database and generated TLS material live here. */
    dataDir: text('a directory path').default('./data'),
    /** The server's public name (mail.example.org): TLS certificates, greetings, client set-up, ACME. */
    hostname: hostName.default(() => hostname().toLowerCase() || 'localhost'),
    /** The mail domains this server serves (LMTP's local domains, client set-up); empty: any. `[lmtp] domains` adds to it. */
    domains: domainList.default([]),
    /** Address the IMAP and POP3 listeners bind to. */
    host: text('a host name or IP address').default('0.0.0.0'),
    imapPort: port(143),
    imapsPort: port(993),
    pop3Port: port(110),
    pop3sPort: port(995),
    lmtpPort: port(24),
    /** ManageSieve (RFC 5804 §1.8: port 4190) with STARTTLS; 0 disables. */
    managesievePort: port(4190),
    /** Plain HTTP (net/http/web.ts): ACME http-01 challenges, later client set-up; everything else is redirected to HTTPS. */
    httpPort: port(80),
    /** HTTPS with the certificates of the mail ports; also where tls-alpn-01 challenges are answered (RFC 8737). */
    httpsPort: port(443),
    /** The admin HTTP API (web/admin/): its own listener; 0 disables it. */
    adminPort: port(8010),
    /** Loopback unless told otherwise; any other address requires admin-tls. */
    adminHost: text('a host name or IP address').default('127.0.0.1'),
    /** Serve the admin listener over TLS with the certificates of the mail ports (required beyond loopback). */
    adminTls: bool().default(false),
    /** LMTP has no authentication, so it binds to loopback unless told otherwise (RFC 2033 §1). */
    lmtpHost: text('a host name or IP address').default('127.0.0.1'),
    /** PEM files; when both are null a self-signed pair is generated under dataDir/tls. */
    tlsCert: text('a file path').nullable().default(null),
    tlsKey: text('a file path').nullable().default(null),
    tls: z
      .object({
        /** Further pairs chosen by the client's server name (SNI, RFC 6066 §3); tls-cert/tls-key stay the default. */
        certificates: certificatePairs.default([]),
        /** The lowest TLS version accepted; TOML may write it as a number (1.3). */
        minVersion: z
          .preprocess((v) => (typeof v === 'number' ? v.toFixed(1) : v), z.enum(TLS_MIN_VERSIONS, { error: 'expected "1.2" or "1.3"' }))
          .default('1.2'),
      })
      .prefault({}),
    /** RFC 9051 §11.1 / RFC 8314: cleartext passwords only over TLS unless explicitly allowed. */
    plaintextAuth: z
      .object({
        allowInsecure: bool().default(false),
        trustedNetworks: cidrList.default([]),
      })
      .prefault({}),
    /** PROXY protocol v1/v2 behind a load balancer (net/proxy-protocol.ts); off unless listeners are named. */
    proxy: z
      .object({
        /** Listeners whose every connection must start with a PROXY header from a trusted proxy. */
        listeners: proxyListenerList.default([]),
        /** Networks of the proxies allowed to send the header; other peers of those listeners are refused. */
        trusted: cidrList.default([]),
        /** A connection that has not sent its complete header by then is closed. */
        headerTimeoutSeconds: positive(5, 'a number of seconds'),
      })
      .prefault({}),
    limits: z
      .object({
        maxConnections: positive(10000),
        maxConnectionsPerIp: positive(100),
        /** RFC 9051 §5.4: the autologout timer for authenticated sessions must be at least 30 minutes. */
        idleTimeoutSeconds: positive(1800, 'a number of seconds'),
        /** Client silence allowed before login (the idle limit then; the login deadline below bounds the total). */
        preAuthTimeoutSeconds: positive(60, 'a number of seconds'),
        /** From connect to login, whatever the client sends (Dovecot: 3 minutes); runs across STARTTLS/STLS. */
        loginTimeoutSeconds: positive(180, 'a number of seconds'),
        /** A TLS handshake (implicit TLS, STARTTLS, STLS) unfinished after this long is dropped. */
        tlsHandshakeTimeoutSeconds: positive(30, 'a number of seconds'),
        /** Unknown, malformed or misplaced commands in a row before the connection is closed (IMAP, POP3, LMTP). */
        maxBadCommands: positive(20),
        /** Failed TLS handshakes logged (at info) per minute and process; the rest are counted in one summary line. */
        tlsFailuresLoggedPerMinute: int(0, 100000, 'a whole number').default(10),
        /** Connections refused over the limits logged (at warn) per minute and process; the rest are counted in one summary line. */
        refusalsLoggedPerMinute: int(0, 100000, 'a whole number').default(10),
        /** Before login: octets one IMAP command may hold, line and literals (LOGIN); more is BAD [TOOBIG]. */
        preAuthCommandSize: positive(8192, 'a size in bytes'),
        /** Before login: octets of an AUTHENTICATE line (SASL-IR) or SASL response line; at least 16 KiB so OAuth bearer tokens fit. */
        preAuthSaslSize: int(16384, Number.MAX_SAFE_INTEGER, 'a size in bytes of at least 16384').default(32768),
        /** RFC 7889 APPENDLIMIT; also the LMTP message size limit. */
        appendLimit: positive(52428800, 'a size in bytes'),
        /** Message literals (messages, CATENATE TEXT parts) in one APPEND or REPLACE, checked as each is announced (RFC 3502). */
        maxAppendMessages: positive(1000),
        /**
         * Octets of message literals in one APPEND or REPLACE together, checked as each is announced. Their
         * analyses (up to ~320 KB of header and body text each) are held until the command commits: this bounds that too.
         */
        maxAppendTotalSize: positive(104857600, 'a size in bytes'),
        maxLineLength: positive(65536, 'a size in bytes'),
        /** Literals outside APPEND (search strings, mailbox names …). */
        maxLiteralSize: positive(65536, 'a size in bytes'),
        maxCommandSize: positive(1048576, 'a size in bytes'),
        /** Mailboxes one account may hold (CREATE beyond: NO [LIMIT], RFC 5530); 0: unlimited. */
        maxMailboxesPerAccount: int(0, Number.MAX_SAFE_INTEGER, 'a whole number (0: unlimited)').default(10000),
        /** Messages one mailbox may hold (APPEND/COPY/MOVE beyond: NO [LIMIT]; LMTP 552 5.2.2); 0: unlimited. */
        maxMessagesPerMailbox: int(0, Number.MAX_SAFE_INTEGER, 'a whole number (0: unlimited)').default(1000000),
        /** Distinct keywords one mailbox may define (RFC 9051 §7.1: PERMANENTFLAGS drops \\* when full); 0: unlimited. */
        maxKeywordsPerMailbox: int(0, 100000, 'a whole number up to 100000 (0: unlimited)').default(256),
        /**
         * Messages per store transaction in a long STORE, EXPUNGE, COPY or MOVE, which commits in
         * such slices and lets other sessions run between them (issue 18, finding 10).
         */
        messagesPerTransaction: positive(500),
      })
      .prefault({}),
    imap: z
      .object({
        /** Untagged "OK Still here" during IDLE, below common NAT timeouts (RFC 2177 §3 asks clients to re-IDLE within 29 minutes). */
        idleHeartbeatSeconds: positive(120, 'a number of seconds'),
        /** RFC 9585: progress notes during long commands, this often (10-15 s recommended). */
        inProgressSeconds: positive(10, 'a number of seconds'),
        /** RFC 5465 NOTIFY: mailboxes one session may watch besides the selected one (more: NO [NOTIFICATIONOVERFLOW]). */
        notifyMaxMailboxes: positive(1000),
        /** RFC 5465 §5.8: undelivered notifications per session before it gets OK [NOTIFICATIONOVERFLOW] and NOTIFY NONE. */
        notifyMaxPending: positive(1000),
      })
      .prefault({}),
    /** Password verification; see auth/credential-cache.ts. */
    auth: z
      .object({
        /** How long a successful login's password is accepted again from memory without the full hash (Dovecot's auth_cache_ttl: 1 hour); 0 disables. */
        credentialCacheSeconds: int(0, 31_536_000, 'a number of seconds (0 disables)').default(3600),
        /** Verified credentials kept at most (about 150 bytes each); the least recently used go first. */
        credentialCacheEntries: positive(10000),
        /** Algorithm of new password hashes (auth/password.ts); stored hashes of the other one still verify and are re-hashed at the next login. */
        passwordHash: z.enum(['argon2id', 'scrypt'], { error: 'expected argon2id or scrypt' }).default('argon2id'),
        /** argon2id memory per hash in KiB (RFC 9106 m; 19456 = 19 MiB, OWASP's baseline); weaker stored hashes are upgraded at login. */
        argon2MemoryKib: int(64, 1_048_576, 'a number of KiB from 64 to 1048576').default(19_456),
        /** argon2id passes over the memory (RFC 9106 t). */
        argon2Iterations: int(1, 20, 'a whole number from 1 to 20').default(2),
        /** argon2id lanes (RFC 9106 p); each hash runs on one thread whatever this is. */
        argon2Parallelism: int(1, 16, 'a whole number from 1 to 16').default(1),
        /** SCRAM-SHA-256(-PLUS) and SCRAM-SHA-1(-PLUS) (RFC 7677, RFC 5802); off: neither offered nor accepted (auth/scram.ts). */
        scram: bool().default(true),
        /** PBKDF2 iterations of new SCRAM keys (RFC 7677 §4: at least 4096); keys with another count are derived again at the next password login. */
        scramIterations: int(4096, 10_000_000, 'a whole number from 4096 to 10000000').default(10000),
      })
      .prefault({}),
    /** OAuth 2.0 bearer tokens for OAUTHBEARER and XOAUTH2 (auth/oauth/); off while issuer is null. */
    oauth: z
      .object({
        /** The OpenID Connect issuer (its `iss`); discovery at `<issuer>/.well-known/openid-configuration`. */
        issuer: issuerUrl.nullable().default(null),
        /** Accepted `aud` values of tokens (one must match); required with an issuer. */
        audience: z.preprocess(fromCommaList, z.array(text('an audience such as "mailkeep"'), { error: 'expected a list of audiences' })).default([]),
        /** Claims tried in order for the account name (also alias); the first string one is used. */
        usernameClaim: z
          .preprocess(fromCommaList, z.array(text('a claim name such as "email"'), { error: 'expected a claim name or a list of them' }).min(1))
          .default(['email']),
        /** The scope named in the RFC 7628 §3.2.2 error answer; null: none named. */
        scope: text('an OAuth scope').nullable().default(null),
        /** JWS algorithms accepted; asymmetric only (a shared secret would let any client of the issuer mint tokens). */
        algorithms: z
          .preprocess(
            fromCommaList,
            z.array(z.enum(OAUTH_ALGORITHMS, { error: ALGORITHMS_ERROR }), { error: ALGORITHMS_ERROR }).min(1, { error: ALGORITHMS_ERROR }),
          )
          .default([...OAUTH_ALGORITHMS]),
        /** How long fetched signing keys (JWKS) and discovery are used before they are fetched again. */
        jwksRefreshSeconds: positive(600, 'a number of seconds'),
        /** A token signed with an unknown key id refetches the keys at most this often. */
        jwksCooldownSeconds: int(0, 86400, 'a number of seconds').default(30),
        /** Leeway for exp and nbf against clocks that differ. */
        clockToleranceSeconds: int(0, 600, 'a number of seconds up to 600').default(30),
        /** Each request to the issuer (discovery, keys, introspection) is abandoned after this long. */
        requestTimeoutSeconds: positive(5, 'a number of seconds'),
        /** RFC 7662 introspection for opaque tokens; null: the discovery document's introspection_endpoint. */
        introspectionUrl: issuerUrl.nullable().default(null),
        /** This server's client at the issuer for introspection; null: opaque tokens are refused. */
        clientId: text('a client id').nullable().default(null),
        /** A file holding the client's secret (one line). */
        clientSecretFile: text('a file path').nullable().default(null),
      })
      .prefault({}),
    /** Failed-login throttling; see auth/throttle.ts. */
    authThrottle: z
      .object({
        /** Failures answered without delay before the delay starts growing. */
        freeFailures: int(0, 1000, 'a whole number').default(2),
        baseDelayMs: int(0, 600000, 'a number of milliseconds').default(1000),
        maxDelayMs: int(0, 600000, 'a number of milliseconds').default(15000),
        windowSeconds: positive(300, 'a number of seconds'),
        /** Failures per address (IPv6: per /64) in a window before it is refused; attempts in flight count too, and those beyond it wait for them. */
        maxFailuresPerIp: positive(10),
        /** Failures per account in a window after which addresses that failed for it are refused (others are still checked). */
        maxFailuresPerAccount: positive(20),
        /** How long a successful login makes its (address, account) pair immune to other addresses' failures. */
        trustedDays: positive(30, 'a number of days'),
        /** Password hashes (19 MiB argon2id or 32 MiB scrypt each) running at once; keep it below libuv's pool (UV_THREADPOOL_SIZE, 4) so file I/O keeps threads. */
        maxConcurrentHashes: positive(2),
        /** Hashes running at once for one address (IPv6: per /64) with recent failures; others share the slots fairly (fewest running first). */
        maxConcurrentHashesPerIp: positive(1),
        /** Attempts waiting for a hash slot; beyond it NO [UNAVAILABLE] (addresses without failures push others out). */
        hashQueueLength: positive(200),
        /** scrypt cost of new password hashes as log2 N (15: 32 MiB and ~0.1 s each; one step down halves both); weaker stored hashes are upgraded at login. */
        passwordHashCost: int(10, 20, 'a whole number from 10 to 20').default(15),
        /** Keep the counts in the store (shared by the processes on one SQLite file, or the nodes on one PostgreSQL) instead of this process's memory. */
        sharedState: bool().default(false),
        /** Cap on remembered keys in each in-memory table (addresses, accounts, address+account pairs, trusted pairs). */
        maxEntries: positive(100000),
      })
      .prefault({}),
    log: z
      .object({
        level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
        /** Per-session protocol trace at info level, passwords and literal contents redacted. */
        trace: bool().default(false),
      })
      .prefault({}),
    mailboxes: z
      .object({
        /** Created (and subscribed) with every new account besides INBOX; `use` is the RFC 6154 special use. */
        defaults: defaultMailboxes.default([
          { name: 'Drafts', specialUse: '\\Drafts' },
          { name: 'Sent', specialUse: '\\Sent' },
          { name: 'Trash', specialUse: '\\Trash' },
          { name: 'Junk', specialUse: '\\Junk' },
          { name: 'Archive', specialUse: '\\Archive' },
        ]),
      })
      .prefault({}),
    /** Sieve scripts per account (`mailkeep sieve`, ManageSieve): quotas, as Pigeonhole's sieve_max_script_size and sieve_quota_*. */
    sieve: z
      .object({
        /** Scripts one account may keep (RFC 5804 §2.1.3 QUOTA/MAXSCRIPTS). */
        maxScripts: positive(100),
        /** Octets of one script (Pigeonhole: 1M); also ManageSieve's literal limit (QUOTA/MAXSIZE). */
        maxScriptSize: positive(1048576, 'a size in bytes'),
        /** Octets of all of one account's scripts together (QUOTA). */
        maxTotalSize: positive(10485760, 'a size in bytes'),
        /** RFC 5235 spamtest: the header whose first number is the spam score, and the score that counts as 100 %; null: not tested. */
        spamtestHeader: z.string().min(1).max(100).nullable().default(null),
        spamtestMax: positive(10, 'a positive whole number (the score that counts as 100 %)'),
        /** RFC 5235 virustest: the header whose first digit 0–5 is the result; null: not tested. */
        virustestHeader: z.string().min(1).max(100).nullable().default(null),
        /** Mail (redirects and vacation replies) one account may send through the relay per hour. */
        maxOutgoingPerHour: positive(100),
      })
      .prefault({}),
    /**
     * Where Sieve redirect and vacation mail goes (usually the local MTA on 127.0.0.1:25); not the `submission`
     * clients are told about. Without a host, redirects and replies are logged and skipped (the message is still kept).
     */
    relay: z
      .object({
        host: hostName.nullable().default(null),
        port: int(1, 65535, 'a port number 1-65535').default(25),
        security: z.enum(RELAY_SECURITY, { error: `expected one of ${RELAY_SECURITY.join(', ')}` }).default('none'),
        /** AUTH PLAIN (RFC 4954) user; null: no authentication. */
        username: z.string().min(1).max(255).nullable().default(null),
        /** File holding the password (first line); needed with username. */
        passwordFile: text('a file path').nullable().default(null),
        /** Verify the relay's certificate (off for a local MTA with a self-signed one). */
        verifyCertificate: bool().default(true),
        /** Seconds a connection or one reply may take. */
        timeout: positive(30, 'a number of seconds'),
      })
      .prefault({}),
    /** Delivery (LMTP and `mailkeep deliver`); see mail/deliver.ts for how addresses find accounts. */
    lmtp: z
      .object({
        /** Older name of the top-level `domains`; its entries are added to those. */
        domains: domainList.default([]),
        /** Also listen on this unix socket (Postfix `lmtp:unix:…`); null: TCP only (lmtp-port). */
        socket: text('a file path').nullable().default(null),
        /** RFC 5233 sub-addressing: `user+detail@…` names the account `user` (and mailbox `detail`, see detailDelivery); empty disables. */
        recipientDelimiter: z.string({ error: 'expected a character such as "+"' }).max(1, { error: 'expected one character (or "" to disable)' }).default('+'),
        /**
         * Which mailbox `+detail` (and `mailkeep deliver --mailbox`) may deliver into instead of INBOX: "opt-in" only
         * mailboxes whose owner set /private/vendor/mailkeep/detail-delivery to "yes"; "unless-special-use" those and
         * every mailbox without a special use; "off" none. See mail/deliver.ts.
         */
        detailDelivery: z.enum(DETAIL_DELIVERY, { error: `expected one of ${DETAIL_DELIVERY.join(', ')}` }).default('opt-in'),
        /** Recipients accepted in one transaction (RFC 5321 §4.5.3.1.8 asks for at least 100). */
        maxRecipients: int(100, 100000, 'a whole number from 100 to 100000').default(1000),
      })
      .prefault({}),
    /**
     * The organisation's mail submission server (its MTA; mailkeep runs none), as clients should reach it.
     * Client set-up (autoconfig, Autodiscover, Apple profiles, `mailkeep dns`) names it; left out while host is null.
     */
    submission: z
      .object({
        host: hostName.nullable().default(null),
        /** Null: 465 for tls, 587 for starttls. */
        port: int(1, 65535, 'a port number 1-65535').nullable().default(null),
        security: z.enum(SUBMISSION_SECURITY, { error: `expected one of ${SUBMISSION_SECURITY.join(', ')}` }).default('tls'),
      })
      .prefault({}),
    /** Certificates from an ACME CA (RFC 8555), kept under dataDir/tls/acme (acme/manager.ts). */
    acme: z
      .object({
        enabled: bool().default(false),
        /** The CA's directory URL; default Let's Encrypt production. */
        directory: z
          .url({ protocol: /^https?$/, error: 'expected the http(s) URL of an ACME directory' })
          .default('https://acme-v02.api.letsencrypt.org/directory'),
        /** Contact address given to the CA (expiry warnings); null: none. */
        email: z.email({ error: 'expected an e-mail address' }).nullable().default(null),
        /** Names to obtain certificates for, one order each; empty: `hostname` only. */
        names: domainList.default([]),
        /** RFC 8555 §8.3 http-01 on http-port, or RFC 8737 tls-alpn-01 on https-port. */
        challenge: z.enum(ACME_CHALLENGES, { error: `expected one of ${ACME_CHALLENGES.join(', ')}` }).default('http-01'),
        /** PEM file of an extra CA trusted for the directory's HTTPS (private or test CAs). */
        caFile: text('a file path').nullable().default(null),
      })
      .prefault({}),
    admin: z
      .object({
        /** Days the admin audit log keeps an entry (server/audit-retention.ts prunes older ones); 0 keeps them forever. */
        auditRetention: int(0, 36_500, 'a number of days 0-36500 (0 keeps the audit log forever)').default(365),
        /** Record metrics and serve /metrics; false: no-op recorders on the hot path (metrics/metrics.ts) and /metrics answers 404. */
        metrics: bool().default(true),
      })
      .prefault({}),
    server: z
      .object({
        /**
         * Worker processes of `mailkeep serve` (node:cluster), each accepting on every listener, all on one store
         * (server/cluster-primary.ts); default: the number of cores. 1: one process, no cluster.
         */
        workers: int(1, 1024, 'a number of worker processes 1-1024').default(() => availableParallelism()),
      })
      .prefault({}),
    store: z
      .object({
        /** Null: the embedded SQLite store under dataDir. */
        url: text('a store URL').nullable().default(null),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    // A certificate without its key (or the reverse) is a half-done setup, not a fallback to self-signed.
    if ((c.tlsCert === null) !== (c.tlsKey === null)) {
      const [given, missing] = c.tlsCert !== null ? ['tlsCert', 'tls-key'] : ['tlsKey', 'tls-cert'];
      ctx.addIssue({ code: 'custom', path: [given], message: `${missing} must be set as well`, params: { showValue: false } });
    }
    // A token for any client of the issuer would do without an audience (RFC 7519 §4.1.3).
    if (c.oauth.issuer !== null && c.oauth.audience.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['oauth', 'audience'], message: 'oauth.audience must be set with oauth.issuer', params: { showValue: false } });
    }
    if ((c.oauth.clientId === null) !== (c.oauth.clientSecretFile === null)) {
      const [given, missing] = c.oauth.clientId !== null ? ['clientId', 'client-secret-file'] : ['clientSecretFile', 'client-id'];
      ctx.addIssue({ code: 'custom', path: ['oauth', given], message: `oauth.${missing} must be set as well`, params: { showValue: false } });
    }
    // Bearer tokens and account changes must not cross a network in clear text.
    if (c.adminPort !== 0 && !c.adminTls && !isLoopbackHost(c.adminHost)) {
      ctx.addIssue({
        code: 'custom',
        path: ['adminHost'],
        message:
          'the admin API is served beyond loopback only over TLS: set admin-tls = true (it uses the TLS certificates of the mail ports) or admin-host = 127.0.0.1',
      });
    }
    // Without trusted proxies a PROXY listener would refuse everyone: say so rather than start a useless listener.
    if (c.proxy.listeners.length > 0 && c.proxy.trusted.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['proxy', 'listeners'],
        message: "proxy.trusted must list the proxies' networks as well",
        params: { showValue: false },
      });
    }
  })
  // `[lmtp] domains` is the older name of `domains`: one list for every module.
  .transform((c) => ({ ...c, domains: [...new Set([...c.domains, ...c.lmtp.domains])] }));

/** The validated configuration every module receives. */
export type Config = z.output<typeof configSchema>;
