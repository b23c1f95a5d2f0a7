/**
 * LMTP under fuzz (RFC 2033): each input gets its own connection, driven
 * into a state (after the greeting, after LHLO, with a recipient, inside DATA,
 * inside a BDAT chunk), then the input, then ".", QUIT: the server's close
 * ends the transcript, so no reply has to be matched to a command. A chunk the
 * input left open is filled right after (chunkDebtBound), not after a wait.
 */
import { BufferedSocket } from '../helpers/socket-buffer.js';
import { lmtpCommands } from './line-grammars.js';
import { readCrlfLine, show } from './lines.js';
import { mutate, randomInput } from './mutate.js';
import { checkSmtpLine } from './response-check.js';
import type { Rng } from './rng.js';
import { pickInput, type FuzzEnv, type FuzzSession, type Outcome, type Target } from './target.js';

export const LMTP_STATES = ['greeting', 'lhlo', 'mail', 'rcpt', 'data', 'bdat'] as const;

/** How long the server may take to close after QUIT (and again after the flush). */
const ANSWER_MS = 6000;
/** Octets sent when the server still waits for chunk data after QUIT (a BDAT count the input left open). */
const FLUSH = 70 * 1024;
/** A BDAT command (RFC 3030 §2: "BDAT" SP chunk-size [SP "LAST"]), at a line start or right after a chunk. */
const BDAT_COMMAND = /BDAT +(\d{1,12})/gi;

/**
 * Octets the input's BDAT commands may leave owed: their chunk sizes added up.
 * Up to FLUSH of them are sent after QUIT at once, so an input that leaves a
 * chunk open costs no wait; when nothing was owed they only follow the QUIT.
 */
export function chunkDebtBound(input: Buffer): number {
  let owed = 0;
  for (const m of input.toString('latin1').matchAll(BDAT_COMMAND)) owed += Number(m[1]);
  return owed;
}
const MAX_TRANSCRIPT = 1024 * 1024;

/** What puts a fresh connection in each state; the replies are checked like the input's. */
function prefix(state: string, account: string, inputLength: number): string {
  const lhlo = 'LHLO fuzz.example\r\n';
  const mail = `${lhlo}MAIL FROM:<fuzz@example.com>\r\n`;
  const rcpt = `${mail}RCPT TO:<${account}@localhost>\r\n`;
  switch (state) {
    case 'lhlo':
      return lhlo;
    case 'mail':
      return mail;
    case 'rcpt':
      return rcpt;
    case 'data':
      return `${rcpt}DATA\r\n`;
    case 'bdat':
      return `${rcpt}BDAT ${inputLength}\r\n`;
    default:
      return '';
  }
}

export class LmtpTarget implements Target {
  readonly protocol = 'lmtp';
  readonly states = LMTP_STATES;

  generate(r: Rng, _state: string): { bytes: Buffer; kind: 'grammar' | 'mutated' | 'random' } {
    return pickInput(
      r,
      () => lmtpCommands(r),
      (b, d) => mutate(r, b, d),
      () => randomInput(r),
    );
  }

  async open(env: FuzzEnv, state: string, account: string): Promise<FuzzSession> {
    return new LmtpSession(env.lmtpPort, state, account);
  }
}

/** Opens one connection per input; the session object only remembers where. */
class LmtpSession implements FuzzSession {
  constructor(
    private readonly port: number,
    private readonly state: string,
    private readonly account: string,
  ) {}

  async run(input: Buffer): Promise<Outcome> {
    const sock = await BufferedSocket.connect(this.port);
    const violations: string[] = [];
    const serverErrors: string[] = [];
    const parts: Buffer[] = [];
    let size = 0;
    try {
      const owed = chunkDebtBound(input);
      const tail = `\r\n.\r\nQUIT\r\n${owed > 0 ? `${'x'.repeat(Math.min(owed, FLUSH))}\r\n.\r\nQUIT\r\n` : ''}`;
      sock.send(Buffer.concat([Buffer.from(prefix(this.state, this.account, input.length)), input, Buffer.from(tail)]));
      let flushed = false;
      let code: string | null = null;
      for (;;) {
        const line = await readCrlfLine(sock, ANSWER_MS);
        if (line === 'closed') break;
        if (line === 'timeout') {
          // A chunk larger than the flush (up to the server's 50 MB limit) is still rightly being read: no stall.
          if (flushed) return { violations, serverErrors, stalled: owed <= FLUSH, lost: false, transcript: Buffer.concat(parts) };
          // A chunk or data the input left open: fill it, then ask to leave again.
          flushed = true;
          sock.send(`${'x'.repeat(FLUSH)}\r\n.\r\nQUIT\r\n`);
          continue;
        }
        if (size < MAX_TRANSCRIPT) {
          parts.push(line, Buffer.from('\r\n'));
          size += line.length + 2;
        }
        const problem = checkSmtpLine(line);
        if (problem) violations.push(`${problem}: ${show(line)}`);
        const s = line.toString('latin1');
        // RFC 5321 §4.2.1: the lines of one multi-line reply share its code.
        if (code !== null && !s.startsWith(code)) violations.push(`multi-line reply ${code} continued by ${show(line)}`);
        code = s[3] === '-' ? s.slice(0, 3) : null;
        if (/^451[ -]4\.3\.0/.test(s)) serverErrors.push(show(line));
      }
      return { violations, serverErrors, stalled: false, lost: false, transcript: Buffer.concat(parts) };
    } finally {
      sock.close();
    }
  }

  close(): void {}
}
