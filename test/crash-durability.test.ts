/**
 * Crash test (DESIGN invariant 1): SIGKILL the server at random moments while
 * several clients APPEND, STORE, MOVE and EXPUNGE; after each restart every
 * acknowledged change is there and UIDs keep growing.
 *
 * Each client works on its own pair of mailboxes with one command in flight at
 * a time, so the only uncertain change per client is the one the kill cut off.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashPassword } from '../src/auth/password.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { openStore } from '../src/store/open.js';
import { RawClient } from './helpers/raw-client.js';
import { spawnServer } from './helpers/server.js';

const ROUNDS = Number(process.env.MAILKEEP_CRASH_ROUNDS ?? 20);
const CLIENTS = 3;

/** What one client knows was acknowledged. */
interface Model {
  box: string;
  dest: string;
  /** UID in box → flags acknowledged on it. */
  present: Map<number, Set<string>>;
  /** UIDs acknowledged as moved away or expunged: must never reappear. */
  gone: Set<number>;
  /** UIDs in dest acknowledged via COPYUID. */
  moved: Set<number>;
  maxUid: number;
  /** The change in flight when the server died: either outcome is allowed. */
  uncertain: { kind: 'append' } | { kind: 'flag' | 'move' | 'expunge'; uid: number } | null;
}

let seed = 4242;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

/** Runs one client until the server dies; `ready` is called once it is logged in and selected (or failed to). */
async function work(port: number, m: Model, stop: { now: boolean }, ready: () => void): Promise<void> {
  let client: RawClient;
  try {
    client = (await RawClient.connect(port, { tls: true })).client;
    await client.command('l', 'LOGIN crash pw');
    await client.command('s', `SELECT ${m.box}`);
  } catch {
    return;
  } finally {
    ready();
  }
  let n = 0;
  try {
    while (!stop.now) {
      n++;
      const uids = [...m.present.keys()];
      const pick = uids.length ? uids[rnd(uids.length)]! : 0;
      const roll = rnd(10);
      if (pick && roll < 3) {
        const flag = `kw${rnd(5)}`;
        m.uncertain = { kind: 'flag', uid: pick };
        const r = await client.command(`f${n}`, `UID STORE ${pick} +FLAGS.SILENT (${flag})`);
        if (/BAD|NO/.test(r.tagged)) throw new Error(r.tagged);
        m.present.get(pick)!.add(flag);
      } else if (pick && roll < 5) {
        m.uncertain = { kind: 'move', uid: pick };
        const r = await client.command(`m${n}`, `UID MOVE ${pick} ${m.dest}`);
        const copyuid = /COPYUID \d+ \d+ (\d+)/.exec(r.lines.join('\n') + r.tagged);
        assert.ok(copyuid, r.tagged);
        m.present.delete(pick);
        m.gone.add(pick);
        m.moved.add(Number(copyuid[1]));
      } else if (pick && roll < 6) {
        m.uncertain = { kind: 'expunge', uid: pick };
        await client.command(`d${n}`, `UID STORE ${pick} +FLAGS.SILENT (\\Deleted)`);
        const r = await client.command(`e${n}`, `UID EXPUNGE ${pick}`);
        assert.match(r.tagged, /OK/);
        m.present.delete(pick);
        m.gone.add(pick);
      } else {
        m.uncertain = { kind: 'append' };
        const body = `Subject: crash ${n}\r\n\r\n${'x'.repeat(rnd(3000))}\r\n`;
        const r = await client.command(`a${n}`, `APPEND ${m.box} {${body.length}+}\r\n${body}`);
        const uid = Number(/APPENDUID \d+ (\d+)/.exec(r.tagged)?.[1]);
        assert.ok(uid > m.maxUid, `UID ${uid} after ${m.maxUid}`);
        m.maxUid = uid;
        m.present.set(uid, new Set());
      }
      m.uncertain = null;
    }
  } catch {
    // The server died under us: what was acknowledged is in the model.
  } finally {
    client.close();
  }
}

async function verify(port: number, models: Model[]): Promise<void> {
  const { client } = await RawClient.connect(port, { tls: true });
  await client.command('l', 'LOGIN crash pw');
  for (const m of models) {
    const r = await client.command('x', `EXAMINE ${m.box}`);
    assert.match(r.tagged, /OK/);
    const f = await client.command('f', 'FETCH 1:* (UID FLAGS)').catch(() => null);
    const found = new Map<number, string>();
    for (const line of f?.lines ?? []) {
      const mm = /UID (\d+) FLAGS \(([^)]*)\)/.exec(line);
      if (mm) found.set(Number(mm[1]), mm[2]!);
    }
    const u = m.uncertain;
    for (const [uid, flags] of m.present) {
      if (u && u.kind !== 'append' && u.kind !== 'flag' && u.uid === uid) continue;
      assert.ok(found.has(uid), `acknowledged UID ${uid} missing from ${m.box}`);
      for (const flag of flags) assert.ok(found.get(uid)!.split(' ').includes(flag), `flag ${flag} lost on ${m.box} UID ${uid}`);
    }
    for (const uid of m.gone) assert.ok(!found.has(uid), `UID ${uid} came back in ${m.box}`);
    // Found UIDs are either acknowledged, or the one uncertain APPEND.
    for (const uid of found.keys()) {
      if (!m.present.has(uid)) {
        assert.ok(u?.kind === 'append' && uid > m.maxUid, `unexpected UID ${uid} in ${m.box}`);
        m.present.set(uid, new Set());
        m.maxUid = uid;
      }
    }
    if (u && u.kind !== 'append' && u.kind !== 'flag' && !found.has(u.uid)) {
      m.present.delete(u.uid);
      m.gone.add(u.uid);
    }
    const d = await client.command('y', `STATUS ${m.dest} (MESSAGES)`);
    const count = Number(/MESSAGES (\d+)/.exec(d.lines[0] ?? '')?.[1]);
    assert.ok(count >= m.moved.size, `moved messages lost from ${m.dest}`);
    m.uncertain = null;
  }
  client.close();
}

test(`SIGKILL during writes ${ROUNDS} times loses nothing acknowledged`, { timeout: 600_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-crash-'));
  try {
    const store = await openStore({ dataDir });
    const account = await store.createAccount('crash', await hashPassword('pw', CHEAP_HASHING));
    const models: Model[] = [];
    for (let k = 0; k < CLIENTS; k++) {
      await store.createMailbox(account.id, `box${k}`);
      await store.createMailbox(account.id, `dest${k}`);
      models.push({ box: `box${k}`, dest: `dest${k}`, present: new Map(), gone: new Set(), moved: new Set(), maxUid: 0, uncertain: null });
    }
    await store.close();

    for (let round = 0; round < ROUNDS; round++) {
      const server = await spawnServer(dataDir);
      const stop = { now: false };
      const ready: Array<Promise<void>> = [];
      const workers = models.map((m) => {
        let signal!: () => void;
        ready.push(new Promise<void>((r) => (signal = r)));
        return work(server.imapsPort, m, stop, signal);
      });
      // The kill lands at a random moment of the writing, not during the (scrypt-slow) logins.
      await Promise.all(ready);
      await new Promise((r) => setTimeout(r, 50 + rnd(400)));
      server.child.kill('SIGKILL');
      await server.exited;
      stop.now = true;
      await Promise.all(workers);

      const check = await spawnServer(dataDir);
      try {
        await verify(check.imapsPort, models);
      } finally {
        check.child.kill('SIGTERM');
        await check.exited;
      }
    }
    const total = models.reduce((n, m) => n + m.present.size + m.gone.size, 0);
    assert.ok(total > ROUNDS, `too little work was done (${total} messages)`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
