/**
 * `mailkeep sieve` against the store of a running in-process server (the CLI
 * runs as a child process, asynchronously): put (file and stdin, refused with
 * `line:column: message` errors), get byte for byte, list with the active
 * mark, activate/deactivate, delete (not the active one), check; and the
 * scripts it stores are the ones ManageSieve serves.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, cleanEnv } from './cli-helpers.js';
import { SieveClient } from './helpers/managesieve-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let dir: string;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice', 'pw');
  dir = await mkdtemp(join(tmpdir(), 'mailkeep-cli-sieve-'));
});
after(async () => {
  await srv.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `mailkeep sieve ...` on the server's store with `input` on stdin. */
function sieve(args: string[], input = ''): Promise<{ status: number; stdout: string; stderr: string }> {
  const store = srv.config.store.url ? ['--store', srv.config.store.url] : [];
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, 'sieve', ...args, '--data-dir', srv.dataDir, ...store],
      { env: cleanEnv(), timeout: 60_000 },
      (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input);
  });
}

const SCRIPT = 'require "fileinto";\r\n# déjà vu\r\nif address :is "from" "boss@example.org" { fileinto "Boss"; }\r\n';

test('put from a file and from stdin, list, get byte for byte, activate, deactivate', async () => {
  await writeFile(join(dir, 'boss.sieve'), SCRIPT);
  const put = await sieve(['put', 'alice', 'boss', join(dir, 'boss.sieve')]);
  assert.equal(put.status, 0, put.stderr);
  const viaStdin = await sieve(['put', 'alice', 'other', '--activate'], 'keep;\n');
  assert.equal(viaStdin.status, 0, viaStdin.stderr);
  assert.equal((await sieve(['list', 'alice'])).stdout, `boss\t${Buffer.byteLength(SCRIPT)}\nother\t6\tactive\n`);
  assert.equal((await sieve(['get', 'alice', 'boss'])).stdout, SCRIPT);
  assert.equal((await sieve(['activate', 'alice', 'boss'])).status, 0);
  assert.equal((await sieve(['list', 'alice'])).stdout, `boss\t${Buffer.byteLength(SCRIPT)}\tactive\nother\t6\n`);
  const account = await srv.server.store.findAccount('alice');
  assert.equal((await srv.server.store.getActiveSieveScript(account!.id))?.content, SCRIPT);
  // The same scripts over ManageSieve.
  const c = await SieveClient.login(srv.managesievePort, 'alice', 'pw');
  try {
    assert.deepEqual(new Set((await c.command('LISTSCRIPTS')).lines), new Set(['"boss" ACTIVE', '"other"']));
  } finally {
    c.close();
  }
  assert.equal((await sieve(['deactivate', 'alice'])).status, 0);
  assert.equal(await srv.server.store.getActiveSieveScript(account!.id), null);
});

test('put refuses a script with errors, printing line:column: message; check says ok or the errors', async () => {
  const bad = await sieve(['put', 'alice', 'bad'], 'require "fileinto";\nif true {\n  fileinto;\n}\n');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^3:\d+: /m);
  assert.equal((await sieve(['get', 'alice', 'bad'])).status, 1);
  assert.equal((await sieve(['check', 'alice', 'boss'])).stdout, 'ok\n');
  assert.equal((await sieve(['check', 'alice', 'nothere'])).status, 1);
});

test('delete refuses the active script (RFC 5804 §2.10); names are checked; unknown users and scripts fail', async () => {
  assert.equal((await sieve(['activate', 'alice', 'other'])).status, 0);
  const refused = await sieve(['delete', 'alice', 'other']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /active script/);
  assert.equal((await sieve(['delete', 'alice', 'boss'])).status, 0);
  assert.equal((await sieve(['list', 'alice'])).stdout, 'other\t6\tactive\n');
  assert.equal((await sieve(['activate', 'alice', 'gone'])).status, 1);
  assert.equal((await sieve(['put', 'alice', 'a\tb'], 'keep;\n')).status, 2);
  assert.equal((await sieve(['list', 'nobody'])).status, 1);
});
