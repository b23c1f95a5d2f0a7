/**
 * Postfix's smtp-sink (Debian postfix) as the relay a test sends through: a
 * real SMTP server on a free loopback port that writes every message it
 * accepts to a file (envelope as X-Mail-Args / X-Rcpt-Args, then the data).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server.js';

/** One message smtp-sink accepted. */
export interface SunkMail {
  /** MAIL FROM address ('' for <>). */
  from: string;
  to: string[];
  /** The message as received (header and body), LF lines as smtp-sink writes them. */
  data: string;
}

/** A running smtp-sink. */
export interface SmtpSink {
  port: number;
  /** The messages received so far, oldest first. */
  messages(): Promise<SunkMail[]>;
  /** Waits (up to `timeoutMs`) until at least `count` messages arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<SunkMail[]>;
  stop(): Promise<void>;
}

export const SMTP_SINK = '/usr/sbin/smtp-sink';

function parseDump(text: string): SunkMail {
  const lines = text.split('\n');
  let from = '';
  const to: string[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^X-(Mail|Rcpt)-Args: <([^>]*)>/i.exec(lines[i] ?? '');
    if (m?.[1]?.toLowerCase() === 'mail') from = m[2] ?? '';
    else if (m) to.push(m[2] ?? '');
    else if (!/^X-[A-Za-z-]+: /.test(lines[i] ?? '')) break;
  }
  // smtp-sink's own Received field (and its continuation lines) comes before the message.
  if (/^Received: /.test(lines[i] ?? '')) for (i++; /^[ \t]/.test(lines[i] ?? ''); i++);
  return { from, to, data: lines.slice(i).join('\n') };
}

async function listening(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('smtp-sink did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts smtp-sink on a free port, dumping into a fresh directory. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const dir = await mkdtemp(join(tmpdir(), 'mailkeep-sink-'));
  // As root smtp-sink must drop to another user (-u), which then writes the dumps.
  await chmod(dir, 0o777);
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const child: ChildProcess = spawn(SMTP_SINK, [...(root ? ['-u', 'nobody'] : []), '-d', `${dir}/%M.`, `127.0.0.1:${port}`, '10'], { stdio: 'ignore' });
  await listening(port, Date.now() + 10_000);
  const messages = async (): Promise<SunkMail[]> => {
    // Oldest first: file names are random, their times are not.
    const files = await Promise.all((await readdir(dir)).map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })));
    files.sort((a, b) => a.t - b.t);
    return Promise.all(files.map(async ({ f }) => parseDump(await readFile(join(dir, f), 'latin1'))));
  };
  return {
    port,
    messages,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = await messages();
        if (got.length >= count || Date.now() > deadline) return got;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.pid !== undefined && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
