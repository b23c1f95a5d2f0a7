/**
 * Hot reload of the TLS certificate (issue 19): the PEM files of a running
 * `mailkeep serve` are replaced and SIGHUP sent; new handshakes get the new
 * certificate while an established IMAP session goes on; a mismatched pair is
 * refused with a log line and the certificate in use stays.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { makePair } from './helpers/certificates.js';
import { spawnServer, type ChildServer } from './helpers/server.js';

/** Opens an IMAPS connection and waits for the greeting. */
async function imaps(port: number): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port, servername: 'mail.test', rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const [greeting] = (await once(socket, 'data')) as [Buffer];
  assert.match(greeting.toString(), /^\* OK/);
  return socket;
}

/** Sends one tagged command and resolves with everything up to its tagged reply. */
async function command(socket: TLSSocket, tag: string, line: string): Promise<string> {
  socket.write(`${tag} ${line}\r\n`);
  let text = '';
  while (!new RegExp(`^${tag} `, 'm').test(text)) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    text += chunk.toString();
  }
  return text;
}

const fingerprint = (socket: TLSSocket): string => socket.getPeerX509Certificate()!.fingerprint256;

describe('TLS certificate reload', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailkeep-tls-reload-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  let server: ChildServer;
  let output = '';

  /** Waits until the server's log has `text` after `from` characters. */
  async function logged(text: string, from: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!output.slice(from).includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in the log: ${output.slice(from)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  before(async () => {
    const first = await makePair(['mail.test']);
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    server = await spawnServer(path.join(dir, 'data'), ['--tls-cert', certFile, '--tls-key', keyFile]);
    server.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  });

  after(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  test('SIGHUP after new files: new handshakes get the new certificate, a session in progress goes on', async () => {
    const old = await imaps(server.imapsPort);
    const before = fingerprint(old);
    const next = await makePair(['mail.test']);
    writeFileSync(certFile, next.cert);
    writeFileSync(keyFile, next.key);
    const mark = output.length;
    server.child.kill('SIGHUP');
    await logged('TLS certificates reloaded', mark);

    const fresh = await imaps(server.imapsPort);
    assert.notEqual(fingerprint(fresh), before);
    assert.match(await command(old, 'a1', 'NOOP'), /^a1 OK/m);
    old.destroy();
    fresh.destroy();
  });

  test('a key that does not match its certificate is refused and logged; the pair in use stays', async () => {
    const inUse = fingerprint(await imaps(server.imapsPort));
    const stranger = await makePair(['mail.test']);
    writeFileSync(keyFile, stranger.key);
    const mark = output.length;
    server.child.kill('SIGHUP');
    await logged('TLS reload refused', mark);
    assert.match(output.slice(mark), /does not match the certificate/);

    const after = await imaps(server.imapsPort);
    assert.equal(fingerprint(after), inUse);
    after.destroy();
  });
});
