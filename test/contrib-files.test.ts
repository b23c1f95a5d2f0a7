/**
 * The service files in contrib/: the systemd unit passes `systemd-analyze
 * verify` (when systemd is installed; .ci/run installs it) and keeps its
 * hardening; the Containerfile copies paths that exist and health-checks the
 * admin listener where the configuration puts it by default. (No registry is
 * reachable in CI, so the image itself is not built here.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = join(ROOT, 'contrib', 'mailkeep.service');
const CONTAINERFILE = join(ROOT, 'contrib', 'Containerfile');
const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** `Key=value` settings of a unit, all values of each key in order. */
function settings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

test('the systemd unit is hardened as documented', async () => {
  const s = settings(await readFile(UNIT, 'utf8'));
  const one = (key: string): string | undefined => s.get(key)?.at(-1);
  assert.equal(one('User'), 'mailkeep');
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('ReadWritePaths'), '/var/lib/mailkeep');
  assert.equal(one('StateDirectory'), 'mailkeep');
  for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome']) assert.equal(one(key), 'true', key);
  assert.equal(one('Restart'), 'on-failure');
  assert.match(one('ExecReload') ?? '', /kill -HUP \$MAINPID/);
  assert.match(one('ExecStart') ?? '', /mailkeep\.js serve$/);
});

test('systemd-analyze verify accepts the unit', { skip: ANALYZE ? false : 'systemd-analyze is not installed' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailkeep-unit-'));
  try {
    // verify checks that ExecStart's program exists: point it at this node when it lives elsewhere.
    let text = await readFile(UNIT, 'utf8');
    if (!existsSync('/usr/bin/node')) text = text.replaceAll('/usr/bin/node', process.execPath);
    const unit = join(dir, 'mailkeep.service');
    await writeFile(unit, text);
    const r = spawnSync(ANALYZE!, ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
    const ours = r.stderr.split('\n').filter((l) => l.includes('mailkeep.service'));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ours, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the Containerfile copies existing paths and health-checks the default admin port', async () => {
  const text = await readFile(CONTAINERFILE, 'utf8');
  for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const path of m[1]!.split(' ')) assert.ok(existsSync(join(ROOT, path)), `COPY ${path}`);
  }
  const { adminPort, adminHost } = configSchema.parse({});
  assert.match(text, new RegExp(`fetch\\('http://${adminHost.replaceAll('.', '\\.')}:${adminPort}/readyz'\\)`));
  assert.match(text, /^ENTRYPOINT \["node", "\/opt\/mailkeep\/bin\/mailkeep\.js"\]$/m);
});
