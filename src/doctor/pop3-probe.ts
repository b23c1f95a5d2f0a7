/**
 * The POP3 dialog of a port check: greeting, CAPA (RFC 2449), on a plaintext
 * port the exposure checks and STLS (RFC 2595 §4), then the optional login
 * (USER/PASS, RFC 1939 §7) and QUIT. Multi-line answers are bounded.
 */
import { type Check, fail, implicitTls, ok, printable } from './check.js';
import type { LineConn } from './line-conn.js';
import { classifyRefusal, loginCheck } from './login-outcome.js';
import { loginSkipped, plaintextAdvice, type ProbeContext, type ProbeResult, secureAfterStartTls } from './probe-context.js';

/** Lines accepted in a CAPA answer. */
const MAX_CAPA_LINES = 100;
/** A name for the plaintext probe that belongs to nobody, so no real user name crosses the network in clear. */
const PROBE_USER = 'mailkeep-doctor-probe';

/** `+OK text` / `-ERR [CODE] text` (RFC 2449 §8). */
function status(line: string): { ok: boolean; code: string | null; text: string } {
  const m = /^([+-]\S*)(?: \[([^\]]*)\])? ?(.*)$/.exec(line);
  return { ok: m?.[1] === '+OK', code: m?.[2] ?? null, text: m?.[3] ?? line };
}

async function capa(conn: LineConn): Promise<string[]> {
  conn.send('CAPA');
  if (!status(await conn.readLine()).ok) return [];
  const caps: string[] = [];
  for (let i = 0; i < MAX_CAPA_LINES; i++) {
    const line = await conn.readLine();
    if (line === '.') return caps;
    caps.push(line.toUpperCase());
  }
  throw new Error(`CAPA answer longer than ${MAX_CAPA_LINES} lines`);
}

/** Runs the dialog on an open connection (already TLS on an implicit port). */
export async function probePop3(conn: LineConn, ctx: ProbeContext, tlsAccepted: boolean): Promise<ProbeResult> {
  const checks: Check[] = [];
  const greeting = await conn.readLine();
  if (!greeting.startsWith('+OK')) {
    const refused = greeting.startsWith('-ERR');
    checks.push(
      refused
        ? fail(
            `greeting: the server refuses the connection: ${printable(greeting)}`,
            'The server turns this client away (connection limits or a block on your address); check its log.',
          )
        : fail(`greeting: not POP3: ${printable(greeting, 80)}`, `Port ${ctx.spec.port} speaks another protocol; check the port number for POP3.`),
    );
    return { checks, usable: false };
  }
  checks.push(ok(`greeting: ${printable(greeting)}`));
  let caps = await capa(conn);
  let accepted = tlsAccepted;

  if (!implicitTls(ctx.spec.proto)) {
    // RFC 2595 §4 STLS; RFC 8314 §3: no password before TLS.
    conn.send(`USER ${PROBE_USER}`);
    if (status(await conn.readLine()).ok) {
      checks.push(fail(`port ${ctx.spec.port} accepts USER/PASS before STLS`, plaintextAdvice(ctx)));
    } else checks.push(ok('passwords refused before STLS (USER refused)'));
    conn.send('STLS');
    const st = status(await conn.readLine());
    if (!st.ok) {
      checks.push(
        fail(
          `port ${ctx.spec.port} offers no STLS: passwords would travel in clear (${printable(st.text, 80)})`,
          'Enable TLS on the server, or set the client to port 995 with SSL/TLS.',
        ),
      );
      return { checks, usable: false };
    }
    const secured = await secureAfterStartTls(conn, ctx, checks);
    if (!secured) return { checks, usable: false };
    accepted = secured.accepted;
    // RFC 2595 §4: capabilities learned before TLS are discarded.
    caps = await capa(conn);
  }

  let usable = accepted;
  if (ctx.credentials) {
    if (!accepted) checks.push(loginSkipped(ctx.credentials.user));
    else {
      const r = await logIn(conn, ctx);
      checks.push(r.check);
      usable = r.ok;
    }
  }
  checks.push(ok(`capabilities: ${caps.length ? printable(caps.join(' '), 120) : 'none listed (no CAPA)'}`));
  conn.send('QUIT');
  return { checks, usable };
}

async function logIn(conn: LineConn, ctx: ProbeContext): Promise<{ check: Check; ok: boolean }> {
  const { user, password } = ctx.credentials!;
  if (/[\r\n\0]/.test(user + password))
    return { check: fail(`login as ${user}: not tried`, 'The user name or password contains a line break, which POP3 cannot carry.'), ok: false };
  conn.send(`USER ${user}`);
  let answer = status(await conn.readLine());
  if (answer.ok) {
    conn.send(`PASS ${password}`);
    answer = status(await conn.readLine());
  }
  if (answer.ok) return { check: loginCheck('success', user, answer.text), ok: true };
  return { check: loginCheck(classifyRefusal(answer.code, answer.text), user, answer.text), ok: false };
}
