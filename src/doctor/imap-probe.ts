/**
 * The IMAP dialog of a port check, as a client runs it: greeting, CAPABILITY,
 * on a plaintext port the exposure checks and STARTTLS (RFC 9051 §6.2.1),
 * then the optional login (AUTHENTICATE PLAIN with SASL-IR, RFC 4959, else
 * LOGIN) and LOGOUT. Every response is bounded in lines (MAX_RESPONSE_LINES).
 */
import { type Check, fail, implicitTls, ok, printable, warn } from './check.js';
import type { LineConn } from './line-conn.js';
import { classifyRefusal, loginCheck } from './login-outcome.js';
import { loginSkipped, plaintextAdvice, type ProbeContext, type ProbeResult, secureAfterStartTls } from './probe-context.js';

/** Untagged lines accepted before a tagged answer. */
const MAX_RESPONSE_LINES = 200;
/** Capabilities worth knowing (RFC 2177, RFC 7162, RFC 4978). */
const NOTABLE = ['IDLE', 'CONDSTORE', 'QRESYNC', 'COMPRESS=DEFLATE'];

interface Tagged {
  status: string;
  code: string | null;
  text: string;
  untagged: string[];
}

/** RFC 9051 §7.1: `tag OK|NO|BAD [code] text`. */
const TAGGED = /^(\S+) (OK|NO|BAD)(?: \[([^\]]*)\])? ?(.*)$/i;

async function command(conn: LineConn, tag: string, line: string): Promise<Tagged> {
  conn.send(`${tag} ${line}`);
  const untagged: string[] = [];
  for (let i = 0; i < MAX_RESPONSE_LINES; i++) {
    const got = await conn.readLine();
    const m = TAGGED.exec(got);
    if (m && m[1] === tag) return { status: m[2]!.toUpperCase(), code: m[3] ?? null, text: m[4] ?? '', untagged };
    untagged.push(got);
  }
  throw new Error(`more than ${MAX_RESPONSE_LINES} lines before the answer to ${line.split(' ', 1)[0]}`);
}

/** Capabilities from `[CAPABILITY …]` in a code, or from a `* CAPABILITY` line. */
function capsFrom(code: string | null, untagged: string[]): string[] | null {
  if (code?.toUpperCase().startsWith('CAPABILITY ')) return code.split(' ').slice(1);
  const line = untagged.find((l) => /^\* CAPABILITY /i.test(l));
  return line ? line.split(' ').slice(2) : null;
}

async function capabilities(conn: LineConn, tag: string): Promise<string[]> {
  const r = await command(conn, tag, 'CAPABILITY');
  return (capsFrom(null, r.untagged) ?? []).map((c) => c.toUpperCase());
}

/** An IMAP quoted string (RFC 9051 §4.3); null when the text cannot be quoted (CR, LF, NUL). */
function quoted(text: string): string | null {
  return /[\r\n\0]/.test(text) ? null : `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Runs the dialog on an open connection (already TLS on an implicit port). */
export async function probeImap(conn: LineConn, ctx: ProbeContext, tlsAccepted: boolean): Promise<ProbeResult> {
  const checks: Check[] = [];
  const greeting = await conn.readLine();
  const g = /^\* (OK|PREAUTH|BYE)(?: \[([^\]]*)\])? ?(.*)$/i.exec(greeting);
  if (!g) {
    checks.push(fail(`greeting: not IMAP: ${printable(greeting, 80)}`, `Port ${ctx.spec.port} speaks another protocol; check the port number for IMAP.`));
    return { checks, usable: false };
  }
  if (g[1]!.toUpperCase() === 'BYE') {
    checks.push(
      fail(
        `greeting: the server refuses the connection: ${printable(greeting)}`,
        'The server turns this client away (connection limits or a block on your address); check its log.',
      ),
    );
    return { checks, usable: false };
  }
  checks.push(ok(`greeting: ${printable(greeting)}`));
  let caps = (capsFrom(g[2] ?? null, []) ?? (await capabilities(conn, 'd1'))).map((c) => c.toUpperCase());
  let accepted = tlsAccepted;

  if (!implicitTls(ctx.spec.proto)) {
    // RFC 9051 §6.2.1 and §7.2.2 (LOGINDISABLED); RFC 8314 §3.
    if (!caps.includes('STARTTLS')) {
      checks.push(
        fail(
          `port ${ctx.spec.port} offers no STARTTLS: passwords would travel in clear`,
          'Enable TLS on the server, or set the client to port 993 with SSL/TLS.',
        ),
      );
      return { checks, usable: false };
    }
    if (caps.includes('LOGINDISABLED')) checks.push(ok('passwords refused before STARTTLS (LOGINDISABLED)'));
    else {
      checks.push(fail(`port ${ctx.spec.port} accepts a password before STARTTLS (no LOGINDISABLED)`, plaintextAdvice(ctx)));
    }
    const st = await command(conn, 'd2', 'STARTTLS');
    if (st.status !== 'OK') {
      checks.push(fail(`STARTTLS refused: ${printable(st.text)}`, 'The server announces STARTTLS but refuses it; check its TLS certificate settings.'));
      return { checks, usable: false };
    }
    const secured = await secureAfterStartTls(conn, ctx, checks);
    if (!secured) return { checks, usable: false };
    accepted = secured.accepted;
    // RFC 9051 §6.2.1: capabilities learned before TLS are discarded.
    caps = await capabilities(conn, 'd3');
  }

  let usable = accepted;
  let afterLogin = false;
  if (ctx.credentials) {
    if (!accepted) checks.push(loginSkipped(ctx.credentials.user));
    else {
      const r = await logIn(conn, ctx, caps);
      checks.push(r.check);
      usable = r.ok;
      if (r.caps) {
        caps = r.caps;
        afterLogin = true;
      }
    }
  }
  checks.push(capabilityCheck(caps, afterLogin));
  conn.send('d9 LOGOUT');
  return { checks, usable };
}

async function logIn(conn: LineConn, ctx: ProbeContext, caps: string[]): Promise<{ check: Check; ok: boolean; caps: string[] | null }> {
  const { user, password } = ctx.credentials!;
  let line: string;
  // RFC 4959 SASL-IR with RFC 4616 PLAIN: one line, no quoting problems.
  if (caps.includes('SASL-IR') && caps.includes('AUTH=PLAIN')) {
    line = `AUTHENTICATE PLAIN ${Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64')}`;
  } else {
    const u = quoted(user);
    const p = quoted(password);
    if (u === null || p === null)
      return {
        check: fail(`login as ${user}: not tried`, 'The user name or password contains a line break, which IMAP LOGIN cannot carry.'),
        ok: false,
        caps: null,
      };
    line = `LOGIN ${u} ${p}`;
  }
  const r = await command(conn, 'd4', line);
  if (r.status === 'OK') {
    const after = capsFrom(r.code, r.untagged) ?? (await capabilities(conn, 'd5'));
    return { check: loginCheck('success', user, r.text), ok: true, caps: after.map((c) => c.toUpperCase()) };
  }
  return { check: loginCheck(classifyRefusal(r.code, r.text), user, r.text), ok: false, caps: null };
}

function capabilityCheck(caps: string[], afterLogin: boolean): Check {
  const has = NOTABLE.filter((c) => caps.includes(c));
  const list = has.length ? has.join(', ') : 'none of them';
  // Servers announce extensions such as CONDSTORE only after login (RFC 9051 §7.2.2).
  if (!afterLogin) return ok(`capabilities before login: ${list} (log in with --user to see all of IDLE, CONDSTORE, QRESYNC, COMPRESS)`);
  const missing = NOTABLE.filter((c) => !caps.includes(c));
  const text = `capabilities: ${list}${missing.length ? `; not offered: ${missing.join(', ')}` : ''}`;
  // Without IDLE (RFC 2177) clients poll, so new mail shows up late.
  if (!caps.includes('IDLE')) return warn(text, 'Without IDLE new mail appears only when the client polls; enable IDLE on the server.');
  return ok(text);
}
