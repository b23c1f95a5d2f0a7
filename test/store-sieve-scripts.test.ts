/**
 * Sieve scripts in the store, on both backends: one active per account,
 * quotas enforced in the write transaction (also under concurrent uploads),
 * rename keeps the active mark, deleting the account removes its scripts,
 * and what delivery reads: the active script and the RFC 6609 :personal
 * include resolver. Plus the RFC 5804 §1.6 name rules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../src/config/schema.js';
import { getActiveScript, includeResolver, putScript, scriptName } from '../src/mail/sieve-scripts.js';
import { SieveQuotaError } from '../src/store/shared/sieve-quota.js';
import { StoreError } from '../src/store/types.js';
import { backends } from './store-fixtures.js';

const settings = { ...configSchema.parse({}).sieve, maxScripts: 3, maxTotalSize: 100 };
const quota = { maxScripts: settings.maxScripts, maxTotalSize: settings.maxTotalSize };

for (const backend of backends) {
  describe(`Sieve scripts (${backend.name})`, () => {
    test('put, replace, activate one at a time, rename, delete; include resolver and active script', () =>
      backend.withStore(async (store) => {
        const { id } = await store.createAccount('alice', 'x');
        const other = await store.createAccount('bob', 'x');
        assert.deepEqual(await putScript(store, settings, id, 'main', 'require "include";\ninclude :personal "lib";\n', true), []);
        assert.deepEqual(await putScript(store, settings, id, 'lib', 'keep;\n'), []);
        assert.equal((await getActiveScript(store, id))?.name, 'main');
        assert.equal(await getActiveScript(store, other.id), null);
        const resolve = includeResolver(store, id);
        assert.equal(await resolve('lib', 'personal'), 'keep;\n');
        assert.equal(await resolve('lib', 'global'), null);
        assert.equal(await resolve('missing', 'personal'), null);
        // Another account's scripts are out of reach.
        assert.equal(await includeResolver(store, other.id)('lib', 'personal'), null);

        await store.setActiveSieveScript(id, 'lib');
        assert.deepEqual(
          (await store.listSieveScripts(id)).map((s) => [s.name, s.active, s.size]),
          [
            ['lib', true, 6],
            ['main', false, 44],
          ],
        );
        // Replacing keeps the active mark.
        await store.putSieveScript(id, 'lib', 'discard;\n', quota);
        assert.equal((await store.getActiveSieveScript(id))?.content, 'discard;\n');
        await store.renameSieveScript(id, 'lib', 'library');
        assert.equal((await store.getActiveSieveScript(id))?.name, 'library');
        await assert.rejects(store.renameSieveScript(id, 'library', 'main'), (e: StoreError) => e.code === 'ALREADYEXISTS');
        await assert.rejects(store.deleteSieveScript(id, 'library'), (e: StoreError) => e.code === 'INUSE');
        await assert.rejects(store.setActiveSieveScript(id, 'nope'), (e: StoreError) => e.code === 'NONEXISTENT');
        await store.setActiveSieveScript(id, null);
        await store.deleteSieveScript(id, 'library');
        await assert.rejects(store.deleteSieveScript(id, 'library'), (e: StoreError) => e.code === 'NONEXISTENT');
        // A script with errors is not stored.
        const errors = await putScript(store, settings, id, 'bad', 'fileinto "x";\n');
        assert.ok(errors.length > 0 && errors[0]!.line === 1);
        assert.equal(await store.getSieveScript(id, 'bad'), null);
        await store.deleteAccount(id);
        assert.deepEqual(await store.listSieveScripts(id), []);
      }));

    test('quotas hold under concurrent uploads', () =>
      backend.withStore(async (store) => {
        const { id } = await store.createAccount('alice', 'x');
        const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => store.putSieveScript(id, n, 'keep;\n', quota)));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as SieveQuotaError).quota, 'scripts');
        await assert.rejects(store.putSieveScript(id, 'a', `#${'x'.repeat(100)}\n`, quota), (e: SieveQuotaError) => e.quota === 'size');
        assert.equal((await store.listSieveScripts(id)).length, 3);
      }));
  });
}

test('script names (RFC 5804 §1.6): non-empty, no controls or line separators, NFC, at most 255 characters', () => {
  assert.deepEqual(scriptName('Urlaub'), { ok: true, name: 'Urlaub' });
  assert.deepEqual(scriptName('e\u0301t\u00e9'), { ok: true, name: '\u00e9t\u00e9' });
  for (const bad of ['', 'a\nb', 'a\u0000', 'a\u007f', 'a\u0085', 'a\u2028', '\ud800x', 'n'.repeat(256)])
    assert.equal(scriptName(bad).ok, false, JSON.stringify(bad));
  assert.equal(scriptName('ü'.repeat(255)).ok, true);
});
