/**
 * Web admin sign-ins kept in the store (web/admin/ui/sign-ins.ts), on both
 * backends: a cookie value finds its sign-in through its SHA-256, expires
 * after SIGN_IN_TTL_MS, ends at once when signed out (for every SignIns on
 * the same store, as for every worker), expired rows are pruned at the next
 * sign-in, and a TOTP step is accepted once per admin (RFC 6238 §5.2).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { SIGN_IN_TTL_MS, SignIns } from '../src/web/admin/ui/sign-ins.js';
import { backends } from './store-fixtures.js';

for (const backend of backends) {
  describe(`${backend.name} store: web admin sign-ins`, () => {
    test('shared by every SignIns on the store, expiring, ended by sign-out, pruned', () =>
      backend.withStore(async (store) => {
        let now = Date.now();
        const one = new SignIns(store, () => now);
        const two = new SignIns(store, () => now);
        const id = await one.create('root');
        const s = await two.get(id);
        assert.equal(s?.user, 'root');
        assert.match(s?.csrf ?? '', /^[\w-]{43}$/);
        // The store holds the hash, not the cookie.
        assert.equal(await store.findAdminSignIn(id), null);
        assert.equal((await store.findAdminSignIn(createHash('sha256').update(id).digest('hex')))?.user, 'root');
        assert.equal(await two.get(undefined), null);
        assert.equal(await two.get('x'.repeat(10_000)), null);

        const other = await one.create('ops');
        await two.end(id);
        assert.equal(await one.get(id), null);
        assert.equal((await one.get(other))?.user, 'ops');

        now += SIGN_IN_TTL_MS + 1;
        assert.equal(await one.get(other), null);
        // Expired rows go at the next sign-in: storing the same key again succeeds only if the old row was pruned.
        const expired = { user: 'old', csrf: 'c', expiresAt: new Date(Date.now() - 1) };
        await store.addAdminSignIn('expired-key', expired);
        await store.addAdminSignIn('expired-key', { ...expired, expiresAt: new Date(Date.now() + 60_000) });
        assert.equal((await store.findAdminSignIn('expired-key'))?.user, 'old');
      }));

    test('a TOTP step is accepted once per admin, and only later ones after it', () =>
      backend.withStore(async (store) => {
        await store.addAdminUser('root', 'hash', 'SECRET');
        await store.addAdminUser('ops', 'hash', 'SECRET');
        const signIns = new SignIns(store);
        assert.equal(await signIns.useStep('root', 100), true);
        assert.equal(await signIns.useStep('root', 100), false);
        assert.equal(await signIns.useStep('root', 99), false);
        assert.equal(await signIns.useStep('ops', 100), true);
        assert.equal(await signIns.useStep('root', 101), true);
        assert.equal(await signIns.useStep('nobody', 102), false);
      }));
  });
}
