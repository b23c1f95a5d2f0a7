/**
 * One port, end to end: TCP connect, the TLS handshake on implicit-TLS ports,
 * then the IMAP or POP3 dialog. Whatever goes wrong mid-way becomes a line
 * with advice; the socket is always closed.
 */
import { type Check, family, fail, implicitTls, type PortSpec, type Proto } from './check.js';
import { handshake, LineConn, ProbeError } from './line-conn.js';
import { probeImap } from './imap-probe.js';
import { probePop3 } from './pop3-probe.js';
import type { ProbeContext, ProbeResult } from './probe-context.js';
import { probeTcp, resetCheck, type TcpOutcome } from './tcp-probe.js';
import { judgeTls } from './tls-checks.js';

/** The lines of one port and whether a client could use it. */
export interface PortReport extends ProbeResult {
  spec: PortSpec;
}

/** The TCP step of a port of `ctx.address` (an address of `ctx.host`). */
export function connectPort(ctx: ProbeContext): Promise<TcpOutcome> {
  return probeTcp(ctx.host, ctx.address, ctx.spec, ctx.timeoutMs);
}

/**
 * The rest of a port check on the connection `connectPort` opened. The two
 * steps are apart so that all connects run first and their times are not
 * inflated by other ports' TLS handshakes.
 */
export async function finishPort(tcp: TcpOutcome, ctx: ProbeContext): Promise<PortReport> {
  const { spec } = ctx;
  const checks: Check[] = [tcp.check];
  if (!tcp.socket) return { spec, checks, usable: false };
  let conn: LineConn | null = null;
  try {
    const late = tcp.lateError();
    if (late || tcp.socket.destroyed) throw new ProbeError(late?.code ?? 'ECLOSED', late?.message ?? 'the server closed the connection');
    let tlsAccepted = true;
    if (implicitTls(spec.proto)) {
      const secure = await handshake({ ...ctx.tls, socket: tcp.socket }, ctx.timeoutMs).catch((err: ProbeError) => {
        throw new ProbeError(err.code, `TLS handshake: ${err.message}`);
      });
      const judged = judgeTls(secure, ctx.host);
      checks.push(...judged.checks);
      tlsAccepted = judged.accepted;
      conn = new LineConn(secure, ctx.timeoutMs);
    } else conn = new LineConn(tcp.socket, ctx.timeoutMs);
    const dialog = family(spec.proto) === 'IMAP' ? probeImap : probePop3;
    const result = await dialog(conn, ctx, tlsAccepted);
    return { spec, checks: [...checks, ...result.checks], usable: result.usable };
  } catch (err) {
    checks.push(failureCheck(ctx.host, spec, err));
    return { spec, checks, usable: false };
  } finally {
    if (conn) conn.close();
    else tcp.socket.destroy();
  }
}

/** A dialog that broke off: a reset, a silent server, a wrong protocol or a hostile answer. */
function failureCheck(host: string, spec: PortSpec, err: unknown): Check {
  const code = err instanceof ProbeError ? err.code : 'EPROTO';
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNRESET') return resetCheck(host, spec.port, 'after it was accepted');
  if (code === 'ETIMEDOUT') {
    return fail(`port ${spec.port}: ${message}`, silentAdvice(spec.proto, spec.port));
  }
  if (message.startsWith('TLS handshake')) {
    return fail(
      `port ${spec.port}: ${message}`,
      `Port ${spec.port} does not speak TLS from the start: if it is a STARTTLS port, use --port ${spec.proto.slice(0, -1)}:${spec.port} (client setting "STARTTLS").`,
    );
  }
  return fail(`port ${spec.port}: ${message}`, `The server on port ${spec.port} broke off the conversation; check its log.`);
}

function silentAdvice(proto: Proto, port: number): string {
  return implicitTls(proto)
    ? `The server on port ${port} did not answer in time: it may be overloaded, or the port expects something else.`
    : `No ${family(proto)} greeting on port ${port}: if this port expects TLS from the start, use --port ${proto}s:${port} (client setting "SSL/TLS").`;
}
