/**
 * mbsync (Debian's isync) as a test client: one IMAPS account synced both
 * ways with a local Maildir tree, trusting the test server's self-signed
 * certificate. Runs asynchronously: the server under test may share this
 * event loop.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestServer } from './server.js';

const execFileAsync = promisify(execFile);

/** Whether mbsync is installed. */
export const hasMbsync = spawnSync('mbsync', ['--version']).status === 0;

/** Who logs in, and how (`authMechs`: mbsync's AuthMechs, e.g. SCRAM-SHA-256 through Cyrus SASL). */
export interface MbsyncAccount {
  user: string;
  pass: string;
  authMechs?: string;
}

/** Writes the configuration into `dir` and runs `mbsync -a` (with `extraArgs`); returns its output, or fails the test with it. */
export async function runMbsync(srv: TestServer, dir: string, account: MbsyncAccount, extraArgs: string[] = []): Promise<string> {
  const conf = join(dir, 'mbsyncrc');
  writeFileSync(
    conf,
    [
      'IMAPAccount mk',
      'Host 127.0.0.1',
      `Port ${srv.imapsPort}`,
      `User ${account.user}`,
      `Pass "${account.pass}"`,
      ...(account.authMechs ? [`AuthMechs ${account.authMechs}`] : []),
      'SSLType IMAPS',
      `CertificateFile ${join(srv.dataDir, 'tls', 'cert.pem')}`,
      'SSLVersions TLSv1.2 TLSv1.3',
      '',
      'IMAPStore remote',
      'Account mk',
      '',
      'MaildirStore local',
      `Path ${join(dir, 'mail')}/`,
      `Inbox ${join(dir, 'mail', 'INBOX')}`,
      'SubFolders Verbatim',
      '',
      'Channel all',
      'Far :remote:',
      'Near :local:',
      'Patterns *',
      'Create Both',
      'Expunge Both',
      'SyncState *',
      '',
    ].join('\n'),
  );
  try {
    const res = await execFileAsync('mbsync', ['-c', conf, ...extraArgs, '-a'], { encoding: 'utf8', timeout: 60000 });
    return res.stdout + res.stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    assert.fail(`mbsync failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}
