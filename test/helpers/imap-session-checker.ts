/**
 * A client-side checker of one IMAP session: fed each command a client sent
 * and the response lines it got, it keeps the session's idea of the selected
 * mailbox (sequence number → UID, the flags and MODSEQ last reported for each
 * message, the last untagged FLAGS) the way a careful client would, and
 * reports every response that breaks the ordering rules a client relies on.
 *
 * Invariants checked (each violation is data, printable on one line):
 * - every keyword in a FETCH's FLAGS was listed in the session's last
 *   untagged FLAGS response (RFC 9051 §7.3.5, RFC 3501 §7.2.6: the client
 *   records FLAGS; mailkeep announces a new keyword before using it);
 * - no EXPUNGE, and no VANISHED without EARLIER, while a FETCH, STORE or
 *   SEARCH by sequence number runs (RFC 9051 §7.5.1, RFC 3501 §7.4.1,
 *   RFC 7162 §3.2.10.2);
 * - sequence numbers keep mapping to the same UIDs, UIDs ascend with them,
 *   EXPUNGE and FETCH name existing sequence numbers, and EXISTS never
 *   shrinks the count (RFC 9051 §2.3.1.2, §7.4.1, §7.5.1);
 * - a message's MODSEQ never goes down within a session (RFC 7162 §3.1.4);
 * - in sequential mode (nothing else changes the store while a command
 *   runs), one reply never reports two different FLAGS for one message: a
 *   stale answer corrected in the same reply.
 *
 * It works on the raw client's lines (test/helpers/raw-client.ts, literals
 * inlined after `{n}\r\n`) and on the benchmark client's heads
 * (bench/imap-client.ts, literal contents left out).
 */

/** The kinds of rule a response can break. */
export type ViolationKind =
  | 'unannounced-keyword'
  | 'expunge-during-command'
  | 'seq-uid-mismatch'
  | 'uid-order'
  | 'seq-out-of-range'
  | 'exists-shrank'
  | 'modseq-decreased'
  | 'flags-twice'
  | 'unparsable';

/** One broken rule: which session, during which command, on which line. */
export interface Violation {
  kind: ViolationKind;
  session: string;
  command: string;
  line: string;
  detail: string;
}

/** One readable line for a violation. */
export function formatViolation(v: Violation): string {
  return `[${v.kind}] ${v.session} «${clip(v.command)}»: ${clip(v.line)} — ${v.detail}`;
}

/** What the checker learned from one untagged FETCH. */
export interface FetchFact {
  /** The sequence number on the line. */
  seq: number;
  /** The message's UID: from the line, or from the tracked map; undefined when neither knows it. */
  uid: number | undefined;
  /** FLAGS as sent, when the line has them. */
  flags?: string[];
  modseq?: bigint;
  line: string;
  /** The message's sequence number once the whole reply was applied (0: expunged later in the reply). */
  seqAtEnd: number;
}

/** What one reply said, beside its violations. */
export interface ObservedReply {
  violations: Violation[];
  fetches: FetchFact[];
  /** Numbers of the untagged SEARCH response, or null when there was none. */
  search: number[] | null;
  /** EXPUNGE sequence numbers and VANISHED UIDs count; for callers that want to know a reply shrank the view. */
  expunged: number;
  tagged: string;
}

/** How the checker reads lines. */
export interface CheckerOptions {
  /** The session's name in violations ("s2", "client 17"). */
  session: string;
  /** One command at a time across all sessions: enables the stale-then-corrected rule. */
  sequential: boolean;
  /** `{n}\r\n` is followed by the n literal bytes (raw client) or they were left out (benchmark client). */
  literals: 'inline' | 'skipped';
}

/** A message slot of the selected mailbox as the client knows it. */
interface Slot {
  /** 0 while unknown (announced by EXISTS only). */
  uid: number;
  flags: string[] | undefined;
  modseq: bigint | undefined;
}

/** Commands whose sequence-number form must not be interrupted by expunges (RFC 9051 §7.5.1). */
const NO_EXPUNGE = new Set(['FETCH', 'STORE', 'SEARCH']);
/** Longest command or line quoted in a violation. */
const CLIP = 160;

/** Tracks one session and checks every reply it gets. */
export class ImapSessionChecker {
  /** The selected mailbox, or null. */
  mailbox: string | null = null;
  readOnly = false;
  /** The flag list of the last untagged FLAGS response since SELECT/EXAMINE (null: none yet). */
  lastFlags: ReadonlySet<string> | null = null;
  /** The highest mod-sequence this session has been told for the selected mailbox. */
  highestModseq: bigint | null = null;
  /** After a VANISHED naming UIDs the map did not know, sequence numbers can no longer be checked. */
  lost = false;
  private slots: Slot[] = [];
  /** MODSEQ last reported per `mailbox uid`, across selections. */
  private readonly modseqs = new Map<string, bigint>();

  constructor(readonly opts: CheckerOptions) {}

  /** Number of messages the session knows of. */
  get count(): number {
    return this.slots.length;
  }

  /** The session's sequence-number map: UID of seq n at index n-1 (0 while unknown). */
  uids(): number[] {
    return this.slots.map((s) => s.uid);
  }

  /** The flags last reported (or assumed) for seq n, or undefined. */
  flagsAt(seq: number): readonly string[] | undefined {
    return this.slots[seq - 1]?.flags;
  }

  /** Records what the client knows otherwise (its own silent STORE, a UID learned elsewhere). */
  learn(seq: number, facts: { uid?: number; flags?: readonly string[] }): void {
    const slot = this.slots[seq - 1];
    if (!slot) return;
    if (facts.uid !== undefined) slot.uid = facts.uid;
    if (facts.flags !== undefined) slot.flags = [...facts.flags];
  }

  /**
   * Applies one command's reply: `command` without its tag, `lines` the
   * untagged (and continuation) lines in order, `tagged` its completion.
   */
  observe(command: string, lines: readonly string[], tagged: string): ObservedReply {
    const { name, uid } = commandName(command);
    const reply: ObservedReply = { violations: [], fetches: [], search: null, expunged: 0, tagged };
    const ctx: Ctx = { command, name, uid, reply, reported: new Map() };
    if (name === 'SELECT' || name === 'EXAMINE') this.select(mailboxArgument(command), name === 'EXAMINE');
    for (const line of lines) {
      try {
        this.untagged(line, ctx);
      } catch (err) {
        this.violate(ctx, 'unparsable', line, (err as Error).message);
      }
    }
    const status = /^\S+ (OK|NO|BAD)\b/.exec(tagged)?.[1];
    if (name === 'SELECT' || name === 'EXAMINE') {
      if (status === 'OK') this.readOnly = /\[READ-ONLY\]/i.test(tagged) || name === 'EXAMINE';
      else this.select(null, false);
    } else if ((name === 'UNSELECT' || name === 'CLOSE') && status === 'OK') this.select(null, false);
    return reply;
  }

  private select(mailbox: string | null, readOnly: boolean): void {
    this.mailbox = mailbox;
    this.readOnly = readOnly;
    this.lastFlags = null;
    this.highestModseq = null;
    this.lost = false;
    this.slots = [];
  }

  private untagged(line: string, ctx: Ctx): void {
    if (!line.startsWith('* ')) return; // continuation requests, IDLE's "+ idling"
    const m = /^\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)\b ?/i.exec(line);
    if (m) {
      const n = Number(m[1]);
      const what = m[2]!.toUpperCase();
      if (what === 'EXISTS') this.exists(n, line, ctx);
      else if (what === 'EXPUNGE') this.expunge(n, line, ctx);
      else if (what === 'FETCH') this.fetch(n, line.slice(m[0].length), line, ctx);
      return;
    }
    const word = /^\* ([A-Za-z]+)/.exec(line)?.[1]?.toUpperCase();
    if (word === 'FLAGS') {
      const r = new Reader(line, 8, this.opts.literals);
      this.lastFlags = new Set(r.list().map(String));
    } else if (word === 'SEARCH') {
      const nums = line
        .slice(8)
        .trim()
        .split(/\s+/)
        .filter((s) => /^\d+$/.test(s))
        .map(Number);
      ctx.reply.search = nums;
      if (!ctx.uid && this.mailbox !== null && !this.lost) {
        for (const n of nums)
          if (n > this.slots.length) this.violate(ctx, 'seq-out-of-range', line, `SEARCH names ${n}, the session knows ${this.slots.length} messages`);
      }
    } else if (word === 'VANISHED') {
      this.vanished(line, ctx);
    } else if (word === 'OK') {
      const hm = /\[HIGHESTMODSEQ (\d+)\]/i.exec(line);
      if (hm) this.raiseHighest(BigInt(hm[1]!));
    }
  }

  private exists(n: number, line: string, ctx: Ctx): void {
    if (this.lost) this.slots.length = Math.min(this.slots.length, n);
    else if (n < this.slots.length) {
      this.violate(ctx, 'exists-shrank', line, `the session knew ${this.slots.length} messages`);
      this.slots.length = n;
    }
    while (this.slots.length < n) this.slots.push({ uid: 0, flags: undefined, modseq: undefined });
  }

  private expunge(n: number, line: string, ctx: Ctx): void {
    this.noExpungeNow(line, ctx);
    ctx.reply.expunged++;
    if (n < 1 || n > this.slots.length) {
      if (!this.lost) this.violate(ctx, 'seq-out-of-range', line, `EXPUNGE of ${n}, the session knows ${this.slots.length} messages`);
      return;
    }
    this.slots.splice(n - 1, 1);
    for (const f of ctx.reply.fetches) {
      if (f.seqAtEnd === n) f.seqAtEnd = 0;
      else if (f.seqAtEnd > n) f.seqAtEnd--;
    }
  }

  /** RFC 7162 §3.2.10.2: VANISHED (EARLIER) answers a UID FETCH; plain VANISHED replaces EXPUNGE. */
  private vanished(line: string, ctx: Ctx): void {
    const m = /^\* VANISHED (\(EARLIER\) )?([\d:,]+)/i.exec(line);
    if (!m) throw new Error('VANISHED without a UID set');
    if (m[1]) return;
    this.noExpungeNow(line, ctx);
    const ranges = parseUidSet(m[2]!);
    const inSet = (u: number): boolean => ranges.some(([a, b]) => u >= a && u <= b);
    const before = this.slots.length;
    const kept = this.slots.filter((s) => s.uid === 0 || !inSet(s.uid));
    const removed = before - kept.length;
    ctx.reply.expunged += removed;
    // UIDs this map does not know may have been among the unknown slots: the count is uncertain now.
    if (kept.some((s) => s.uid === 0) && countInRanges(ranges) > removed) this.lost = true;
    this.slots = kept;
  }

  private noExpungeNow(line: string, ctx: Ctx): void {
    if (!ctx.uid && NO_EXPUNGE.has(ctx.name)) this.violate(ctx, 'expunge-during-command', line, `RFC 9051 §7.5.1: no expunge while ${ctx.name} runs`);
  }

  private fetch(seq: number, rest: string, line: string, ctx: Ctx): void {
    const items = new Reader(rest, 0, this.opts.literals).fetchItems();
    const uidItem = items.get('UID');
    const lineUid = typeof uidItem === 'string' ? Number(uidItem) : undefined;
    const flagsItem = items.get('FLAGS');
    const flags = Array.isArray(flagsItem) ? flagsItem.map(String) : undefined;
    const modseqItem = items.get('MODSEQ');
    const modseq = Array.isArray(modseqItem) && typeof modseqItem[0] === 'string' ? BigInt(modseqItem[0]) : undefined;
    const slot = this.mailbox !== null && !this.lost ? this.slots[seq - 1] : undefined;
    if (this.mailbox !== null && !this.lost && !slot)
      this.violate(ctx, 'seq-out-of-range', line, `FETCH of ${seq}, the session knows ${this.slots.length} messages`);
    if (slot && lineUid !== undefined) this.placeUid(seq, slot, lineUid, line, ctx);
    const uid = lineUid ?? (slot && slot.uid !== 0 ? slot.uid : undefined);
    if (flags) {
      // RFC 9051 §7.3.5: the client learns the keywords from FLAGS; one it was not told of has no place.
      const unknown = flags.filter((f) => !f.startsWith('\\') && !this.lastFlags?.has(f));
      if (this.mailbox !== null && unknown.length > 0) {
        this.violate(
          ctx,
          'unannounced-keyword',
          line,
          `${unknown.join(' ')} not in the last FLAGS (${[...(this.lastFlags ?? [])].join(' ') || 'none received'})`,
        );
      }
      if (this.opts.sequential && slot && ctx.name !== 'IDLE') {
        const key = [...flags].sort().join(' ');
        const before = ctx.reported.get(slot);
        if (before !== undefined && before !== key) this.violate(ctx, 'flags-twice', line, `this reply already said FLAGS (${before})`);
        ctx.reported.set(slot, key);
      }
      if (slot) slot.flags = flags;
    }
    if (modseq !== undefined) {
      const last = slot?.modseq ?? (uid !== undefined && this.mailbox !== null ? this.modseqs.get(`${this.mailbox} ${uid}`) : undefined);
      if (last !== undefined && modseq < last) this.violate(ctx, 'modseq-decreased', line, `MODSEQ was ${last}`);
      if (slot) slot.modseq = modseq;
      if (uid !== undefined && this.mailbox !== null) this.modseqs.set(`${this.mailbox} ${uid}`, modseq);
      this.raiseHighest(modseq);
    }
    ctx.reply.fetches.push({ seq, uid, ...(flags ? { flags } : {}), ...(modseq !== undefined ? { modseq } : {}), line, seqAtEnd: slot ? seq : 0 });
  }

  /** A UID for slot seq: must match what the map knew and ascend with the sequence numbers (RFC 9051 §2.3.1.2). */
  private placeUid(seq: number, slot: Slot, uid: number, line: string, ctx: Ctx): void {
    if (slot.uid !== 0 && slot.uid !== uid) {
      this.violate(ctx, 'seq-uid-mismatch', line, `the session maps ${seq} to UID ${slot.uid}`);
      return;
    }
    for (let i = seq - 2; i >= 0; i--) {
      const u = this.slots[i]!.uid;
      if (u === 0) continue;
      if (u >= uid) this.violate(ctx, 'uid-order', line, `seq ${i + 1} has UID ${u}`);
      break;
    }
    for (let i = seq; i < this.slots.length; i++) {
      const u = this.slots[i]!.uid;
      if (u === 0) continue;
      if (u <= uid) this.violate(ctx, 'uid-order', line, `seq ${i + 1} has UID ${u}`);
      break;
    }
    slot.uid = uid;
  }

  private raiseHighest(m: bigint): void {
    if (this.highestModseq === null || m > this.highestModseq) this.highestModseq = m;
  }

  private violate(ctx: Ctx, kind: ViolationKind, line: string, detail: string): void {
    ctx.reply.violations.push({ kind, session: this.opts.session, command: ctx.command, line, detail });
  }
}

interface Ctx {
  command: string;
  name: string;
  uid: boolean;
  reply: ObservedReply;
  /** FLAGS already reported in this reply, per message (sequential mode). */
  reported: Map<Slot, string>;
}

/** The command's name in upper case, and whether it had the UID prefix. */
export function commandName(command: string): { name: string; uid: boolean } {
  const words = /^(\S+)(?: (\S+))?/.exec(command);
  const first = (words?.[1] ?? '').toUpperCase();
  if (first === 'UID') return { name: (words?.[2] ?? '').toUpperCase(), uid: true };
  return { name: first, uid: false };
}

/** A response code's text from a tagged or untagged line (`[MODIFIED 3,5]` → "3,5" for "MODIFIED"). */
export function responseCode(line: string, code: string): string | null {
  const m = new RegExp(`\\[${code}(?: ([^\\]]*))?\\]`, 'i').exec(line);
  return m ? (m[1] ?? '') : null;
}

/** Ranges of a UID or sequence set without `*` ("1:3,7" → [[1,3],[7,7]]), never expanded. */
export function parseUidSet(set: string): Array<[number, number]> {
  return set.split(',').map((part) => {
    const [a, b = a] = part.split(':').map(Number) as [number, number?];
    return [Math.min(a, b), Math.max(a, b)];
  });
}

function countInRanges(ranges: ReadonlyArray<[number, number]>): number {
  return ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
}

/** The mailbox argument of SELECT/EXAMINE (an atom or a quoted string). */
function mailboxArgument(command: string): string {
  const rest = command.replace(/^\S+ /, '');
  const q = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
  return q ? q[1]!.replace(/\\(.)/g, '$1') : (rest.split(' ')[0] ?? '');
}

function clip(s: string): string {
  const one = s.replace(/\r\n/g, '\\r\\n');
  return one.length > CLIP ? `${one.slice(0, CLIP)}…` : one;
}

/** A parsed response value: atom, number or string as text, NIL as null, a list as an array. */
type Value = string | null | Value[];

/** Nesting deeper than this is not a response we sent a command for (BODYSTRUCTURE stays well below). */
const MAX_DEPTH = 32;

/** Reads response values from one line; each step consumes input, so loops end with the line. */
class Reader {
  constructor(
    private readonly s: string,
    private pos: number,
    private readonly literals: 'inline' | 'skipped',
  ) {}

  /** A parenthesized list at the current position. */
  list(depth = 0): Value[] {
    if (depth > MAX_DEPTH) throw new Error('lists nested too deep');
    this.expect('(');
    const out: Value[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.pos >= this.s.length) throw new Error('unterminated list');
      if (this.s[this.pos] === ')') {
        this.pos++;
        return out;
      }
      out.push(this.value(depth));
    }
  }

  /** The attribute list of a FETCH response: name → value (`BODY[...]<n>` names kept whole). */
  fetchItems(): Map<string, Value> {
    const items = new Map<string, Value>();
    this.expect('(');
    for (;;) {
      this.skipSpaces();
      if (this.pos >= this.s.length) throw new Error('unterminated FETCH');
      if (this.s[this.pos] === ')') return items;
      const name = this.itemName();
      this.skipSpaces();
      items.set(name, this.value(0));
    }
  }

  private itemName(): string {
    const start = this.pos;
    let brackets = 0;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === '[') brackets++;
      else if (c === ']') brackets--;
      else if (brackets === 0 && (c === ' ' || c === '(' || c === ')')) break;
      this.pos++;
    }
    if (this.pos === start) throw new Error(`FETCH item name expected at ${start}`);
    return this.s.slice(start, this.pos).toUpperCase();
  }

  private value(depth: number): Value {
    const c = this.s[this.pos];
    if (c === '(') return this.list(depth + 1);
    if (c === '"') return this.quoted();
    if (c === '{' || (c === '~' && this.s[this.pos + 1] === '{')) return this.literal();
    const start = this.pos;
    while (this.pos < this.s.length && !' ()'.includes(this.s[this.pos]!)) this.pos++;
    if (this.pos === start) throw new Error(`value expected at ${start}`);
    const atom = this.s.slice(start, this.pos);
    return atom.toUpperCase() === 'NIL' ? null : atom;
  }

  private quoted(): string {
    let out = '';
    for (this.pos++; this.pos < this.s.length; this.pos++) {
      const c = this.s[this.pos]!;
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '\\') this.pos++;
      out += this.s[this.pos] ?? '';
    }
    throw new Error('unterminated quoted string');
  }

  private literal(): string {
    const m = /^~?\{(\d+)\}\r\n/.exec(this.s.slice(this.pos, this.pos + 24));
    if (!m) throw new Error(`bad literal at ${this.pos}`);
    this.pos += m[0].length;
    if (this.literals === 'skipped') return '';
    const n = Number(m[1]);
    const text = this.s.slice(this.pos, this.pos + n);
    this.pos += n;
    return text;
  }

  private expect(c: string): void {
    this.skipSpaces();
    if (this.s[this.pos] !== c) throw new Error(`expected '${c}' at ${this.pos}`);
    this.pos++;
  }

  private skipSpaces(): void {
    while (this.s[this.pos] === ' ') this.pos++;
  }
}
