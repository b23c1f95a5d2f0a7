/**
 * POP3 under fuzz, in the AUTHORIZATION and TRANSACTION states (RFC 1939
 * §3). POP3 has no tags, so the session keeps step by counting: the server
 * reads lines up to LF (net/line-buffer.ts) and answers each with one
 * response, single- or multi-line; the harness ends every input with CAPA,
 * whose multi-line answer closes the count.
 */
import { BufferedSocket } from '../helpers/socket-buffer.js';
import { pop3Commands } from './line-grammars.js';
import { readCrlfLine, show } from './lines.js';
import { mutate, randomInput } from './mutate.js';
import { checkPop3Status } from './response-check.js';
import type { Rng } from './rng.js';
import { pickInput, type FuzzEnv, type FuzzSession, type Outcome, type Target } from './target.js';

export const POP3_STATES = ['authorization', 'transaction'] as const;

const ANSWER_MS = 8000;
/**
 * A login may wait this long: every LOGIN is a 32 MiB scrypt on the thread
 * pool file I/O shares, and giving up early only queues another hash.
 */
const LOGIN_MS = 60_000;
/** An input's answers may take this long before the session counts as stalled and is replaced. */
const SYNC_MS = 6000;
const MAX_TRANSCRIPT = 1024 * 1024;

/** A status or SASL continuation line, as opposed to multi-line data (RFC 1939 §3). */
const isStatus = (s: string): boolean => /^(\+OK|-ERR)( |$)/.test(s) || /^\+( |$)/.test(s);

export class Pop3Target implements Target {
  readonly protocol = 'pop3';
  readonly states = POP3_STATES;

  generate(r: Rng, _state: string): { bytes: Buffer; kind: 'grammar' | 'mutated' | 'random' } {
    return pickInput(
      r,
      () => pop3Commands(r),
      (b, d) => mutate(r, b, d),
      () => randomInput(r),
    );
  }

  async open(env: FuzzEnv, state: string, account: string): Promise<FuzzSession> {
    const sock = await BufferedSocket.connect(env.pop3Port);
    try {
      const greeting = await readCrlfLine(sock, ANSWER_MS);
      if (!Buffer.isBuffer(greeting) || !greeting.toString('latin1').startsWith('+OK'))
        throw new Error(`POP3 greeting: ${Buffer.isBuffer(greeting) ? show(greeting) : greeting}`);
      if (state === 'transaction') {
        sock.send(`USER ${account}\r\nPASS ${env.password}\r\n`);
        for (const what of ['USER', 'PASS']) {
          const line = await readCrlfLine(sock, LOGIN_MS);
          if (!Buffer.isBuffer(line) || !line.toString('latin1').startsWith('+OK'))
            throw new Error(`POP3 ${what}: ${Buffer.isBuffer(line) ? show(line) : line}`);
        }
      }
      return new Pop3Session(sock, state === 'transaction');
    } catch (e) {
      sock.close();
      throw e;
    }
  }
}

class Pop3Session implements FuzzSession {
  constructor(
    private readonly sock: BufferedSocket,
    private readonly transaction: boolean,
  ) {}

  async run(input: Buffer): Promise<Outcome> {
    const sent = Buffer.concat([input, Buffer.from(input.length > 0 && input[input.length - 1] === 0x0a ? '' : '\r\n'), Buffer.from('CAPA\r\n')]);
    const verbs = commandLines(sent);
    this.sock.send(sent);
    const violations: string[] = [];
    const parts: Buffer[] = [];
    let size = 0;
    let lost = false;
    let pending: Buffer | null = null;
    const next = async (): Promise<Buffer | 'closed' | 'timeout'> => {
      if (pending) {
        const p = pending;
        pending = null;
        return p;
      }
      const line = await readCrlfLine(this.sock, SYNC_MS);
      if (Buffer.isBuffer(line) && size < MAX_TRANSCRIPT) {
        parts.push(line, Buffer.from('\r\n'));
        size += line.length + 2;
      }
      return line;
    };
    const finish = (how: 'ok' | 'lost' | 'stalled'): Outcome => ({
      violations,
      serverErrors: [],
      stalled: how === 'stalled',
      lost: how !== 'ok' || lost,
      transcript: Buffer.concat(parts),
    });
    let afterContinuation = false;
    for (let i = 0; i < verbs.length; i++) {
      const line = await next();
      if (!Buffer.isBuffer(line)) return finish(line === 'closed' ? 'lost' : 'stalled');
      const s = line.toString('latin1');
      const problem = checkPop3Status(line);
      if (problem) {
        violations.push(`reply ${i + 1} of ${verbs.length}: ${problem}: ${show(line)}`);
        return finish('lost');
      }
      // Logged in by the input: this session no longer fuzzes AUTHORIZATION.
      if (!this.transaction && s.startsWith('+OK') && (verbs[i] === 'PASS' || verbs[i] === 'AUTH' || afterContinuation)) lost = true;
      // A line answering a SASL continuation is no command, whatever its first word.
      const verb = afterContinuation ? '' : verbs[i]!;
      afterContinuation = s.startsWith('+ ') || s === '+';
      // RFC 2595 §4: after STLS's +OK the server expects a TLS handshake.
      if (verb === 'STLS' && s.startsWith('+OK')) return finish('lost');
      if (!s.startsWith('+OK')) continue;
      // RFC 1939 §3, RFC 2449 §5: RETR, TOP and CAPA answer in several lines; message lines may look like anything.
      const certain = verb === 'RETR' || verb === 'TOP' || verb === 'CAPA';
      if (!certain && verb !== 'LIST' && verb !== 'UIDL' && verb !== 'AUTH') continue;
      // LIST, UIDL and AUTH (its mechanism list) are multi-line without an argument: their data lines ("1 120", "PLAIN") never look like a status.
      const last = i === verbs.length - 1;
      const peek = certain || last ? null : await next();
      if (peek !== null && !Buffer.isBuffer(peek)) return finish(peek === 'closed' ? 'lost' : 'stalled');
      if (peek !== null && isStatus(peek.toString('latin1'))) {
        pending = peek;
        continue;
      }
      let data: Buffer | 'closed' | 'timeout' = peek ?? (await next());
      for (let n = 0; ; n++) {
        if (!Buffer.isBuffer(data)) return finish(data === 'closed' ? 'lost' : 'stalled');
        if (data.length === 1 && data[0] === 0x2e) break;
        // RFC 1939 §3: a data line starting with "." is byte-stuffed.
        if (data[0] === 0x2e && data[1] !== 0x2e) violations.push(`unstuffed data line after ${verbs[i]}: ${show(data)}`);
        if (n > 1_000_000) return finish('stalled');
        data = await next();
      }
    }
    return finish('ok');
  }

  close(): void {
    this.sock.close();
  }
}

/** The upper-case first word of each line the server will read from `bytes` (each ends in LF). */
function commandLines(bytes: Buffer): string[] {
  const verbs: string[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const lf = bytes.indexOf(0x0a, pos);
    const end = lf < 0 ? bytes.length : lf;
    verbs.push(/^\S*/.exec(bytes.subarray(pos, Math.min(end, pos + 16)).toString('latin1'))![0].toUpperCase());
    pos = end + 1;
  }
  return verbs;
}
