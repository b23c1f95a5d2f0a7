/**
 * The benchmark's mixed workload (bench/mixed-workload.ts), short: ten
 * clients on four accounts for about eight seconds against mailkeep, every
 * reply checked by the session checker; no reply may break an ordering rule.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mixedUsers, prepareAccounts, runMixedWorkload } from '../bench/mixed-workload.js';
import { formatViolation } from './helpers/imap-session-checker.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'pw';
const USERS = mixedUsers(4);

let srv: TestServer;

before(async () => {
  // The benchmark client logs in over plain TCP, as it does against the benchmark servers.
  srv = await startTestServer({ plaintextAuth: { trustedNetworks: ['127.0.0.1/32'] } });
  for (const u of USERS) await srv.addUser(u, PASSWORD);
  await prepareAccounts(srv.imapPort, USERS, PASSWORD, 20);
});
after(async () => srv.stop());

test('ten clients on four accounts for eight seconds: no ordering rule broken', async () => {
  const r = await runMixedWorkload({ port: srv.imapPort, users: USERS, password: PASSWORD, clients: 10, seconds: 8, maxCommandsPerClient: 2000, seed: 16 });
  assert.ok(r.commands > 0);
  assert.equal(r.bad, 0, 'no command of the workload is malformed');
  const shown = r.violations.slice(0, 10).map(formatViolation).join('\n');
  assert.deepEqual(r.byKind, {}, `${Object.values(r.byKind).reduce((a, b) => a + b, 0)} violations, the first:\n${shown}`);
});
