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

function bool() {
  return z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      const w = v.trim().toLowerCase();
      return TRUE_WORDS.has(w) ? true : FALSE_WORDS.has(w) ? false : v;
    },
    z.boolean({ error: 'expected true or false' }),
  );
}

function text(what: string) {
  return z.string({ error: `expected ${what}` }).trim().min(1, { error: `expected ${what}` });
}

const port = (def: number) => int(0, 65535, 'a port number 0-65535 (0 disables the listener)').default(def);
const positive = (def: number, what = 'a positive whole number') => int(1, Number.MAX_SAFE_INTEGER, what).default(def);

const cidrList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
  z.array(
    z.string({ error: 'expected a network such as 10.0.0.0/8 or ::1' }).refine((s) => parseCidr(s) !== null, {
      error: 'expected a network such as 10.0.0.0/8 or ::1',
    }),
    { error: 'expected a list of networks such as ["10.0.0.0/8", "::1"]' },
  ),
);

/** pino's level names, most to least severe, plus 'silent'. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The whole configuration; parse `{}` to get the defaults. */
export const configSchema = z
  .object({
    /** Mail, database and generated TLS material live here. */
    dataDir: text('a directory path').default('./data'),
    /** Address the IMAP and POP3 listeners bind to. */
    host: text('a host name or IP address').default('0.0.0.0'),
    imapPort: port(143),
    imapsPort: port(993),
    pop3Port: port(110),
    pop3sPort: port(995),
    lmtpPort: port(24),
    /** LMTP has no authentication, so it binds to loopback unless told otherwise (RFC 2033 §1). */
    lmtpHost: text('a host name or IP address').default('127.0.0.1'),
    /** PEM files; when both are null a self-signed pair is generated under dataDir/tls. */
    tlsCert: text('a file path').nullable().default(null),
    tlsKey: text('a file path').nullable().default(null),
    /** RFC 9051 §11.1 / RFC 8314: cleartext passwords only over TLS unless explicitly allowed. */
    plaintextAuth: z
      .object({
        allowInsecure: bool().default(false),
        trustedNetworks: cidrList.default([]),
      })
      .prefault({}),
    limits: z
      .object({
        maxConnections: positive(10000),
        maxConnectionsPerIp: positive(100),
        /** RFC 9051 §5.4: the autologout timer for authenticated sessions must be at least 30 minutes. */
        idleTimeoutSeconds: positive(1800, 'a number of seconds'),
        preAuthTimeoutSeconds: positive(60, 'a number of seconds'),
        /** RFC 7889 APPENDLIMIT; also the LMTP message size limit. */
        appendLimit: positive(52428800, 'a size in bytes'),
        maxLineLength: positive(65536, 'a size in bytes'),
        /** Literals outside APPEND (search strings, mailbox names …). */
        maxLiteralSize: positive(65536, 'a size in bytes'),
        maxCommandSize: positive(1048576, 'a size in bytes'),
      })
      .prefault({}),
    imap: z
      .object({
        /** Untagged "OK Still here" during IDLE, below common NAT timeouts (RFC 2177 §3 asks clients to re-IDLE within 29 minutes). */
        idleHeartbeatSeconds: positive(120, 'a number of seconds'),
        /** RFC 9585: progress notes during long commands, this often (10-15 s recommended). */
        inProgressSeconds: positive(10, 'a number of seconds'),
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
        maxFailuresPerIp: positive(10),
        maxFailuresPerAccount: positive(20),
        /** Cap on remembered IPs and on remembered account names (each). */
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
  });

/** The validated configuration every module receives. */
export type Config = z.output<typeof configSchema>;
