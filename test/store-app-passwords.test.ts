/**
 * The app-password role of both stores (store/app-password-types.ts): live
 * names unique per account (case-insensitively), an expired name given up to
 * a new one, the live limit, retired ones trimmed to the newest few, ids never
 * reused, revocation and require-app-passwords announced on the account's
 * channel, and last use recorded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACCOUNT_CHANNEL } from '../src/events/change-bus.js';
import type { AccountId } from '../src/ids.js';
import { StoreError, type MailStore, type NewAppPassword } from '../src/store/types.js';
import { backends } from './store-fixtures.js';

const LIMITS = { maxLive: 3, keepRetired: 2 };
const entry = (name: string, expiresAt: Date | null = null): NewAppPassword => ({
  name,
  lookup: name.slice(0, 4),
  hash: `hash of ${name}`,
  protocols: ['imap', 'pop3'],
  expiresAt,
});
const code = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err instanceof StoreError ? err.code : String(err)),
  );

/** Resolves with the account channel's next wake-up. */
function nextWake(store: MailStore, accountId: AccountId): Promise<void> {
  return new Promise((resolve) => {
    const off = store.bus.subscribe(accountId, ACCOUNT_CHANNEL, () => {
      off();
      resolve();
    });
  });
}

for (const backend of backends) {
  describe(`${backend.name} store: app passwords`, () => {
    test('names, limits, expiry, trimming and ids', () =>
      backend.withStore(async (store) => {
        const { id } = await store.createAccount('ann', 'x');
        const t0 = new Date('2030-01-01T00:00:00Z');
        const later = (s: number): Date => new Date(t0.getTime() + s * 1000);
        const phone = await store.addAppPassword(id, entry('Phone'), t0, LIMITS);
        assert.deepEqual([phone.name, phone.protocols, phone.revokedAt, phone.lastUsed], ['Phone', ['imap', 'pop3'], null, null]);
        assert.equal(await code(store.addAppPassword(id, entry('phone'), t0, LIMITS)), 'ALREADYEXISTS');
        // An expired one gives its name up.
        await store.addAppPassword(id, entry('Short', later(10)), t0, LIMITS);
        const again = await store.addAppPassword(id, entry('short'), later(20), LIMITS);
        await store.addAppPassword(id, entry('Third'), later(20), LIMITS);
        assert.equal(await code(store.addAppPassword(id, entry('Fourth'), later(20), LIMITS)), 'LIMIT');

        const revoked = await store.revokeAppPassword(id, 'PHONE', later(30), LIMITS);
        assert.deepEqual(revoked.revokedAt, later(30));
        assert.equal(await code(store.revokeAppPassword(id, 'Phone', later(30), LIMITS)), 'NONEXISTENT');
        const fourth = await store.addAppPassword(id, entry('Fourth'), later(40), LIMITS);
        await store.revokeAppPassword(id, 'Third', later(50), LIMITS);
        // Retired: Short (expired, then given up), Phone and Third (revoked); the newest two are kept.
        const listed = await store.listAppPasswords(id);
        assert.deepEqual(
          listed.map((p) => [p.name, p.revokedAt !== null]),
          [
            ['Phone', true],
            ['short', false],
            ['Third', true],
            ['Fourth', false],
          ],
        );
        const ids = listed.map((p) => p.id);
        assert.ok(fourth.id > again.id && again.id > phone.id, JSON.stringify(ids));
        assert.equal(await code(store.addAppPassword(999_999 as AccountId, entry('X'), t0, LIMITS)), 'NONEXISTENT');

        await store.recordAppPasswordUse(id, fourth.id, { at: later(60), protocol: 'pop3', address: '192.0.2.7' });
        const used = (await store.listAppPasswords(id)).find((p) => p.id === fourth.id);
        assert.deepEqual(used?.lastUsed, { at: later(60), protocol: 'pop3', address: '192.0.2.7' });
      }));

    test('revocation, require-app-passwords and disabling wake the account channel', () =>
      backend.withStore(async (store) => {
        const { id } = await store.createAccount('ben', 'x');
        await store.addAppPassword(id, entry('Phone'), new Date(), LIMITS);
        let woken = nextWake(store, id);
        await store.revokeAppPassword(id, 'Phone', new Date(), LIMITS);
        await woken;
        woken = nextWake(store, id);
        await store.setRequireAppPasswords(id, true);
        await woken;
        assert.equal((await store.getAccount(id))?.requireAppPasswords, true);
        woken = nextWake(store, id);
        await store.setDisabled(id, true);
        await woken;
        assert.equal(await code(store.setRequireAppPasswords(999_999 as AccountId, true)), 'NONEXISTENT');
        // Deleting the account takes its app passwords along.
        await store.deleteAccount(id);
        assert.deepEqual(await store.listAppPasswords(id), []);
      }));
  });
}
