/**
 * Runs a throwaway Dovecot (Debian's dovecot-imapd) for the benchmark: a
 * config in a fresh temp dir, listening only on 127.0.0.1 at a free high
 * port, maildir storage in the same dir, Dovecot's default durability
 * (mail_fsync = optimized). /etc/dovecot and the system service are never
 * touched; only the master PID we started is stopped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, tailFile, type BenchServer, type ServerOptions } from './bench-server.js';
import { freePort, spawnWithNofile, stopChild, treeMemory, waitForPort } from './proc.js';

/** Dovecot refuses UID 0 for mail access: the mailbox belongs to nobody. */
const NOBODY = 65534;
const USER = 'bench';
const PASSWORD = 'bench-password';

function config(dir: string, port: number, maxConnections: number): string {
  // One imap process per connection (Dovecot's default client_limit = 1), so
  // the process limits must cover every connection of the IDLE row; the
  // client limits of the shared services (anvil, auth, log, stats) must cover
  // every imap process connecting to them.
  const processes = maxConnections + 50;
  const clients = 4 * processes;
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:${dir}/home/Maildir
mail_max_userip_connections = ${processes}
default_client_limit = ${clients}
default_process_limit = ${processes}
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
  process_limit = ${processes}
}
service imap {
  process_limit = ${processes}
}
service stats {
  inet_listener http {
    port = 0
  }
}
`;
}

/** Starts Dovecot with one user; needs root and `dovecot` on PATH. */
export async function startDovecot(opts: ServerOptions): Promise<BenchServer> {
  const dir = makeTempDir('bench-dovecot');
  const port = await freePort();
  fs.mkdirSync(path.join(dir, 'run'), { mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'state'));
  fs.mkdirSync(path.join(dir, 'home'));
  fs.chownSync(path.join(dir, 'home'), NOBODY, NOBODY);
  fs.writeFileSync(path.join(dir, 'passwd'), `${USER}:{PLAIN}${PASSWORD}:${NOBODY}:${NOBODY}::${dir}/home::\n`);
  const conf = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(conf, config(dir, port, opts.maxConnections));
  const version = execFileSync('dovecot', ['--version']).toString().trim();
  const log = path.join(dir, 'dovecot.log');

  const child = spawnWithNofile('dovecot', ['-F', '-c', conf], 8 * opts.maxConnections + 1024, { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot spawn dovecot');
  try {
    await waitForPort(port, child, 15_000, 'dovecot');
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}\n${tailFile(log)}`);
  }
  return {
    name: 'dovecot',
    version: `Dovecot ${version}`,
    port,
    user: USER,
    password: PASSWORD,
    memory: () => treeMemory(pid),
    logTail: () => tailFile(log),
    async stop() {
      await stopChild(child);
      if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
