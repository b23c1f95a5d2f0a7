/**
 * A small SMTP client for mail mailkeep itself sends (Sieve redirect and
 * vacation): one connection per message to the configured relay, EHLO,
 * STARTTLS (RFC 3207), AUTH PLAIN (RFC 4954), MAIL/RCPT/DATA (RFC 5321
 * §3.3) with dot-stuffing (§4.5.2).
 *
 * Invariants: every reply is bounded (line length, line count) and awaited
 * under a timeout; the socket is always destroyed at the end.
 */
import net from 'node:net';
import tls from 'node:tls';

/** Where and how to reach the relay. */
export interface SmtpRelay {
  host: string;
  port: number;
  security: 'none' | 'starttls' | 'tls';
  username: string | null;
  password: string | null;
  verifyCertificate: boolean;
  timeoutMs: number;
  /** Our name in EHLO. */
  heloName: string;
}

/** One outgoing message: the envelope and the bytes (a header block and body, CRLF or LF lines). */
export interface OutgoingMail {
  /** MAIL FROM address; '' for the null sender <> (RFC 5321 §4.5.5). */
  from: string;
  to: readonly string[];
  data: Buffer;
}

/** A refusal or failure talking to the relay; `code` is the SMTP reply code when there was one. */
export class SmtpError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; some servers are longer, allow 4 times. */
const MAX_LINE = 2048;
/** Lines of one multi-line reply (EHLO lists extensions, a few dozen at most). */
const MAX_LINES = 100;

interface Reply {
  code: number;
  lines: string[];
}

/** Reads replies from a socket, one at a time. */
class ReplyReader {
  private buf = '';
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(
    private socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  /** Reads from another socket (after STARTTLS) with nothing buffered. */
  attach(socket: net.Socket): void {
    this.socket = socket;
    this.buf = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      if (this.buf.length > MAX_LINE * MAX_LINES) this.fail(new SmtpError('reply too long', null));
      this.wake();
    });
    socket.on('error', (err) => this.fail(new SmtpError(`relay connection: ${err.message}`, null)));
    socket.on('close', () => this.fail(new SmtpError('relay closed the connection', null)));
  }

  /** Stops reading this socket (for STARTTLS), returning nothing buffered. */
  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next complete reply. */
  async next(): Promise<Reply> {
    const deadline = Date.now() + this.timeoutMs;
    const lines: string[] = [];
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl).replace(/\r$/, '');
        this.buf = this.buf.slice(nl + 1);
        if (line.length > MAX_LINE || lines.length >= MAX_LINES) throw new SmtpError('reply too long', null);
        const m = /^(\d{3})([ -]|$)(.*)$/.exec(line);
        if (!m) throw new SmtpError(`bad reply line: ${line.slice(0, 80)}`, null);
        lines.push(m[3] ?? '');
        if (m[2] !== '-') return { code: Number(m[1]), lines };
        continue;
      }
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new SmtpError('relay timed out', null);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/** RFC 5321 §4.5.2: a leading '.' on a line is doubled; lines end in CRLF; the data ends with CRLF.CRLF. */
export function dotStuff(data: Buffer): Buffer {
  const text = data.toString('latin1').replace(/\r?\n/g, '\r\n');
  const body = text.endsWith('\r\n') || text === '' ? text : `${text}\r\n`;
  return Buffer.from(`${body.replace(/^\./gm, '..')}.\r\n`, 'latin1');
}

function connect(relay: SmtpRelay): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SmtpError('relay connect timed out', null));
    }, relay.timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', failed);
      resolve(socket);
    };
    const failed = (err: Error): void => {
      clearTimeout(timer);
      reject(new SmtpError(`cannot reach the relay ${relay.host}:${relay.port}: ${err.message}`, null));
    };
    const socket =
      relay.security === 'tls'
        ? tls.connect(
            { host: relay.host, port: relay.port, servername: net.isIP(relay.host) ? undefined : relay.host, rejectUnauthorized: relay.verifyCertificate },
            done,
          )
        : net.connect({ host: relay.host, port: relay.port }, done);
    socket.once('error', failed);
  });
}

function upgrade(socket: net.Socket, relay: SmtpRelay): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, servername: net.isIP(relay.host) ? undefined : relay.host, rejectUnauthorized: relay.verifyCertificate }, () =>
      resolve(secure),
    );
    secure.once('error', (err) => reject(new SmtpError(`STARTTLS with the relay failed: ${err.message}`, null)));
  });
}

/** Sends one message through the relay; resolves once the relay accepted it (250 after DATA). */
export async function sendMail(relay: SmtpRelay, mail: OutgoingMail): Promise<void> {
  if (mail.to.length === 0) return;
  for (const a of [mail.from, ...mail.to]) if (/[\x00-\x20<>\x7f]/.test(a)) throw new SmtpError(`bad address ${JSON.stringify(a)}`, null);
  let socket = await connect(relay);
  try {
    const reader = new ReplyReader(socket, relay.timeoutMs);
    const expect = async (ok: (code: number) => boolean, what: string): Promise<Reply> => {
      const r = await reader.next();
      if (!ok(r.code)) throw new SmtpError(`relay refused ${what}: ${r.code} ${r.lines.join(' ').slice(0, 200)}`, r.code);
      return r;
    };
    const command = async (line: string, ok: (code: number) => boolean, what = line.split(' ')[0] ?? line): Promise<Reply> => {
      socket.write(`${line}\r\n`);
      return expect(ok, what);
    };
    const is2xx = (c: number): boolean => c >= 200 && c < 300;
    await expect(is2xx, 'the connection');
    let ehlo = await command(`EHLO ${relay.heloName}`, is2xx);
    if (relay.security === 'starttls') {
      if (!ehlo.lines.some((l) => /^STARTTLS\b/i.test(l))) throw new SmtpError('the relay does not offer STARTTLS', null);
      await command('STARTTLS', (c) => c === 220);
      reader.detach();
      socket = await upgrade(socket, relay);
      reader.attach(socket);
      ehlo = await command(`EHLO ${relay.heloName}`, is2xx);
    }
    if (relay.username !== null) {
      // RFC 4954 §4, RFC 4616: AUTH PLAIN with the initial response.
      const token = Buffer.from(`\0${relay.username}\0${relay.password ?? ''}`).toString('base64');
      await command(`AUTH PLAIN ${token}`, (c) => c === 235, 'AUTH');
    }
    const smtputf8 = [mail.from, ...mail.to].some((a) => /[^\x00-\x7f]/.test(a)) && ehlo.lines.some((l) => /^SMTPUTF8\b/i.test(l));
    await command(`MAIL FROM:<${mail.from}>${smtputf8 ? ' SMTPUTF8' : ''}`, is2xx, 'MAIL');
    for (const to of mail.to) await command(`RCPT TO:<${to}>`, is2xx, 'RCPT');
    await command('DATA', (c) => c === 354);
    socket.write(dotStuff(mail.data));
    await expect(is2xx, 'the message');
    socket.write('QUIT\r\n');
  } finally {
    socket.destroy();
  }
}
