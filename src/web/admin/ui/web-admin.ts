/**
 * The web admin at /admin/ on the admin listener: server-rendered pages that
 * work without JavaScript (dashboard, accounts, sessions with kick, audit),
 * signed in with a web admin account's password and TOTP code.
 *
 * Invariants: every change is a POST carrying the session's CSRF token and,
 * when the browser names it, an Origin equal to this listener's; the session
 * cookie is HttpOnly and SameSite=Strict (and Secure over TLS); every page
 * has a Content-Security-Policy that allows no script, no inline style and
 * no framing. Changes go through auth/administration.ts as `admin:NAME`, so
 * they are validated and audited as the CLI's and the API's are. Sign-in
 * failures count in the login throttle of the address.
 */
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AdminError, Administration, type AdminStoreRoles, parseQuotaLimit } from '../../../auth/administration.js';
import { BUSY } from '../../../auth/hash-gate.js';
import { type PasswordHashing, verifyPassword } from '../../../auth/password.js';
import type { AuthThrottle } from '../../../auth/throttle.js';
import { verifyTotp } from '../../../auth/totp.js';
import { normalizeAddress } from '../../../net/address.js';
import { KICK_REASON } from '../api-accounts.js';
import { fromCursor, page as pageOf } from '../paging.js';
import type { ServerReport } from '../server-report.js';
import type { Responder, SessionDirectory, SessionListing } from '../session-directory.js';
import { buttonForm, csrfField, type Html, html, page, STYLE } from './html.js';
import { csrfMatches, SESSION_COOKIE, SIGN_IN_TTL_MS, type SignIn, SignIns } from './sign-ins.js';
import type { MetricsText } from '../../../metrics/cluster-metrics.js';
import { activityOf } from '../../../metrics/metrics.js';

/** What the web admin needs from the server. */
export interface WebAdminDeps {
  store: AdminStoreRoles;
  /** The metrics /metrics serves (every worker's with several): the dashboard's activity totals; null with metrics off. */
  metrics: (() => Promise<MetricsText>) | null;
  sessions: SessionDirectory;
  throttle: AuthThrottle;
  hashing: PasswordHashing;
  /** The admin listener speaks TLS: cookies get Secure. */
  secureCookies: boolean;
  report(): Promise<ServerReport>;
  log: Logger;
}

const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const PAGE_SIZE = 50;
/** Sessions shown at most on one page. */
const MAX_SESSIONS_SHOWN = 1000;
/** Sessions counted at most on the dashboard (above limits.max-connections' default). */
const MAX_SESSIONS_COUNTED = 100_000;
/** Notices come back in the query string: kept short. */
const MAX_NOTICE = 200;

type Form = Record<string, string | undefined>;

/** The request's own origin as a browser would send it. */
function ownOrigin(request: FastifyRequest, secure: boolean): string {
  return `${secure ? 'https' : 'http'}://${request.headers.host ?? ''}`;
}

const redirectWith = (path: string, key: 'notice' | 'error', text: string): string =>
  `${path}${path.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(text.slice(0, MAX_NOTICE))}`;

const when = (d: Date | string | null | undefined): string => (d ? new Date(d).toISOString().replace('T', ' ').slice(0, 19) : '—');
const limitText = (n: number | null): string => (n === null ? 'none' : String(n));

/** Registers /admin/ on the admin app. */
export function registerWebAdmin(app: FastifyInstance, deps: WebAdminDeps): void {
  const signIns = new SignIns(deps.store);
  const { store, sessions } = deps;

  app.register(
    async (ui) => {
      await ui.register(cookie);
      await ui.register(formbody, { bodyLimit: 16 * 1024 });
      ui.addHook('onSend', async (_request, reply) => {
        reply.header('content-security-policy', CSP);
        reply.header('x-frame-options', 'DENY');
        reply.header('x-content-type-options', 'nosniff');
        // Not no-referrer: Chromium then sends `Origin: null` on our own forms, and the Origin check refuses them.
        reply.header('referrer-policy', 'same-origin');
        reply.header('cache-control', 'no-store');
      });

      const session = (request: FastifyRequest): Promise<SignIn | null> => signIns.get(request.cookies[SESSION_COOKIE]);
      const address = (request: FastifyRequest): string => normalizeAddress(request.socket.remoteAddress);
      const send = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);

      /** A page for signed-in administrators; others are sent to the sign-in form. */
      const view = (path: string, render: (s: SignIn, request: FastifyRequest) => Promise<{ title: string; content: Html }>) =>
        ui.get(path, async (request, reply) => {
          const s = await session(request);
          if (s === null) return reply.redirect('/admin/login', 303);
          const { title, content } = await render(s, request);
          const q = request.query as Form;
          return send(reply, 200, page(title, content, { user: s.user, csrf: s.csrf, notice: q.notice, error: q.error }));
        });

      /** A change: CSRF and Origin checked; the result is a redirect (Post/Redirect/Get) with a notice or the refusal. */
      const action = (
        path: string,
        act: (admin: Administration, form: Form, params: Form) => Promise<{ to: string; notice: string }>,
        back: (params: Form) => string,
      ) =>
        ui.post(path, async (request, reply) => {
          const s = await session(request);
          const form = (request.body ?? {}) as Form;
          const origin = request.headers.origin;
          if (s === null || !csrfMatches(s, form.csrf) || (origin !== undefined && origin !== ownOrigin(request, deps.secureCookies))) {
            return send(reply, 403, page('Forbidden', html`<p>This form has expired or came from another site. <a href="/admin/">Start again</a>.</p>`));
          }
          const params = request.params as Form;
          const admin = new Administration(store, { actor: `admin:${s.user}`, address: address(request) }, deps.hashing);
          try {
            const { to, notice } = await act(admin, form, params);
            return reply.redirect(redirectWith(to, 'notice', notice), 303);
          } catch (err) {
            if (!(err instanceof AdminError)) throw err;
            return reply.redirect(redirectWith(back(params), 'error', err.message), 303);
          }
        });

      ui.get('/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLE));

      ui.get('/login', async (request, reply) => {
        const q = request.query as Form;
        return send(
          reply,
          200,
          page(
            'Sign in',
            html`<form method="post" action="/admin/login">
<label>Name <input name="name" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<label>Code from your authenticator app <input name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required></label>
<button type="submit">Sign in</button></form>`,
            { error: q.error },
          ),
        );
      });

      ui.post('/login', async (request, reply) => {
        const form = (request.body ?? {}) as Form;
        const origin = request.headers.origin;
        if (origin !== undefined && origin !== ownOrigin(request, deps.secureCookies))
          return send(reply, 403, page('Forbidden', html`<p>Sign in from this site.</p>`));
        const name = (form.name ?? '').slice(0, 64);
        const ip = address(request);
        const admission = await deps.throttle.begin(ip, `admin:${name}`);
        if (!admission.admit) return reply.redirect(redirectWith('/admin/login', 'error', 'Too many failed attempts; try again later.'), 303);
        let ok: boolean | typeof BUSY = false;
        try {
          const user = await store.findAdminUser(name);
          // An unknown name still costs one hash (auth/password.ts), so timing does not tell which names exist.
          ok = await deps.throttle.hashes.run(ip, admission.clean, () => verifyPassword(form.password ?? '', user?.passwordHash ?? null, deps.hashing));
          if (ok === true && user) {
            const step = verifyTotp(user.totpSecret, form.code ?? '');
            ok = step !== null && (await signIns.useStep(user.name, step));
          }
        } finally {
          const delay = await deps.throttle.finish(admission, ok === BUSY ? 'abandoned' : ok ? 'succeeded' : 'failed');
          if (ok === false && delay > 0) await new Promise((r) => setTimeout(r, delay));
        }
        if (ok !== true) {
          deps.log.info({ admin: name, ip }, 'web admin sign-in failed');
          return reply.redirect(redirectWith('/admin/login', 'error', ok === BUSY ? 'The server is busy; try again.' : 'Wrong name, password or code.'), 303);
        }
        const id = await signIns.create(name);
        reply.setCookie(SESSION_COOKIE, id, {
          path: '/admin',
          httpOnly: true,
          sameSite: 'strict',
          secure: deps.secureCookies,
          maxAge: SIGN_IN_TTL_MS / 1000,
        });
        await store.recordAudit({ at: new Date(), actor: `admin:${name}`, action: 'admin.sign-in', target: null, address: ip, outcome: 'ok' });
        return reply.redirect('/admin/', 303);
      });

      ui.post('/logout', async (request, reply) => {
        const s = await session(request);
        const form = (request.body ?? {}) as Form;
        if (s !== null && csrfMatches(s, form.csrf)) await signIns.end(request.cookies[SESSION_COOKIE]);
        reply.clearCookie(SESSION_COOKIE, { path: '/admin' });
        return reply.redirect('/admin/login', 303);
      });

      view('/', async () => {
        const [report, live, accounts, storage, activity] = await Promise.all([
          deps.report(),
          sessions.list({}, MAX_SESSIONS_COUNTED),
          store.accountPage(null, 1001, null),
          store.storageSize(),
          // A worker that does not answer leaves the totals out rather than show a part as the whole.
          deps.metrics === null
            ? ('off' as const)
            : deps.metrics().then(
                (m) => activityOf(m.text),
                () => null,
              ),
        ]);
        const count = (counts: Record<string, number>, key: string): number => counts[key] ?? 0;
        const byProtocol = new Map<string, { total: number; tls: number; users: number }>();
        for (const s of live.sessions) {
          const row = byProtocol.get(s.protocol) ?? { total: 0, tls: 0, users: 0 };
          row.total++;
          if (s.tls) row.tls++;
          if (s.user) row.users++;
          byProtocol.set(s.protocol, row);
        }
        const certs = report.certificates.certificates;
        return {
          title: 'Dashboard',
          content: html`<h2>Connections</h2>
<table id="connections"><tr><th>protocol</th><th class="num">connections</th><th class="num">over TLS</th><th class="num">logged in</th></tr>
${[...byProtocol].map(([p, r]) => html`<tr><td>${p}</td><td class="num">${r.total}</td><td class="num">${r.tls}</td><td class="num">${r.users}</td></tr>`)}
</table>
<p>Logged in now: ${loggedIn(live.sessions)}</p>
<h2>Activity since start</h2>
${
  activity === 'off'
    ? html`<p>Not recorded: metrics are off (<code>[admin] metrics = false</code>).</p>`
    : activity === null
      ? html`<p>Not available: a worker did not answer in time.</p>`
      : html`<table id="activity"><tr><td>logins</td><td class="num">${count(activity.logins, 'succeeded')}</td></tr>
<tr><td>failed logins</td><td class="num">${count(activity.logins, 'failed')}</td></tr>
<tr><td>logins refused by the throttle</td><td class="num">${count(activity.logins, 'throttled')}</td></tr>
<tr><td>messages delivered (LMTP recipients)</td><td class="num">${count(activity.deliveries, 'stored')}</td></tr>
<tr><td>deliveries refused (quota, size, errors, Sieve reject, unknown recipients)</td><td class="num">${count(activity.deliveries, 'over_quota') + count(activity.deliveries, 'too_big') + count(activity.deliveries, 'failed') + count(activity.deliveries, 'rejected') + activity.rejections}</td></tr></table>`
}
<h2>Server</h2>
<table><tr><td>version</td><td>${report.version}</td></tr><tr><td>up since</td><td>${when(report.startedAt)} (${Math.floor(report.uptimeSeconds / 60)} min)</td></tr>
<tr><td>accounts</td><td>${accounts.length > 1000 ? 'over 1000' : accounts.length}</td></tr>
<tr><td>store</td><td>${report.store.kind}: database ${storage.databaseBytes} bytes, messages ${storage.blobBytes} bytes</td></tr></table>
<h2>Certificates</h2>
<table><tr><th>names</th><th>source</th><th>expires</th><th class="num">days left</th></tr>
${certs.map((c) => html`<tr><td>${c.names.join(', ')}</td><td>${c.source}</td><td>${when(c.notAfter)}</td><td class="num">${Math.floor((Date.parse(c.notAfter) - Date.now()) / 86_400_000)}</td></tr>`)}
</table>`,
        };
      });

      view('/accounts', async (s, request) => {
        const q = request.query as Form;
        const search = (q.q ?? '').slice(0, 255);
        const cursor = q.cursor !== undefined && /^[A-Za-z0-9_-]{1,1400}$/.test(q.cursor) ? fromCursor(q.cursor) : undefined;
        const { items, next } = pageOf(await store.accountPage(cursor ?? null, PAGE_SIZE + 1, search || null), PAGE_SIZE, (a) => a.name.toLowerCase());
        return {
          title: 'Accounts',
          content: html`<form method="get" action="/admin/accounts"><label>Search <input name="q" value="${search}"></label><button type="submit">Search</button></form>
<table id="accounts"><tr><th>name</th><th>state</th><th>last login</th></tr>
${items.map((a) => html`<tr><td><a href="/admin/accounts/${encodeURIComponent(a.name)}">${a.name}</a></td><td>${a.disabled ? 'disabled' : 'enabled'}</td><td>${a.lastLogin ? `${when(a.lastLogin.at)} ${a.lastLogin.protocol} from ${a.lastLogin.address}` : 'never'}</td></tr>`)}
</table>
${next ? html`<p><a href="/admin/accounts?q=${encodeURIComponent(search)}&amp;cursor=${next}">Next page</a></p>` : ''}
<form method="post" action="/admin/accounts"><fieldset><legend>New account</legend>${csrfField(s.csrf)}
<label>Name <input name="name" required></label><label>Password <input name="password" type="password" autocomplete="new-password" required></label>
<button type="submit">Create</button></fieldset></form>`,
        };
      });

      view('/accounts/:name', async (s, request) => {
        const { name } = request.params as { name: string };
        const admin = new Administration(store, { actor: `admin:${s.user}`, address: address(request) }, deps.hashing);
        let account;
        try {
          account = await admin.account(name);
        } catch (err) {
          if (err instanceof AdminError) return { title: 'No such account', content: html`<p>${err.message}</p>` };
          throw err;
        }
        const base = `/admin/accounts/${encodeURIComponent(account.name)}`;
        const quota = await store.getQuotaUsage(account.id);
        const boxes = await store.listMailboxes(account.id);
        const counts = [];
        for (const mb of boxes) counts.push({ mb, c: await store.mailboxCounts(account.id, mb.id) });
        const live = await sessions.list({ user: account.name }, MAX_SESSIONS_SHOWN);
        const aliases = await admin.aliases(account.name);
        return {
          title: `Account ${account.name}`,
          content: html`<table><tr><td>state</td><td id="state">${account.disabled ? 'disabled' : 'enabled'}</td></tr><tr><td>created</td><td>${when(account.createdAt)}</td></tr>
<tr><td>last login</td><td>${account.lastLogin ? `${when(account.lastLogin.at)} ${account.lastLogin.protocol} from ${account.lastLogin.address}` : 'never'}</td></tr>
<tr><td>storage</td><td>${quota.usedStorage} bytes of ${limitText(quota.storage)}</td></tr><tr><td>messages</td><td>${quota.usedMessages} of ${limitText(quota.messages)}</td></tr>
<tr><td>aliases</td><td>${aliases.map((a) => a.address).join(', ') || 'none'}</td></tr></table>
<h2>Mailboxes</h2><table><tr><th>name</th><th class="num">messages</th><th class="num">unseen</th><th class="num">bytes</th></tr>
${counts.map(({ mb, c }) => html`<tr><td>${mb.name}</td><td class="num">${c.messages}</td><td class="num">${c.unseen}</td><td class="num">${c.size}</td></tr>`)}</table>
<h2>Sessions</h2>${sessionTable(live, s.csrf)}
${live.sessions.length > 0 ? buttonForm(`${base}/kick`, 'End all sessions', s.csrf) : ''}
<form method="post" action="${base}/password"><fieldset><legend>Reset password (ends the sessions)</legend>${csrfField(s.csrf)}
<label>New password <input name="password" type="password" autocomplete="new-password" required></label><button type="submit">Set password</button></fieldset></form>
<form method="post" action="${base}/quota"><fieldset><legend>Quota (bytes and messages; "none" for unlimited)</legend>${csrfField(s.csrf)}
<label>Storage <input name="storage" value="${limitText(account.quotaStorage)}"></label><label>Messages <input name="messages" value="${limitText(account.quotaMessages)}"></label>
<button type="submit">Set quota</button></fieldset></form>
${buttonForm(`${base}/${account.disabled ? 'enable' : 'disable'}`, account.disabled ? 'Enable logins' : 'Disable logins (ends the sessions)', s.csrf)}
<form method="post" action="${base}/delete"><fieldset><legend>Delete the account and all its mail</legend>${csrfField(s.csrf)}
<label>Type the name to confirm <input name="confirm" required></label><button type="submit">Delete</button></fieldset></form>`,
        };
      });

      view('/sessions', async (s) => ({ title: 'Sessions', content: sessionTable(await sessions.list({}, MAX_SESSIONS_SHOWN), s.csrf) }));

      view('/audit', async (_s, request) => {
        const q = request.query as Form;
        const before = q.cursor !== undefined && /^[A-Za-z0-9_-]{1,40}$/.test(q.cursor) ? Number(fromCursor(q.cursor)) : Number.NaN;
        const { items, next } = pageOf(await store.auditPage(Number.isSafeInteger(before) ? before : null, PAGE_SIZE + 1), PAGE_SIZE, (e) => String(e.id));
        return {
          title: 'Audit log',
          content: html`<table id="audit"><tr><th>when</th><th>who</th><th>what</th><th>target</th><th>from</th><th>outcome</th></tr>
${items.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.target}</td><td>${e.address}</td><td>${e.outcome}</td></tr>`)}</table>
${next ? html`<p><a href="/admin/audit?cursor=${next}">Older</a></p>` : ''}`,
        };
      });

      const accountPath = (p: Form): string => `/admin/accounts/${encodeURIComponent(p.name ?? '')}`;
      action(
        '/accounts',
        async (admin, form) => {
          const a = await admin.createAccount(form.name ?? '', form.password ?? '');
          return { to: `/admin/accounts/${encodeURIComponent(a.name)}`, notice: `Created ${a.name}.` };
        },
        () => '/admin/accounts',
      );
      action(
        '/accounts/:name/password',
        async (admin, form, p) => {
          const a = await admin.setPassword(p.name ?? '', form.password ?? '');
          const ended = await sessions.kick({ user: a.name }, KICK_REASON);
          return { to: accountPath(p), notice: `Password changed; ${ended} session(s) ended.` };
        },
        accountPath,
      );
      action(
        '/accounts/:name/quota',
        async (admin, form, p) => {
          const limits = await admin.setQuota(p.name ?? '', {
            storage: parseQuotaLimit(form.storage ?? '', 'storage'),
            messages: parseQuotaLimit(form.messages ?? '', 'messages'),
          });
          return { to: accountPath(p), notice: `Quota set: storage ${limitText(limits.storage)}, messages ${limitText(limits.messages)}.` };
        },
        accountPath,
      );
      for (const what of ['disable', 'enable'] as const) {
        action(
          `/accounts/:name/${what}`,
          async (admin, _form, p) => {
            const a = await admin.setDisabled(p.name ?? '', what === 'disable');
            const ended = what === 'disable' ? await sessions.kick({ user: a.name }, KICK_REASON) : 0;
            return { to: accountPath(p), notice: what === 'disable' ? `Logins refused; ${ended} session(s) ended.` : 'Logins allowed.' };
          },
          accountPath,
        );
      }
      action(
        '/accounts/:name/delete',
        async (admin, form, p) => {
          if (form.confirm !== p.name) throw new AdminError('invalid', 'type the account name to confirm the deletion');
          const a = await admin.deleteAccount(p.name ?? '');
          await sessions.kick({ user: a.name }, KICK_REASON);
          return { to: '/admin/accounts', notice: `Deleted ${a.name} and all its mail.` };
        },
        accountPath,
      );
      action(
        '/accounts/:name/kick',
        async (admin, _form, p) => {
          const a = await admin.account(p.name ?? '');
          const n = await admin.audited('session.kick', a.name, () => sessions.kick({ user: a.name }, KICK_REASON));
          return { to: accountPath(p), notice: `${n} session(s) ended.` };
        },
        accountPath,
      );
      action(
        '/sessions/:id/kick',
        async (admin, _form, p) => {
          const id = (p.id ?? '').slice(0, 64);
          await admin.audited('session.kick', id, async () => {
            if ((await sessions.kick({ id }, KICK_REASON)) === 0) throw new AdminError('not-found', 'that session has ended already');
          });
          return { to: '/admin/sessions', notice: 'Session ended.' };
        },
        () => '/admin/sessions',
      );
    },
    { prefix: '/admin' },
  );
}

/** Names shown at most in the dashboard's "logged in now". */
const MAX_NAMES_SHOWN = 50;

/** The distinct users of the sessions, the first few by name. */
function loggedIn(list: SessionListing['sessions']): string {
  const names = [...new Set(list.flatMap((s) => (s.user ? [s.user.name] : [])))].sort();
  if (names.length === 0) return 'nobody';
  const more = names.length > MAX_NAMES_SHOWN ? ` and ${names.length - MAX_NAMES_SHOWN} more` : '';
  return names.slice(0, MAX_NAMES_SHOWN).join(', ') + more;
}

/** Live sessions as a table, each with a kick button, the processes that answered and those that did not. */
function sessionTable(listing: SessionListing, csrf: string): Html {
  const names = (list: Responder[]): string => list.map((r) => `${r.node} worker ${r.worker}`).join(', ');
  const missing = listing.missing.length > 0 && html`<p id="missing">Did not answer: ${names(listing.missing)}</p>`;
  const answered = html`<p id="answered">Answered: ${names(listing.answered)}</p>${missing}`;
  if (listing.sessions.length === 0) return html`<p>No sessions.</p>${answered}`;
  return html`<table id="sessions"><tr><th>user</th><th>protocol</th><th>from</th><th>TLS</th><th>since</th><th>mailbox</th><th>command</th><th>node</th><th></th></tr>
${listing.sessions.map(
  (s) =>
    html`<tr><td>${s.user?.name ?? '(not logged in)'}</td><td>${s.protocol}</td><td>${s.remoteAddress}</td><td>${s.tls ? 'yes' : 'no'}</td><td>${when(s.since)}</td><td>${s.mailbox}</td><td>${s.command}</td><td>${s.node} #${s.worker}</td><td>${buttonForm(`/admin/sessions/${encodeURIComponent(s.id)}/kick`, 'Kick', csrf)}</td></tr>`,
)}</table>${answered}`;
}
