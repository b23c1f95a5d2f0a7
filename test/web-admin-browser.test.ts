/**
 * The web admin (/admin/ on the admin listener) in headless Chromium with
 * JavaScript disabled: sign-in with password and TOTP, the dashboard, creating
 * an account, seeing it log in over IMAP on the dashboard and in sessions,
 * kicking it (the client sees * BYE), resetting its password, the audit log;
 * a form posted from another origin is refused. Screenshots go to
 * $MAILKEEP_TEST_ARTIFACTS (default: a directory under the system tmp).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { Administration } from '../src/auth/administration.js';
import { totpCode } from '../src/auth/totp.js';
import { CHEAP_HASHING } from './helpers/cheap-hashing.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

const ARTIFACTS = process.env.MAILKEEP_TEST_ARTIFACTS ?? join(tmpdir(), 'mailkeep-test-artifacts');
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let srv: TestServer;
let base: string;
let secret: string;
let profile: string;
let context: BrowserContext;
let page: Page;
let evil: Server;

before(async () => {
  srv = await startTestServer({ adminPort: await freePort(), authThrottle: { passwordHashCost: 10 } });
  base = `http://127.0.0.1:${srv.server.ports.admin}`;
  secret = await new Administration(srv.server.store, { actor: 'cli:test', address: 'local' }, CHEAP_HASHING).addAdminUser('root', 'pw-root');
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), 'mailkeep-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    javaScriptEnabled: false,
    timeout: 60_000,
  });
  context.setDefaultTimeout(30_000);
  page = context.pages()[0] ?? (await context.newPage());
  // Another origin (another host name and port) with a form aimed at the web admin.
  evil = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(
      `<form method="post" action="${base}/admin/accounts"><input name="name" value="mallory"><input name="password" value="pw"><input name="csrf" value="guess"><button id="go">go</button></form>`,
    );
  });
  await new Promise<void>((resolve) => evil.listen(0, 'localhost', resolve));
});

after(async () => {
  await context?.close();
  await new Promise((r) => evil?.close(r));
  await srv?.stop();
  await rm(profile, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `web-admin-${name}.png`), fullPage: true });

/** The next TOTP code not yet used (a code is accepted once: RFC 6238 §5.2). */
async function freshCode(used: Set<string>): Promise<string> {
  for (let i = 0; i < 70; i++) {
    const code = totpCode(secret);
    if (!used.has(code)) {
      used.add(code);
      return code;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('no fresh TOTP code');
}

test('sign in with password and TOTP; manage an account and its live IMAP session; a cross-origin form is refused', { timeout: 240_000 }, async () => {
  const used = new Set<string>();
  const response = await page.goto(`${base}/admin/`);
  assert.match(page.url(), /\/admin\/login$/);
  assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'/);

  // A wrong code is refused even with the right password.
  await page.fill('input[name=name]', 'root');
  await page.fill('input[name=password]', 'pw-root');
  await page.fill('input[name=code]', totpCode(secret) === '000000' ? '111111' : '000000');
  await page.click('button[type=submit]');
  assert.match((await page.textContent('.error')) ?? '', /Wrong name, password or code/);

  await page.fill('input[name=name]', 'root');
  await page.fill('input[name=password]', 'pw-root');
  await page.fill('input[name=code]', await freshCode(used));
  await page.click('button[type=submit]');
  assert.match(page.url(), /\/admin\/$/);
  assert.equal(await page.textContent('h1'), 'Dashboard');
  const cookie = (await context.cookies()).find((c) => c.name === 'mailkeep_admin');
  assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict');
  await shot('1-dashboard');

  // Create an account.
  await page.goto(`${base}/admin/accounts`);
  await page.fill('form[method=post][action="/admin/accounts"] input[name=name]', 'walt');
  await page.fill('form[method=post][action="/admin/accounts"] input[name=password]', 'pw-walt');
  await page.click('form[method=post][action="/admin/accounts"] button');
  assert.match((await page.textContent('.notice')) ?? '', /Created walt/);
  await shot('2-account-created');

  // It logs in over IMAP: the dashboard and the sessions page show it.
  const imap = await RawClient.login(srv.imapsPort, 'walt', 'pw-walt');
  try {
    assert.match((await imap.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    await page.goto(`${base}/admin/`);
    assert.match((await page.textContent('main')) ?? '', /Logged in now: walt/);
    assert.match((await page.textContent('#connections')) ?? '', /imap\s*1\s*1\s*1/);
    // The login counter of this process rose by walt's login (the suite's other servers in this process add theirs too).
    assert.match((await page.textContent('#activity')) ?? '', /logins\s*[1-9]/);
    await shot('3-dashboard-walt');
    await page.goto(`${base}/admin/sessions`);
    const row = page.locator('#sessions tr', { hasText: 'walt' });
    assert.match((await row.textContent()) ?? '', /INBOX/);
    await shot('4-sessions');
    await row.locator('button', { hasText: 'Kick' }).click();
    assert.match((await page.textContent('.notice')) ?? '', /Session ended/);
    assert.match(await imap.readLine(10_000), /^\* BYE Session ended by the administrator/);
  } finally {
    imap.close();
  }

  // Reset its password: the new one works, the old one not.
  await page.goto(`${base}/admin/accounts/walt`);
  await page.fill('form[action="/admin/accounts/walt/password"] input[name=password]', 'new-walt');
  await page.click('form[action="/admin/accounts/walt/password"] button');
  assert.match((await page.textContent('.notice')) ?? '', /Password changed/);
  await shot('5-password-reset');
  (await RawClient.login(srv.imapsPort, 'walt', 'new-walt')).close();
  await assert.rejects(RawClient.login(srv.imapsPort, 'walt', 'pw-walt'));

  // The audit log names the web admin.
  await page.goto(`${base}/admin/audit`);
  const audit = (await page.textContent('#audit')) ?? '';
  for (const line of [
    /admin:root\s*account\.create\s*walt/,
    /admin:root\s*session\.kick/,
    /admin:root\s*account\.password\s*walt/,
    /admin:root\s*admin\.sign-in/,
  ]) {
    assert.match(audit, line);
  }
  await shot('6-audit');

  // A form on another origin posting to the web admin is refused, and nothing is created.
  const port = (evil.address() as { port: number }).port;
  await page.goto(`http://localhost:${port}/`);
  const refused = await Promise.all([page.waitForNavigation(), page.click('#go')]).then(() => page);
  assert.equal(await refused.textContent('h1'), 'Forbidden');
  await shot('7-csrf-refused');
  assert.equal(await srv.server.store.findAccount('mallory'), null);
  // Same origin without the session's CSRF token: refused too.
  const forged = await context.request.post(`${base}/admin/accounts`, { form: { name: 'mallory', password: 'pw', csrf: 'guess' } });
  assert.equal(forged.status(), 403);
  assert.equal(await srv.server.store.findAccount('mallory'), null);

  // Signing out ends the session.
  await page.goto(`${base}/admin/`);
  await page.click('nav button');
  assert.match(page.url(), /\/admin\/login$/);
  await page.goto(`${base}/admin/accounts`);
  assert.match(page.url(), /\/admin\/login$/);
});
