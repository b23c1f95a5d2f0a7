import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AuthThrottle, addressKey, type ThrottleSettings } from '../src/auth/throttle.js';
import { configSchema } from '../src/config/schema.js';

const DEFAULTS: ThrottleSettings = configSchema.parse({}).authThrottle;

function setup(overrides: Partial<ThrottleSettings> = {}): { t: AuthThrottle; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { t: new AuthThrottle({ ...DEFAULTS, ...overrides }, () => clock.now), clock };
}

describe('auth throttle', () => {
  it('grows the delay after each failure: 0, 0, 1 s, 2 s, 4 s, 8 s, then capped at 15 s', () => {
    const { t } = setup({ maxFailuresPerIp: 100, maxFailuresPerAccount: 100 });
    const delays = Array.from({ length: 8 }, () => t.fail('192.0.2.1', 'alice'));
    assert.deepEqual(delays, [0, 0, 1000, 2000, 4000, 8000, 15000, 15000]);
    assert.deepEqual(t.check('192.0.2.1', 'alice'), { refuse: false, delayMs: 15000 });
  });

  it('counts per address across account names and refuses at 10 failures per window', () => {
    const { t, clock } = setup();
    for (let i = 0; i < 9; i++) t.fail('192.0.2.1', `user${i}`);
    assert.equal(t.check('192.0.2.1', 'new').refuse, false);
    t.fail('192.0.2.1', 'user9');
    assert.equal(t.check('192.0.2.1', 'new').refuse, true);
    assert.equal(t.check('192.0.2.2', 'new').refuse, false, 'other addresses are unaffected');
    clock.now += 299_000;
    assert.equal(t.check('192.0.2.1', 'new').refuse, true, 'still inside the 5-minute window');
    clock.now += 1_000;
    assert.deepEqual(t.check('192.0.2.1', 'new'), { refuse: false, delayMs: 0 }, 'the window has ended');
  });

  it('counts per account across addresses and refuses at 20 failures', () => {
    const { t } = setup();
    for (let i = 0; i < 20; i++) t.fail(`198.51.100.${i}`, 'Victim');
    assert.equal(t.check('203.0.113.9', 'victim').refuse, true, 'names compare case-insensitively');
    assert.equal(t.check('203.0.113.9', 'someone-else').refuse, false);
  });

  it('forgives the account on success but not the address', () => {
    const { t } = setup();
    for (let i = 0; i < 5; i++) t.fail('192.0.2.1', 'alice');
    t.succeed('192.0.2.1', 'alice');
    assert.equal(t.check('192.0.2.77', 'alice').delayMs, 0, 'account counter reset');
    assert.equal(t.check('192.0.2.1', 'bob').delayMs, 4000, 'address still has 5 failures');
  });

  it('keeps memory bounded by evicting the least recently failed keys', () => {
    const { t } = setup({ maxEntries: 3 });
    for (let i = 1; i <= 10; i++) t.fail(`10.0.0.${i}`, `u${i}`);
    assert.deepEqual(t.size, { ips: 3, accounts: 3 });
    for (let i = 0; i < 9; i++) t.fail('10.0.0.10', 'u10');
    assert.equal(t.check('10.0.0.10', 'x').refuse, true, 'the most recent key survives');
    t.fail('10.0.0.11', 'u11');
    t.fail('10.0.0.12', 'u12');
    t.fail('10.0.0.13', 'u13');
    assert.equal(t.check('10.0.0.10', 'x').refuse, false, 'evicted once three newer keys failed');
  });

  it('drops expired entries when met', () => {
    const { t, clock } = setup();
    t.fail('192.0.2.1', 'alice');
    t.fail('192.0.2.1', 'alice');
    t.fail('192.0.2.1', 'alice');
    clock.now += 300_000;
    assert.equal(t.fail('192.0.2.1', 'alice'), 0, 'a new window starts from zero');
  });

  it('bounds account keys: very long names share their prefix', () => {
    const { t } = setup({ maxFailuresPerAccount: 1 });
    t.fail('192.0.2.1', `${'a'.repeat(256)}x`);
    assert.equal(t.check('192.0.2.2', `${'a'.repeat(256)}y`).refuse, true);
  });
});

describe('addressKey', () => {
  it('keeps IPv4, unmaps IPv4-mapped IPv6 and reduces IPv6 to its /64', () => {
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('::FFFF:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:0db8:0000:0000:ffff:1:2:3'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:db8:1:2:3::'), '2001:db8:1:2::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('1::5:6:7:1.2.3.4'), '1:0:0:5::/64');
  });

  it('throttles a whole IPv6 /64 together', () => {
    const { t } = setup();
    for (let i = 1; i <= 10; i++) t.fail(`2001:db8:aa:bb::${i.toString(16)}`, `u${i}`);
    assert.equal(t.check('2001:db8:aa:bb:ffff:ffff:ffff:ffff', 'new').refuse, true);
    assert.equal(t.check('2001:db8:aa:bc::1', 'new').refuse, false);
  });
});
