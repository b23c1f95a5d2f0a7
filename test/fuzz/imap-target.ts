/**
 * IMAP under fuzz: sessions in every state (not authenticated,
 * authenticated, selected read-write, EXAMINE, IDLE, and inside a literal
 * continuation), one input at a time followed by a tagged sync command whose
 * answer proves the session is still in step (RFC 9051 §2.2.2: every
 * command gets a tagged completion).
 */
import { BufferedSocket } from '../helpers/socket-buffer.js';
import { ImapGrammar } from './imap-grammar.js';
import { readImapLine, show } from './lines.js';
import { mutate, randomInput } from './mutate.js';
import { checkImapLine } from './response-check.js';
import type { Rng } from './rng.js';
import { pickInput, type FuzzEnv, type FuzzSession, type Outcome, type Target } from './target.js';

export const IMAP_STATES = ['not-authenticated', 'authenticated', 'selected', 'examined', 'idle', 'literal'] as const;
type ImapState = (typeof IMAP_STATES)[number];

/** How long the harness's own commands (LOGIN, SELECT) may take on a loaded 2-core box. */
const ANSWER_MS = 8000;
/**
 * A login may wait this long: every LOGIN is a 32 MiB scrypt on the thread
 * pool file I/O shares, and giving up early only queues another hash.
 */
const LOGIN_MS = 60_000;
/**
 * How long an input's sync command may take before the session counts as
 * stalled and is replaced: inputs that leave the server rightly waiting (a
 * literal count the harness cannot follow) cost this much each.
 */
const SYNC_MS = 6000;
/** After a synchronizing literal, how long to wait for "+" or a refusal before sending the rest anyway. */
const CONTINUATION_MS = 2000;
/** Literal octets the harness still owes the server after an input; beyond this the session is dropped instead. */
const MAX_DEBT = 256 * 1024;
const CRLF = Buffer.from('\r\n');
/** Transcript kept per input for a reproducer. */
const MAX_TRANSCRIPT = 1024 * 1024;

/** Where a line ends with a literal announcement: its size and whether it is synchronizing (RFC 9051 §4.3, RFC 7888). */
const LITERAL_AT_EOL = /~?\{(\d{1,20})(\+?)\}\r?$/;

/**
 * How the server frames `bytes`: the offsets after which a synchronizing
 * literal's "+" is due, how many literal octets are still owed at the end,
 * and whether the input stops inside a line.
 */
export function framing(bytes: Buffer): { syncPoints: number[]; debt: number; midLine: boolean } {
  const syncPoints: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const lf = bytes.indexOf(0x0a, pos);
    if (lf < 0) return { syncPoints, debt: 0, midLine: true };
    const m = LITERAL_AT_EOL.exec(bytes.subarray(Math.max(pos, lf - 30), lf).toString('latin1'));
    pos = lf + 1;
    if (!m) continue;
    const n = Number(m[1]);
    if (!m[2]) syncPoints.push(pos);
    if (pos + n > bytes.length) return { syncPoints, debt: pos + n - bytes.length, midLine: false };
    pos += n;
    // The command line goes on after a literal: an input ending there ends mid-line.
    if (pos === bytes.length) return { syncPoints, debt: 0, midLine: true };
  }
  return { syncPoints, debt: 0, midLine: false };
}

/**
 * What the harness sends for an input and how the server frames it: an input
 * that stops mid-line gets the CRLF that ends it, and is framed with it, since
 * "{5+}" before that CRLF announces a literal the harness then owes.
 */
export function frameInput(input: Buffer): ReturnType<typeof framing> & { sent: Buffer } {
  const sent = framing(input).midLine ? Buffer.concat([input, CRLF]) : input;
  return { sent, ...framing(sent) };
}

/** Commands that open a synchronizing literal, for the literal-continuation state. */
const LITERAL_OPENERS = [
  'APPEND INBOX',
  'APPEND fz (\\Seen)',
  'SEARCH TEXT',
  'SEARCH HEADER Subject',
  'CREATE',
  'SELECT',
  'LOGIN',
  'STATUS',
  'SETMETADATA INBOX (/private/comment',
  'ID ("name"',
];

export class ImapTarget implements Target {
  readonly protocol = 'imap';
  readonly states = IMAP_STATES;

  generate(r: Rng, state: string): { bytes: Buffer; kind: 'grammar' | 'mutated' | 'random' } {
    const g = new ImapGrammar(r);
    const commands = (): Buffer => Buffer.concat(Array.from({ length: r.chance(0.2) ? r.int(2, 4) : 1 }, () => g.command()));
    if (state === 'idle') {
      const idleInput = (): Buffer =>
        r.chance(0.5) ? Buffer.from(r.pick(['DONE\r\n', 'done\r\n', 'DONE', 'DONE x\r\n', 'DONE\r\nDONE\r\n', '\r\n', ' DONE\r\n'])) : commands();
      return pickInput(
        r,
        idleInput,
        (b, d) => mutate(r, b, d),
        () => randomInput(r),
      );
    }
    if (state === 'literal') {
      const body = pickInput(
        r,
        commands,
        (b, d) => mutate(r, b, d),
        () => randomInput(r),
      );
      const n = r.chance(0.5) ? body.bytes.length : r.size(5000);
      const prefix = `${g.tag()} ${r.pick(LITERAL_OPENERS)} ${r.chance(0.2) ? '~' : ''}{${n}}\r\n`;
      return { bytes: Buffer.concat([Buffer.from(prefix), body.bytes]), kind: body.kind };
    }
    return pickInput(
      r,
      commands,
      (b, d) => mutate(r, b, d),
      () => randomInput(r),
    );
  }

  async open(env: FuzzEnv, state: string, account: string): Promise<FuzzSession> {
    return ImapFuzzSession.open(env, state as ImapState, account);
  }
}

class ImapFuzzSession implements FuzzSession {
  private k = 0;

  private constructor(
    private readonly sock: BufferedSocket,
    private readonly state: ImapState,
  ) {}

  static async open(env: FuzzEnv, state: ImapState, account: string): Promise<ImapFuzzSession> {
    const sock = await BufferedSocket.connect(env.imapPort);
    const s = new ImapFuzzSession(sock, state);
    try {
      const greeting = await readImapLine(sock, ANSWER_MS);
      if (!Buffer.isBuffer(greeting) || !greeting.toString('latin1').startsWith('* OK'))
        throw new Error(`greeting: ${Buffer.isBuffer(greeting) ? show(greeting) : greeting}`);
      if (state !== 'not-authenticated') await s.expectOk(`L LOGIN ${account} "${env.password}"`, LOGIN_MS);
      await s.enterState();
      return s;
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  private get selects(): boolean {
    return this.state === 'selected' || this.state === 'examined' || this.state === 'idle';
  }

  private async enterState(): Promise<void> {
    if (this.selects) await this.expectOk(`S ${this.state === 'examined' ? 'EXAMINE' : 'SELECT'} INBOX`);
  }

  /** Sends one harness command and waits for its OK. */
  private async expectOk(command: string, ms = ANSWER_MS): Promise<void> {
    const tag = command.slice(0, command.indexOf(' '));
    this.sock.send(`${command}\r\n`);
    for (;;) {
      const line = await readImapLine(this.sock, ms);
      if (!Buffer.isBuffer(line)) throw new Error(`${command}: ${line}`);
      const s = line.toString('latin1');
      if (s.startsWith(`${tag} `)) {
        if (!s.startsWith(`${tag} OK`)) throw new Error(`${command}: ${s}`);
        return;
      }
    }
  }

  async run(input: Buffer): Promise<Outcome> {
    const out = new Collector();
    const sock = this.sock;
    if (this.state === 'idle') {
      sock.send('I IDLE\r\n');
      const plus = await this.readUntil(out, (s) => s.startsWith('+') || s.startsWith('I '), ANSWER_MS);
      if (plus !== 'ok') return out.done(plus);
    }
    const { sent, syncPoints, debt, midLine } = frameInput(input);
    if (debt > MAX_DEBT) {
      sock.send(sent);
      return out.done('lost');
    }
    let from = 0;
    for (const at of syncPoints) {
      sock.send(sent.subarray(from, at));
      from = at;
      // RFC 9051 §7.5: the server answers a synchronizing literal with "+" or a tagged refusal.
      const r = await readImapLine(sock, CONTINUATION_MS);
      if (Buffer.isBuffer(r)) out.add(r);
      else if (r === 'closed') return out.done('lost');
    }
    const syncCommand = this.state === 'not-authenticated' ? 'CAPABILITY' : this.selects ? 'CHECK' : 'NOOP';
    let tag = `Z${++this.k}`;
    sock.send(
      Buffer.concat([
        sent.subarray(from),
        Buffer.from(`${'x'.repeat(debt)}${midLine || debt > 0 ? '\r\n' : ''}${this.state === 'idle' ? 'DONE\r\n' : ''}${tag} ${syncCommand}\r\n`),
      ]),
    );
    let lastCapability = '';
    for (let resyncs = 0; ; ) {
      const line = await readImapLine(sock, SYNC_MS);
      if (!Buffer.isBuffer(line)) return out.done(line === 'closed' ? 'lost' : 'stalled');
      out.add(line);
      // After STARTTLS or COMPRESS the server expects TLS or deflate: plain text from here on only confuses it.
      if (out.switched) return out.done('lost');
      const s = line.toString('latin1');
      if (s.startsWith('* CAPABILITY ')) lastCapability = s;
      if (s.startsWith('+') && resyncs < 3) {
        // Something in the input left a command waiting (AUTHENTICATE, IDLE): cancel it and sync again.
        resyncs++;
        tag = `Z${++this.k}`;
        sock.send(`*\r\nDONE\r\n${tag} ${syncCommand}\r\n`);
        continue;
      }
      if (!s.startsWith(`${tag} `)) continue;
      const ok = s.startsWith(`${tag} OK`);
      if (this.state === 'not-authenticated') return out.done(lastCapability.includes('AUTH=') ? 'ok' : 'lost');
      if (this.selects && (!ok || out.reselected)) {
        const again = await this.enterState().then(
          () => 'ok' as const,
          () => 'lost' as const,
        );
        return out.done(again);
      }
      if (!this.selects && out.reselected) {
        tag = `Z${++this.k}`;
        sock.send(`${tag} UNSELECT\r\n`);
        out.reselected = false;
        continue;
      }
      return out.done(ok ? 'ok' : 'lost');
    }
  }

  private async readUntil(out: Collector, stop: (s: string) => boolean, ms: number): Promise<'ok' | 'lost' | 'stalled'> {
    for (;;) {
      const line = await readImapLine(this.sock, ms);
      if (!Buffer.isBuffer(line)) return line === 'closed' ? 'lost' : 'stalled';
      out.add(line);
      if (stop(line.toString('latin1'))) return 'ok';
    }
  }

  close(): void {
    this.sock.close();
  }
}

/** Collects and checks the lines one input produced. */
class Collector {
  readonly violations: string[] = [];
  readonly serverErrors: string[] = [];
  private readonly parts: Buffer[] = [];
  private size = 0;
  /** A tagged OK carried [READ-WRITE]/[READ-ONLY]: the input selected a mailbox. */
  reselected = false;
  /** A tagged OK started TLS or compression (RFC 9051 §6.2.1, RFC 4978 §3). */
  switched = false;

  add(line: Buffer): void {
    const problem = checkImapLine(line);
    if (problem) this.violations.push(`${problem}: ${show(line)}`);
    const s = line.subarray(0, 200).toString('latin1');
    if (/\[SERVERBUG\]/i.test(s)) this.serverErrors.push(show(line));
    if (/^[^*+ ]\S* OK \[READ-(WRITE|ONLY)\]/.test(s)) this.reselected = true;
    if (/^[^*+ ]\S* OK .*\b(TLS|DEFLATE)\b/i.test(s)) this.switched = true;
    if (this.size < MAX_TRANSCRIPT) {
      this.parts.push(line, Buffer.from('\r\n'));
      this.size += line.length + 2;
    }
  }

  done(how: 'ok' | 'lost' | 'stalled'): Outcome {
    return {
      violations: this.violations,
      serverErrors: this.serverErrors,
      stalled: how === 'stalled',
      lost: how !== 'ok',
      transcript: Buffer.concat(this.parts),
    };
  }
}
