/**
 * mbsync (Debian's isync) syncs a mailbox tree both ways with mailkeep over
 * IMAPS (trusting the server's self-signed certificate), as a user's offline mail setup would: it relies on UIDPLUS and uses
 * CONDSTORE where offered. Skipped with a message when mbsync is missing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hasMbsync, runMbsync } from './helpers/mbsync.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let dir: string;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('offline', 'pw');
  dir = mkdtempSync(join(tmpdir(), 'mailkeep-mbsync-'));
});
after(async () => {
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
});

const mbsync = (): Promise<string> => runMbsync(srv, dir, { user: 'offline', pass: 'pw' });

/** Message files in a local Maildir folder (cur and new). */
function localMessages(folder: string): string[] {
  const base = join(dir, 'mail', folder);
  return ['cur', 'new'].flatMap((sub) => {
    try {
      return readdirSync(join(base, sub)).map((f) => join(base, sub, f));
    } catch {
      return [];
    }
  });
}

test('mbsync pulls a tree, pushes local changes back, and a second run is a no-op', { skip: hasMbsync ? false : 'mbsync (isync) not installed' }, async () => {
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  await client.command('l', 'LOGIN offline pw');
  await client.command('c', 'CREATE Projects/Alpha');
  for (const [box, subject] of [
    ['INBOX', 'hello'],
    ['INBOX', 'second'],
    ['Projects/Alpha', 'plan'],
  ] as const) {
    const msg = `From: a@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.com>\r\n\r\n${subject} body\r\n`;
    await client.command('a', `APPEND ${box} (\\Flagged) {${msg.length}+}\r\n${msg}`);
  }
  mkdirSync(join(dir, 'mail'), { recursive: true });

  await mbsync();
  assert.equal(localMessages('INBOX').length, 2);
  assert.equal(localMessages('Projects/Alpha').length, 1);
  assert.ok(
    localMessages('INBOX').every((f) => /:2,[A-Z]*F/.test(f)),
    'flags come down',
  );

  // Local changes: a new message in a new folder, a flag, a deletion.
  const sent = join(dir, 'mail', 'Notes');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(sent, sub), { recursive: true });
  writeFileSync(join(sent, 'new', '1700000000.1.host'), 'From: me@example.com\r\nSubject: local note\r\n\r\nwritten offline\r\n');
  const [first, second] = localMessages('INBOX');
  renameSync(first!, first!.replace(/:2,([A-Z]*)$/, ':2,$1S'));
  renameSync(second!, second!.replace(/:2,([A-Z]*)$/, ':2,$1T'));
  await mbsync();

  let r = await client.command('s', 'SELECT Notes');
  assert.match(r.tagged, /OK/);
  assert.ok(r.lines.includes('* 1 EXISTS'));
  r = await client.command('f', 'FETCH 1 BODY.PEEK[]');
  assert.match(r.lines[0]!, /written offline/);
  r = await client.command('s2', 'SELECT INBOX');
  r = await client.command('f2', 'FETCH 1:* (FLAGS)');
  const flags = r.lines.join('\n');
  assert.match(flags, /\\Seen/);
  assert.equal(r.lines.filter((l) => / FETCH /.test(l)).length, 1, 'the trashed message was expunged on the server');

  const out = await mbsync();
  assert.doesNotMatch(out, /error/i);
  client.close();
});
