import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, describeSetting, envName, formatConfigError, loadConfig, settingName } from '../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-config-'));
let fileNo = 0;
function toml(text: string): string {
  const file = path.join(dir, `c${fileNo++}.toml`);
  writeFileSync(file, text);
  return file;
}

/** The formatted error lines of a failing load. */
function errorsOf(opts: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return formatConfigError(err).split('\n');
  }
  assert.fail('loadConfig accepted an invalid configuration');
}

describe('config defaults', () => {
  it('has every documented default when no source sets anything', () => {
    const c = loadConfig({ env: {}, cwd: '/srv' });
    assert.equal(c.dataDir, '/srv/data');
    assert.equal(c.host, '0.0.0.0');
    assert.deepEqual([c.imapPort, c.imapsPort, c.pop3Port, c.pop3sPort, c.lmtpPort], [143, 993, 110, 995, 24]);
    assert.equal(c.lmtpHost, '127.0.0.1');
    assert.equal(c.tlsCert, null);
    assert.deepEqual(c.plaintextAuth, { allowInsecure: false, trustedNetworks: [] });
    assert.equal(c.limits.maxConnections, 10000);
    assert.equal(c.limits.maxConnectionsPerIp, 100);
    assert.equal(c.limits.idleTimeoutSeconds, 1800);
    assert.equal(c.limits.preAuthTimeoutSeconds, 60);
    assert.equal(c.limits.appendLimit, 52428800);
    assert.equal(c.limits.maxLiteralSize, 65536);
    assert.equal(c.limits.maxCommandSize, 1048576);
    assert.deepEqual(c.log, { level: 'info', trace: false });
    assert.equal(c.store.url, null);
  });
});

describe('config precedence', () => {
  const file = toml('imap-port = 1001\n[limits]\nmax-connections = 11\nmax-connections-per-ip = 7\n');

  it('flag > environment > file > default', () => {
    const env = { MAILKEEP_IMAP_PORT: '1002', MAILKEEP_LIMITS__MAX_CONNECTIONS: '12' };
    assert.equal(loadConfig({ configPath: file, env, flags: { imapPort: '1003' } }).imapPort, 1003);
    assert.equal(loadConfig({ configPath: file, env, flags: {} }).imapPort, 1002);
    assert.equal(loadConfig({ configPath: file, env: {} }).imapPort, 1001);
    assert.equal(loadConfig({ env: {} }).imapPort, 143);
  });

  it('merges nested tables key by key', () => {
    const c = loadConfig({ configPath: file, env: { MAILKEEP_LIMITS__MAX_CONNECTIONS: '12' } });
    assert.equal(c.limits.maxConnections, 12); // environment
    assert.equal(c.limits.maxConnectionsPerIp, 7); // file
    assert.equal(c.limits.appendLimit, 52428800); // default
  });

  it('takes the file from MAILKEEP_CONFIG when no path is given, and the explicit path over it', () => {
    const other = toml('imap-port = 2001\n');
    assert.equal(loadConfig({ env: { MAILKEEP_CONFIG: file } }).imapPort, 1001);
    assert.equal(loadConfig({ configPath: other, env: { MAILKEEP_CONFIG: file } }).imapPort, 2001);
  });

  it('accepts kebab, snake and camel case keys in the file', () => {
    const c = loadConfig({ configPath: toml('imap_port = 5\nimapsPort = 6\npop3-port = 7\n[plaintext_auth]\nallow-insecure = true\n'), env: {} });
    assert.deepEqual([c.imapPort, c.imapsPort, c.pop3Port, c.plaintextAuth.allowInsecure], [5, 6, 7, true]);
  });

  it('parses strings from the environment by type: booleans, lists, levels', () => {
    const c = loadConfig({
      env: {
        MAILKEEP_LOG__TRACE: 'yes',
        MAILKEEP_LOG__LEVEL: 'debug',
        MAILKEEP_PLAINTEXT_AUTH__TRUSTED_NETWORKS: '10.0.0.0/8, ::1 ,192.168.1.7',
        MAILKEEP_PLAINTEXT_AUTH__ALLOW_INSECURE: 'off',
      },
    });
    assert.equal(c.log.trace, true);
    assert.equal(c.log.level, 'debug');
    assert.deepEqual(c.plaintextAuth.trustedNetworks, ['10.0.0.0/8', '::1', '192.168.1.7']);
    assert.equal(c.plaintextAuth.allowInsecure, false);
  });

  it('[admin] metrics: on by default, off from the file or MAILKEEP_ADMIN__METRICS', () => {
    assert.equal(loadConfig({ env: {} }).admin.metrics, true);
    assert.equal(loadConfig({ configPath: toml('[admin]\nmetrics = false\n'), env: {} }).admin.metrics, false);
    assert.equal(loadConfig({ env: { MAILKEEP_ADMIN__METRICS: 'false' } }).admin.metrics, false);
    assert.match(errorsOf({ env: { MAILKEEP_ADMIN__METRICS: 'maybe' } }).join('\n'), /admin\.metrics.*true or false/);
  });

  it('treats an empty environment variable as unset', () => {
    assert.equal(loadConfig({ configPath: file, env: { MAILKEEP_IMAP_PORT: '' } }).imapPort, 1001);
  });

  it('warns about unknown MAILKEEP_ variables instead of failing', () => {
    const warnings: string[] = [];
    const c = loadConfig({ env: { MAILKEEP_IMAP_PROT: '1', MAILKEEP_LIMITS__NOPE: '2', OTHER: 'x' }, warn: (m) => warnings.push(m) });
    assert.equal(c.imapPort, 143);
    assert.deepEqual(warnings.sort(), [
      'ignoring unknown environment variable MAILKEEP_IMAP_PROT',
      'ignoring unknown environment variable MAILKEEP_LIMITS__NOPE',
    ]);
  });

  it('resolves relative paths from the file against its directory, others against cwd', () => {
    const sub = path.join(dir, 'sub');
    const f = path.join(dir, 'paths.toml');
    writeFileSync(f, 'data-dir = "mail"\ntls-cert = "certs/c.pem"\ntls-key = "/abs/k.pem"\n');
    const c = loadConfig({ configPath: f, env: {}, cwd: sub });
    assert.equal(c.dataDir, path.join(dir, 'mail'));
    assert.equal(c.tlsCert, path.join(dir, 'certs/c.pem'));
    assert.equal(c.tlsKey, '/abs/k.pem');
    const overridden = loadConfig({ configPath: f, env: {}, cwd: sub, flags: { dataDir: 'elsewhere' } });
    assert.equal(overridden.dataDir, path.join(sub, 'elsewhere'));
  });
});

describe('config errors', () => {
  it('names the setting, the flag and the value', () => {
    assert.deepEqual(errorsOf({ env: {}, flags: { imapPort: 'abc' } }), [
      'config error: imap-port (from --imap-port): expected a port number 0-65535 (0 disables the listener), got "abc"',
    ]);
  });

  it('names the environment variable', () => {
    assert.deepEqual(errorsOf({ env: { MAILKEEP_LIMITS__MAX_CONNECTIONS: '0' } }), [
      'config error: limits.max-connections (from MAILKEEP_LIMITS__MAX_CONNECTIONS): expected a positive whole number, got 0',
    ]);
    assert.deepEqual(errorsOf({ env: { MAILKEEP_POP3_PORT: '65536' } }), [
      'config error: pop3-port (from MAILKEEP_POP3_PORT): expected a port number 0-65535 (0 disables the listener), got 65536',
    ]);
  });

  it('names the file, and reports every problem at once', () => {
    const f = toml('imaps-port = "x"\nbogus = 1\n[limits]\nidle-timeout-seconds = -5\n[log]\nlevel = "loud"\n');
    assert.deepEqual(errorsOf({ configPath: f, env: {} }).sort(), [
      `config error: bogus (from ${f}): unknown setting`,
      `config error: imaps-port (from ${f}): expected a port number 0-65535 (0 disables the listener), got "x"`,
      `config error: limits.idle-timeout-seconds (from ${f}): expected a number of seconds, got -5`,
      `config error: log.level (from ${f}): expected one of fatal, error, warn, info, debug, trace, silent, got "loud"`,
    ]);
  });

  it('points at the offending list element', () => {
    assert.deepEqual(errorsOf({ env: { MAILKEEP_PLAINTEXT_AUTH__TRUSTED_NETWORKS: '10.0.0.0/8,10.0.0.0/33' } }), [
      'config error: plaintext-auth.trusted-networks[1] (from MAILKEEP_PLAINTEXT_AUTH__TRUSTED_NETWORKS): expected a network such as 10.0.0.0/8 or ::1, got "10.0.0.0/33"',
    ]);
  });

  it('rejects a section given as a value and a key given twice', () => {
    const f = toml('limits = 5\ndata-dir = "a"\ndata_dir = "b"\n');
    assert.deepEqual(errorsOf({ configPath: f, env: {} }).sort(), [
      `config error: data-dir (from ${f}): given twice (as "data-dir" and "data_dir")`,
      `config error: limits (from ${f}): expected a table ([limits])`,
    ]);
  });

  it('requires tls-cert and tls-key together', () => {
    assert.deepEqual(errorsOf({ env: {}, flags: { tlsCert: '/c.pem' } }), ['config error: tls-cert (from --tls-cert): tls-key must be set as well']);
    assert.deepEqual(errorsOf({ env: { MAILKEEP_TLS_KEY: '/k.pem' } }), ['config error: tls-key (from MAILKEEP_TLS_KEY): tls-cert must be set as well']);
  });

  it('reports an unreadable or malformed file', () => {
    const missing = path.join(dir, 'missing.toml');
    const [line] = errorsOf({ configPath: missing, env: {} });
    assert.ok(line!.startsWith(`config error: ${missing}: cannot read config file: ENOENT`), line);
    const bad = toml('imap-port = = 3\n');
    assert.ok(errorsOf({ configPath: bad, env: {} })[0]!.startsWith(`config error: ${bad}: invalid TOML: `));
  });
});

describe('setting names', () => {
  it('maps between code, display, flag and environment spellings', () => {
    assert.equal(settingName('limits.maxConnectionsPerIp'), 'limits.max-connections-per-ip');
    assert.equal(envName('limits.maxConnectionsPerIp'), 'MAILKEEP_LIMITS__MAX_CONNECTIONS_PER_IP');
    assert.equal(envName('pop3sPort'), 'MAILKEEP_POP3S_PORT');
    assert.equal(describeSetting('imap-port'), 'imap-port (--imap-port / MAILKEEP_IMAP_PORT)');
    assert.equal(describeSetting('imapsPort'), 'imaps-port (--imaps-port / MAILKEEP_IMAPS_PORT)');
    assert.equal(describeSetting('limits.max-connections'), 'limits.max-connections (MAILKEEP_LIMITS__MAX_CONNECTIONS)');
  });

  it('round-trips every environment name through the loader', () => {
    // envName must produce exactly what mergeEnv understands.
    const c = loadConfig({ env: { [envName('limits.maxConnectionsPerIp')]: '9', [envName('pop3sPort')]: '9950' } });
    assert.equal(c.limits.maxConnectionsPerIp, 9);
    assert.equal(c.pop3sPort, 9950);
  });
});

describe('hostname and domains', () => {
  it("defaults to this machine's name and any domain", () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.hostname, (hostname() || 'localhost').toLowerCase());
    assert.deepEqual(c.domains, []);
  });

  it('takes --hostname lower-cased and refuses what is no host name', () => {
    assert.equal(loadConfig({ env: {}, flags: { hostname: 'Mail.Example.ORG' } }).hostname, 'mail.example.org');
    assert.match(errorsOf({ env: {}, flags: { hostname: 'mail example.org' } }).join('\n'), /hostname.*expected a host name/);
  });

  it('folds the older [lmtp] domains into the one domains list', () => {
    const file = toml('domains = ["example.org"]\n[lmtp]\ndomains = ["Example.NET", "example.org"]\n');
    assert.deepEqual(loadConfig({ configPath: file, env: {} }).domains, ['example.org', 'example.net']);
    assert.deepEqual(loadConfig({ env: { MAILKEEP_DOMAINS: 'a.test, b.test' } }).domains, ['a.test', 'b.test']);
  });
});

describe('[tls] settings', () => {
  it('reads [[tls.certificates]] pairs, relative to the file; from the environment as cert:key pairs', () => {
    const f = toml(
      '[tls]\nmin-version = 1.3\n[[tls.certificates]]\ncert = "a.crt"\nkey = "/keys/a.key"\n[[tls.certificates]]\ncert = "b.crt"\nkey = "b.key"\n',
    );
    const c = loadConfig({ configPath: f, env: {}, cwd: '/elsewhere' });
    assert.deepEqual(c.tls.certificates, [
      { cert: path.join(dir, 'a.crt'), key: '/keys/a.key' },
      { cert: path.join(dir, 'b.crt'), key: path.join(dir, 'b.key') },
    ]);
    assert.equal(c.tls.minVersion, '1.3', 'a TOML number');
    const fromEnv = loadConfig({ env: { MAILKEEP_TLS__CERTIFICATES: 'x.crt:x.key, /y.crt:/y.key' }, cwd: '/srv' });
    assert.deepEqual(fromEnv.tls.certificates, [
      { cert: '/srv/x.crt', key: '/srv/x.key' },
      { cert: '/y.crt', key: '/y.key' },
    ]);
    assert.equal(fromEnv.tls.minVersion, '1.2', 'the default');
    assert.equal(loadConfig({ env: {}, flags: { tlsMinVersion: '1.3' } }).tls.minVersion, '1.3');
  });

  it('refuses other versions and a pair without its key', () => {
    assert.match(errorsOf({ env: {}, flags: { tlsMinVersion: '1.1' } })[0]!, /tls\.min-version \(from --tls-min-version\): expected "1\.2" or "1\.3"/);
    assert.match(errorsOf({ env: { MAILKEEP_TLS__CERTIFICATES: 'only.crt' } })[0]!, /tls\.certificates\[0\]\.key/);
  });
});
