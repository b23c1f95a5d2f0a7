/** `mailkeep serve` as a child process: start, graceful SIGTERM, and one-line startup errors. */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { listenErrorMessage } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';
import { mailkeep, startMailkeep } from './cli-helpers.js';

const ALL_OFF = [
  '--imaps-port',
  '0',
  '--pop3-port',
  '0',
  '--pop3s-port',
  '0',
  '--lmtp-port',
  '0',
  '--managesieve-port',
  '0',
  '--http-port',
  '0',
  '--https-port',
  '0',
  '--admin-port',
  '0',
];

/** Listens on a free loopback port (to occupy it, or to learn a free number after closing). */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** Reads the first line the server sends on a new connection. */
async function greeting(port: number): Promise<string> {
  const socket = createConnection({ host: '127.0.0.1', port });
  try {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    return chunk.toString('latin1').split('\r\n')[0]!;
  } finally {
    socket.destroy();
  }
}

describe('mailkeep serve', () => {
  it('serves until SIGTERM, then stops gracefully and exits 0', async () => {
    const held = await holdPort();
    const port = held.port;
    held.server.close();
    await once(held.server, 'close');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'mailkeep-cli-serve-'));
    const child = startMailkeep(['serve', '--workers', '1', '--host', '127.0.0.1', '--imap-port', String(port), ...ALL_OFF, '--data-dir', dataDir]);
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('"msg":"mailkeep started"')) resolve();
        });
        void exited.then(() => reject(new Error(`serve exited early: ${stderr}${stdout}`)));
      });
      assert.match(await greeting(port), /^\* OK/);
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr);
      const messages = stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
      assert.ok(messages.includes('shutting down'), messages.join(' | '));
      assert.ok(messages.includes('mailkeep stopped'), messages.join(' | '));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('explains a port already in use in one line and exits 1', async () => {
    const held = await holdPort();
    try {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'mailkeep-cli-serve-'));
      const r = mailkeep([
        'serve',
        '--workers',
        '1',
        '--host',
        '127.0.0.1',
        '--imap-port',
        String(held.port),
        ...ALL_OFF,
        '--data-dir',
        dataDir,
        '--log-level',
        'silent',
      ]);
      assert.deepEqual(
        { status: r.status, stderr: r.stderr },
        {
          status: 1,
          stderr: `mailkeep: cannot listen on 127.0.0.1:${held.port} (address already in use); change imap-port (--imap-port / MAILKEEP_IMAP_PORT) or stop the other server\n`,
        },
      );
    } finally {
      held.server.close();
    }
  });

  it('rejects invalid settings before listening, with exit 2', () => {
    assert.deepEqual(mailkeep(['serve', '--imap-port', 'abc']), {
      status: 2,
      stdout: '',
      stderr: 'config error: imap-port (from --imap-port): expected a port number 0-65535 (0 disables the listener), got "abc"\n',
    });
    assert.equal(mailkeep(['serve', '--no-such-flag']).status, 2);
    assert.deepEqual(mailkeep(['serve', '--imap-port', '0', ...ALL_OFF]), {
      status: 2,
      stdout: '',
      stderr: 'mailkeep: every listener is disabled (all ports are 0); enable at least one port\n',
    });
  });

  it('words permission errors and other listeners, hosts and settings too', () => {
    const config = loadConfig({ env: {}, flags: { host: '::', lmtpPort: '24' } });
    const err = (code: 'EADDRINUSE' | 'EACCES', setting: string, port: number) => Object.assign(new Error('listen'), { code, port, setting });
    assert.equal(
      listenErrorMessage(err('EACCES', 'imaps-port', 993), config),
      'cannot listen on [::]:993 (permission denied); change imaps-port (--imaps-port / MAILKEEP_IMAPS_PORT) to a port above 1023 or grant the capability to bind low ports',
    );
    assert.equal(
      listenErrorMessage(err('EADDRINUSE', 'lmtpPort', 24), config),
      'cannot listen on 127.0.0.1:24 (address already in use); change lmtp-port (--lmtp-port / MAILKEEP_LMTP_PORT) or stop the other server',
    );
  });
});
