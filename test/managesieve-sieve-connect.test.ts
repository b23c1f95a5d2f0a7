/**
 * A real ManageSieve client: Debian's sieve-connect uploads, lists,
 * activates, downloads, deactivates and deletes scripts over STARTTLS with
 * AUTHENTICATE PLAIN (the password on a file descriptor, never on the command line).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

const hasSieveConnect = spawnSync('sieve-connect', ['--help'], { stdio: 'ignore' }).error === undefined;

let srv: TestServer;
let dir: string;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'secret pw');
  dir = await mkdtemp(join(tmpdir(), 'mailkeep-sieve-connect-'));
});
after(async () => {
  await srv.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs sieve-connect against the test server as alice; the password goes through fd 3. */
function sieveConnect(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const common = [
    '--server',
    '127.0.0.1',
    '--port',
    String(srv.managesievePort),
    '--user',
    'alice',
    '--passwordfd',
    '3',
    '--notlsverify',
    '--authmech',
    'PLAIN',
  ];
  return new Promise((resolve) => {
    const child = spawn('sieve-connect', [...common, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const password = child.stdio[3] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
    // sieve-connect may close the descriptor before reading all of it: that is no failure here.
    password.on('error', () => undefined);
    password.end('secret pw\n');
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('sieve-connect: upload, list, activate, download, refuse to delete the active script, deactivate, delete', {
  skip: hasSieveConnect ? false : 'sieve-connect not installed',
}, async () => {
  const script =
    'require ["fileinto", "imap4flags"];\n# Ünïcode comment\nif header :contains "list-id" "dev" {\n  addflag "\\\\Flagged";\n  fileinto "Lists";\n}\n';
  await writeFile(join(dir, 'lists.sieve'), script);
  const up = await sieveConnect('--localsieve', join(dir, 'lists.sieve'), '--remotesieve', 'lists', '--upload');
  assert.equal(up.code, 0, up.stderr);
  assert.equal((await sieveConnect('--list')).stdout, '"lists"\n');

  await writeFile(join(dir, 'broken.sieve'), 'require "fileinto";\nfileinto "x"\n');
  const broken = await sieveConnect('--localsieve', join(dir, 'broken.sieve'), '--remotesieve', 'broken', '--upload');
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /2:13: /);

  assert.equal((await sieveConnect('--remotesieve', 'lists', '--activate')).code, 0);
  assert.equal((await sieveConnect('--list')).stdout, '"lists" ACTIVE\n');
  const account = await srv.server.store.findAccount('alice');
  assert.equal((await srv.server.store.getActiveSieveScript(account!.id))?.content, script);

  const down = await sieveConnect('--remotesieve', 'lists', '--download', '--localsieve', join(dir, 'down.sieve'));
  assert.equal(down.code, 0, down.stderr);
  assert.equal(await readFile(join(dir, 'down.sieve'), 'utf8'), script);

  const refused = await sieveConnect('--remotesieve', 'lists', '--delete');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /ACTIVE/);
  assert.equal((await sieveConnect('--deactivate')).code, 0);
  assert.equal((await sieveConnect('--list')).stdout, '"lists"\n');
  assert.equal((await sieveConnect('--remotesieve', 'lists', '--delete')).code, 0);
  assert.equal((await sieveConnect('--list')).stdout, '');
  assert.deepEqual(await srv.server.store.listSieveScripts(account!.id), []);
});
