/**
 * Runs a throwaway Dovecot (Debian's dovecot-imapd, plus dovecot-pop3d or
 * dovecot-lmtpd when asked) for the benchmarks and the fixture recorders: a
 * config in a fresh temp dir, listening only on 127.0.0.1 at free high ports,
 * maildir storage in the same dir, Dovecot's default durability
 * (mail_fsync = optimized). /etc/dovecot and the system service are never
 * touched; only the master PID we started is stopped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, tailFile, type BenchServer, type ServerOptions } from './bench-server.js';
import { freePort, processTree, spawnWithNofile, stopChild, treeCpuNs, treeMemory, waitForPort } from './proc.js';

/** Dovecot refuses UID 0 for mail access: the mailboxes belong to nobody. */
const NOBODY = 65534;
const USER = 'bench';
const PASSWORD = 'bench-password';
/** LMTP recipients are user@domain; the passwd-file has bare names (auth_username_format = %Ln). */
const LMTP_DOMAIN = 'example.com';

/** Options of the Dovecot launcher beyond the common ones. */
export interface DovecotOptions extends ServerOptions {
  /** Also listen for POP3 (needs dovecot-pop3d). */
  pop3?: boolean;
  /** Also listen for LMTP (needs dovecot-lmtpd). */
  lmtp?: boolean;
  /** Accounts, each with its own maildir home; the first is the BenchServer's `user`. Default: one "bench". */
  users?: readonly string[];
  /** Password of every account. */
  password?: string;
  /** Prefix of the temp dir's name. */
  tempPrefix?: string;
  /**
   * PEM files for TLS: adds imaps (and pop3s) listeners, STARTTLS/STLS on the
   * plaintext ones, and refuses passwords before TLS (disable_plaintext_auth).
   */
  tls?: { cert: string; key: string };
}

/** A running Dovecot: IMAP on `port`, and the optional listeners. */
export interface DovecotServer extends BenchServer {
  /** The temp dir holding config, log and `home/<user>/Maildir`. */
  dir: string;
  pop3Port: number | null;
  lmtpPort: number | null;
  /** The implicit-TLS listeners, with `tls`. */
  imapsPort: number | null;
  pop3sPort: number | null;
}

/** The installed Dovecot's version, e.g. "2.3.19.1 (9b53102964)"; throws when it is not installed. */
export function dovecotVersion(): string {
  return execFileSync('dovecot', ['--version']).toString().trim();
}

/** A login service block with one plaintext listener and its implicit-TLS twin (disabled when `tlsPort` is null). */
function loginService(proto: string, port: number, tlsPort: number | null, processes: number): string {
  return `service ${proto}-login {
  inet_listener ${proto} {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener ${proto}s {
    address = 127.0.0.1
    port = ${tlsPort ?? 0}
  }
  process_limit = ${processes}
}
`;
}

interface Ports {
  imap: number;
  pop3: number | null;
  lmtp: number | null;
  imaps: number | null;
  pop3s: number | null;
}

/** The TLS lines of the config: off, or on with passwords refused before TLS. */
function tlsConfig(tls: DovecotOptions['tls']): string {
  if (!tls) return 'ssl = no\ndisable_plaintext_auth = no\n';
  return `ssl = yes\nssl_cert = <${tls.cert}\nssl_key = <${tls.key}\ndisable_plaintext_auth = yes\n`;
}

function config(dir: string, ports: Ports, maxConnections: number, tls: DovecotOptions['tls']): string {
  // One imap process per connection (Dovecot's default client_limit = 1), so
  // the process limits must cover every connection of the IDLE row; the
  // client limits of the shared services (anvil, auth, log, stats) must cover
  // every imap process connecting to them.
  const processes = maxConnections + 50;
  const clients = 4 * processes;
  const protocols = ['imap', ...(ports.pop3 !== null ? ['pop3'] : []), ...(ports.lmtp !== null ? ['lmtp'] : [])];
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = ${protocols.join(' ')}
listen = 127.0.0.1
${tlsConfig(tls)}auth_mechanisms = plain
mail_location = maildir:~/Maildir
mail_max_userip_connections = ${processes}
default_client_limit = ${clients}
default_process_limit = ${processes}
${ports.lmtp !== null ? `postmaster_address = postmaster@${LMTP_DOMAIN}\nauth_username_format = %Ln\n` : ''}passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
${loginService('imap', ports.imap, ports.imaps, processes)}service imap {
  process_limit = ${processes}
}
${ports.pop3 !== null ? loginService('pop3', ports.pop3, ports.pop3s, processes) : ''}${
  ports.lmtp !== null
    ? `service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
}
`
    : ''
}service stats {
  inet_listener http {
    port = 0
  }
}
`;
}

/** Starts Dovecot with its accounts; needs root and `dovecot` on PATH. */
export async function startDovecot(opts: DovecotOptions): Promise<DovecotServer> {
  const users = opts.users ?? [USER];
  const password = opts.password ?? PASSWORD;
  const version = dovecotVersion(); // fails early when not installed
  const dir = makeTempDir(opts.tempPrefix ?? 'bench-dovecot');
  const ports: Ports = {
    imap: await freePort(),
    pop3: opts.pop3 ? await freePort() : null,
    lmtp: opts.lmtp ? await freePort() : null,
    imaps: opts.tls ? await freePort() : null,
    pop3s: opts.tls && opts.pop3 ? await freePort() : null,
  };
  for (const sub of ['run', 'state', 'home']) fs.mkdirSync(path.join(dir, sub), { mode: 0o755 });
  const passwd = users.map((u) => {
    const home = path.join(dir, 'home', u);
    fs.mkdirSync(home);
    fs.chownSync(home, NOBODY, NOBODY);
    return `${u}:{PLAIN}${password}:${NOBODY}:${NOBODY}::${home}::\n`;
  });
  fs.writeFileSync(path.join(dir, 'passwd'), passwd.join(''));
  const conf = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(conf, config(dir, ports, opts.maxConnections, opts.tls));
  const log = path.join(dir, 'dovecot.log');

  const child = spawnWithNofile('dovecot', ['-F', '-c', conf], 8 * opts.maxConnections + 1024, { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot spawn dovecot');
  try {
    for (const port of [ports.imap, ports.pop3, ports.lmtp, ports.imaps, ports.pop3s]) if (port !== null) await waitForPort(port, child, 15_000, 'dovecot');
  } catch (err) {
    await stopChild(child);
    const hint = [opts.pop3 ? 'dovecot-pop3d' : '', opts.lmtp ? 'dovecot-lmtpd' : ''].filter(Boolean).join(', ');
    throw new Error(`${(err as Error).message}\n${tailFile(log)}${hint ? `\n(is ${hint} installed?)` : ''}`);
  }
  return {
    name: 'dovecot',
    version: `Dovecot ${version}`,
    port: ports.imap,
    pop3Port: ports.pop3,
    lmtpPort: ports.lmtp,
    imapsPort: ports.imaps,
    pop3sPort: ports.pop3s,
    dir,
    user: users[0] ?? USER,
    password,
    memory: () => treeMemory(pid),
    pids: () => processTree(pid),
    cpuNs: () => treeCpuNs(pid),
    logTail: () => tailFile(log),
    async stop() {
      await stopChild(child);
      if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
