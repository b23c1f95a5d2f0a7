/**
 * Loads the configuration from its four sources, later ones winning:
 * defaults < TOML file < environment (`MAILKEEP_*`) < command-line flags.
 *
 * Naming: a setting is `imapPort` in code, `imap-port` in messages and flags,
 * `imap-port` / `imap_port` / `imapPort` in the TOML file, `MAILKEEP_IMAP_PORT`
 * in the environment. Nested settings use a TOML table (`[limits]`
 * `max-connections = 500`), a dot in messages (`limits.max-connections`) and
 * `__` in the environment (`MAILKEEP_LIMITS__MAX_CONNECTIONS`).
 *
 * Every value remembers where it came from, so a validation error names the
 * setting, its source and the offending value. Unknown keys in the file are
 * errors (a typo must not silently fall back to a default); unknown
 * `MAILKEEP_*` variables only warn, since unrelated tooling may set some.
 * Relative paths from the file are resolved against the file's directory,
 * all others against the working directory.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { configSchema, type Config } from './schema.js';

/** A command-line flag that sets one configuration value. */
export interface ConfigFlag {
  /** The flag without dashes, e.g. 'imap-port'. */
  flag: string;
  /** commander argument placeholder; absent for boolean switches. */
  arg?: string;
  /** Dotted camelCase setting path, e.g. 'log.level'. */
  setting: string;
  description: string;
}

/** Flags that override settings; the CLI registers exactly these (add a row to add a flag). */
export const CONFIG_FLAGS: readonly ConfigFlag[] = [
  { flag: 'data-dir', arg: '<dir>', setting: 'dataDir', description: 'directory for mail, database and TLS material' },
  { flag: 'hostname', arg: '<name>', setting: 'hostname', description: "the server's public name, e.g. mail.example.org (default: this machine's name)" },
  { flag: 'domains', arg: '<list>', setting: 'domains', description: 'mail domains served, e.g. example.org,example.net (default: any)' },
  { flag: 'host', arg: '<address>', setting: 'host', description: 'address the IMAP and POP3 listeners bind to' },
  { flag: 'imap-port', arg: '<port>', setting: 'imapPort', description: 'IMAP port with STARTTLS (0 disables)' },
  { flag: 'imaps-port', arg: '<port>', setting: 'imapsPort', description: 'IMAP over TLS port (0 disables)' },
  { flag: 'pop3-port', arg: '<port>', setting: 'pop3Port', description: 'POP3 port with STLS (0 disables)' },
  { flag: 'pop3s-port', arg: '<port>', setting: 'pop3sPort', description: 'POP3 over TLS port (0 disables)' },
  { flag: 'lmtp-port', arg: '<port>', setting: 'lmtpPort', description: 'LMTP port (0 disables)' },
  { flag: 'managesieve-port', arg: '<port>', setting: 'managesievePort', description: 'ManageSieve port with STARTTLS (0 disables)' },
  { flag: 'http-port', arg: '<port>', setting: 'httpPort', description: 'HTTP port: ACME http-01, redirects to HTTPS (0 disables)' },
  { flag: 'https-port', arg: '<port>', setting: 'httpsPort', description: 'HTTPS port, also for ACME tls-alpn-01 (0 disables)' },
  { flag: 'admin-port', arg: '<port>', setting: 'adminPort', description: 'admin HTTP API port (default 8010, 0 disables)' },
  { flag: 'admin-host', arg: '<address>', setting: 'adminHost', description: 'address of the admin API (default 127.0.0.1; others need --admin-tls)' },
  { flag: 'admin-tls', setting: 'adminTls', description: "serve the admin API over TLS with the mail ports' certificates" },
  { flag: 'tls-cert', arg: '<file>', setting: 'tlsCert', description: 'PEM certificate (chain); default: self-signed' },
  { flag: 'tls-key', arg: '<file>', setting: 'tlsKey', description: 'PEM private key for --tls-cert' },
  { flag: 'tls-min-version', arg: '<version>', setting: 'tls.minVersion', description: 'lowest TLS version accepted: 1.2 or 1.3 (default 1.2)' },
  {
    flag: 'proxy-listeners',
    arg: '<names>',
    setting: 'proxy.listeners',
    description: 'listeners expecting a PROXY protocol header, e.g. imaps,pop3s (default: none)',
  },
  { flag: 'proxy-trusted', arg: '<networks>', setting: 'proxy.trusted', description: 'networks of the proxies allowed to send it, e.g. 10.0.0.0/8,::1' },
  { flag: 'acme', setting: 'acme.enabled', description: "obtain and renew certificates from an ACME CA (Let's Encrypt by default)" },
  { flag: 'acme-directory', arg: '<url>', setting: 'acme.directory', description: "ACME directory URL (default: Let's Encrypt production)" },
  { flag: 'acme-email', arg: '<address>', setting: 'acme.email', description: 'contact address for the ACME account' },
  { flag: 'submission-host', arg: '<name>', setting: 'submission.host', description: "your MTA's submission host for client set-up, e.g. smtp.example.org" },
  { flag: 'log-level', arg: '<level>', setting: 'log.level', description: 'fatal, error, warn, info, debug, trace or silent' },
  { flag: 'trace', setting: 'log.trace', description: 'log protocol traces (passwords and literals redacted)' },
  {
    flag: 'workers',
    arg: '<n>',
    setting: 'server.workers',
    description: 'worker processes of serve, each on every listener (default: number of cores; 1: no cluster)',
  },
  { flag: 'store', arg: '<url>', setting: 'store.url', description: 'PostgreSQL store URL (postgres://user@host/db); default: SQLite in the data directory' },
];

/** Environment variable naming the config file when --config is not given. */
export const CONFIG_PATH_ENV = 'MAILKEEP_CONFIG';
const ENV_PREFIX = 'MAILKEEP_';
/** Variables of the test suite, not settings: never warned about. */
const TEST_ENV_PREFIX = 'MAILKEEP_TEST_';
/** Debug switches read where they act (imap/session/view-check.ts), not settings: never warned about. */
export const CHECK_VIEWS_ENV = 'MAILKEEP_CHECK_VIEWS';
/** Set by the cluster primary in each worker's environment: the worker's slot, 1..workers (server/cluster-primary.ts). Not a setting. */
export const WORKER_SLOT_ENV = 'MAILKEEP_WORKER_SLOT';
/** Set by the cluster primary beside the slot: when `serve` started (ms since the epoch), which a restarted worker reports as the server's start. Not a setting. */
export const SERVER_STARTED_ENV = 'MAILKEEP_SERVER_STARTED';

/** This process's worker slot under `serve --workers N` (N > 1); null in a single-process server or any other command. */
export function workerSlot(): number | null {
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  return Number.isSafeInteger(slot) && slot > 0 ? slot : null;
}

/** When the server started under `serve --workers N` (the primary's start); null in a single process. */
export function clusterStartedAt(): number | null {
  const at = Number(process.env[SERVER_STARTED_ENV]);
  return Number.isSafeInteger(at) && at > 0 ? at : null;
}
const MAX_CONFIG_FILE_BYTES = 1 << 20;
/** Settings holding file system paths, resolved relative to their source (and tls.certificates' pairs). */
const PATH_SETTINGS = ['dataDir', 'tlsCert', 'tlsKey'] as const;

/** One thing wrong with the configuration. */
export interface ConfigProblem {
  /** Display name such as 'limits.max-connections'; empty for problems with a whole file. */
  setting: string;
  /** Where the value came from: '--imap-port', 'MAILKEEP_IMAP_PORT', a file path or 'default'. */
  source: string;
  message: string;
}

/** Thrown by loadConfig when any source is unreadable or any value invalid. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Inputs of loadConfig; everything is injectable for tests. */
export interface LoadConfigOptions {
  /** Parsed command-line options keyed like commander does (camelCase of the flag). */
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** TOML file; defaults to $MAILKEEP_CONFIG; no file when neither is set. */
  configPath?: string;
  /** Base for relative paths not from the file; defaults to process.cwd(). */
  cwd?: string;
  /** Receives non-fatal notices (unknown MAILKEEP_* variables). */
  warn?: (message: string) => void;
}

/** 'max-connections', 'max_connections' or 'maxConnections' → 'maxConnections'. */
export function toCamel(key: string): string {
  return key.replace(/[-_]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

const toKebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Display name of a dotted camelCase setting: 'limits.maxConnections' → 'limits.max-connections'. */
export function settingName(setting: string): string {
  // List elements show as an index: 'plaintext-auth.trusted-networks[1]'.
  return setting
    .split('.')
    .map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : (i > 0 ? '.' : '') + toKebab(s)))
    .join('');
}

/** Environment variable for a dotted camelCase setting: 'limits.maxConnections' → 'MAILKEEP_LIMITS__MAX_CONNECTIONS'. */
export function envName(setting: string): string {
  return (
    ENV_PREFIX +
    setting
      .split('.')
      .map((s) => toKebab(s).replace(/-/g, '_').toUpperCase())
      .join('__')
  );
}

/**
 * How an operator changes a setting, for messages: 'imap-port (--imap-port / MAILKEEP_IMAP_PORT)'.
 * Accepts the setting in any spelling ('imapPort', 'imap-port', 'limits.max-connections').
 */
export function describeSetting(setting: string): string {
  const camel = setting.split('.').map(toCamel).join('.');
  const flag = CONFIG_FLAGS.find((f) => f.setting === camel);
  const ways = flag ? `--${flag.flag} / ${envName(camel)}` : envName(camel);
  return `${settingName(camel)} (${ways})`;
}

function formatProblem(p: ConfigProblem): string {
  const where = p.setting === '' ? p.source : `${p.setting} (from ${p.source})`;
  return `config error: ${where}: ${p.message}`;
}

/** The message to print for a ConfigError: one `config error: …` line per problem. */
export function formatConfigError(err: ConfigError): string {
  return err.problems.map(formatProblem).join('\n');
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Every setting with its default: the map of known keys. */
const DEFAULTS: Table = configSchema.parse({});

/** 'section' for a table of settings, 'leaf' for a setting, null when unknown. */
function kindOf(segments: readonly string[]): 'section' | 'leaf' | null {
  let node: unknown = DEFAULTS;
  for (const s of segments) {
    if (!isTable(node) || !Object.hasOwn(node, s)) return null;
    node = node[s];
  }
  return isTable(node) ? 'section' : 'leaf';
}

/** The merged raw values and where each came from. */
class RawConfig {
  readonly values: Table = {};
  readonly sources = new Map<string, string>();
  /** Dotted paths whose value came from the config file. */
  readonly fromFile = new Set<string>();
  readonly problems: ConfigProblem[] = [];

  set(segments: readonly string[], value: unknown, source: string): void {
    let node = this.values;
    for (const s of segments.slice(0, -1)) {
      const next = node[s];
      node = isTable(next) ? next : (node[s] = {});
    }
    node[segments[segments.length - 1]!] = value;
    this.sources.set(segments.join('.'), source);
    this.fromFile.delete(segments.join('.'));
  }

  problem(setting: string, source: string, message: string): void {
    this.problems.push({ setting: setting === '' ? '' : settingName(setting), source, message });
  }
}

function readConfigFile(file: string): Table {
  let text: string;
  try {
    if (statSync(file).size > MAX_CONFIG_FILE_BYTES) throw new Error(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ setting: '', source: file, message: `cannot read config file: ${(err as Error).message}` }]);
  }
  try {
    return parseToml(text) as Table;
  } catch (err) {
    throw new ConfigError([{ setting: '', source: file, message: `invalid TOML: ${(err as Error).message.split('\n')[0]}` }]);
  }
}

function mergeFile(raw: RawConfig, table: Table, prefix: string[], file: string): void {
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(table)) {
    const segments = [...prefix, toCamel(key)];
    const dotted = segments.join('.');
    const earlier = seen.get(dotted);
    if (earlier !== undefined) {
      raw.problem(dotted, file, `given twice (as "${earlier}" and "${key}")`);
      continue;
    }
    seen.set(dotted, key);
    const kind = kindOf(segments);
    if (kind === null) raw.problem(dotted, file, 'unknown setting');
    else if (kind === 'leaf') {
      raw.set(segments, value, file);
      raw.fromFile.add(dotted);
    } else if (isTable(value)) mergeFile(raw, value, segments, file);
    else raw.problem(dotted, file, `expected a table ([${settingName(dotted)}])`);
  }
}

function mergeEnv(raw: RawConfig, env: Record<string, string | undefined>, warn: (m: string) => void): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === CONFIG_PATH_ENV) continue;
    // The test suite's own switches (MAILKEEP_TEST_STORE, MAILKEEP_TEST_PG, …) reach servers it spawns.
    if (name.startsWith(TEST_ENV_PREFIX) || name === CHECK_VIEWS_ENV || name === WORKER_SLOT_ENV || name === SERVER_STARTED_ENV) continue;
    // Empty means unset, as container tooling often passes every variable through.
    if (value === undefined || value === '') continue;
    const segments = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((s) => toCamel(s.toLowerCase()));
    if (kindOf(segments) === 'leaf') raw.set(segments, value, name);
    else warn(`ignoring unknown environment variable ${name}`);
  }
}

function mergeFlags(raw: RawConfig, flags: Record<string, unknown>): void {
  for (const f of CONFIG_FLAGS) {
    const value = flags[toCamel(f.flag)];
    if (value !== undefined) raw.set(f.setting.split('.'), value, `--${f.flag}`);
  }
}

function showValue(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The source of a setting path, looking up parents for list elements. */
function sourceOf(raw: RawConfig, segments: readonly PropertyKey[]): string {
  for (let n = segments.length; n > 0; n--) {
    const s = raw.sources.get(segments.slice(0, n).map(String).join('.'));
    if (s !== undefined) return s;
  }
  return 'default';
}

/**
 * Reads, merges and validates the configuration.
 * Throws ConfigError (print it with formatConfigError; the CLI exits 2).
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const configPath = options.configPath ?? (env[CONFIG_PATH_ENV] || undefined);
  const raw = new RawConfig();
  if (configPath !== undefined) mergeFile(raw, readConfigFile(configPath), [], configPath);
  mergeEnv(raw, env, options.warn ?? (() => {}));
  mergeFlags(raw, options.flags ?? {});

  const result = configSchema.safeParse(raw.values, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const dotted = issue.path.map(String).join('.');
      const params = issue.code === 'custom' ? (issue.params as { showValue?: boolean } | undefined) : undefined;
      const got = params?.showValue !== false && 'input' in issue && issue.input !== undefined ? `, got ${showValue(issue.input)}` : '';
      raw.problem(dotted, sourceOf(raw, issue.path), issue.message + got);
    }
  }
  if (raw.problems.length > 0 || !result.success) throw new ConfigError(raw.problems);

  const config = result.data;
  /** Where a relative path of the setting is resolved: the config file's directory when it came from there. */
  const base = (setting: string): string => (raw.fromFile.has(setting) && configPath !== undefined ? path.dirname(path.resolve(cwd, configPath)) : cwd);
  for (const key of PATH_SETTINGS) {
    const value = config[key];
    if (value === null) continue;
    config[key] = path.resolve(base(key), value);
  }
  const pairsBase = base('tls.certificates');
  config.tls.certificates = config.tls.certificates.map((p) => ({ cert: path.resolve(pairsBase, p.cert), key: path.resolve(pairsBase, p.key) }));
  if (config.acme.caFile !== null) config.acme.caFile = path.resolve(base('acme.caFile'), config.acme.caFile);
  if (config.oauth.clientSecretFile !== null) config.oauth.clientSecretFile = path.resolve(base('oauth.clientSecretFile'), config.oauth.clientSecretFile);
  return config;
}
