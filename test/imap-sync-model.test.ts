/**
 * Several sessions on one account, against a naive model of the mailboxes
 * (issue 16: every answer shows the mailbox as it is now, to every client at
 * once). Random command lists (fast-check) run one command at a time across
 * the sessions, so "the store as of the command" is well defined; after every
 * reply the session checker (helpers/imap-session-checker.ts) checks the
 * ordering rules and this file checks the reply against the model:
 * - FLAGS in every FETCH are the model's flags as of the command (\Recent,
 *   per session, is left out of every comparison);
 * - the session's sequence map is the model's UID list plus the expunges the
 *   session may not be told of yet (RFC 9051 §7.5.1: during FETCH, STORE,
 *   SEARCH by sequence number), and nothing else after any other command;
 * - SEARCH answers equal the model's on the session's view;
 * - a STORE without .SILENT reports the flags of every message it set
 *   (RFC 9051 §6.4.6), and STORE … UNCHANGEDSINCE reports MODSEQ for each
 *   message it changed, even with .SILENT (RFC 7162 §3.1.3);
 * - after a NOOP in every session, every flag a session was told is the model's.
 * A second mode lets the sessions fire at once and checks the ordering rules only.
 * MAILKEEP_MODEL_RUNS=500 runs more random lists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { formatViolation, ImapSessionChecker, parseUidSet, responseCode, type ObservedReply } from './helpers/imap-session-checker.js';
import { RawClient, type Reply } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const RUNS = Number(process.env.MAILKEEP_MODEL_RUNS ?? 50);
const MAX_STEPS = 40;
/** The concurrent mode: runs, and steps per session in each. */
const CONCURRENT_RUNS = Math.max(1, Math.round(RUNS / 3));
const CONCURRENT_STEPS = 12;
/** Sessions: s0–s3 plain IMAP4rev1, s4 with ENABLE CONDSTORE. */
const SESSIONS = 5;
const CONDSTORE_SESSION = 4;
/** Once a counterexample is found, shrinking stops after this long (the smallest one so far is reported). */
const SHRINK_MS = 30_000;
const REPLY_TIMEOUT_MS = 10_000;
const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
const KEYWORDS = ['$Label1', '$Label2', '$Label3', '$Label4', '$Label5'];
const ALL_FLAGS = [...SYSTEM_FLAGS, ...KEYWORDS];
const SEARCH_KEYS = [
  'ALL',
  'FLAGGED',
  'UNFLAGGED',
  'SEEN',
  'UNSEEN',
  'ANSWERED',
  'DELETED',
  'UNDELETED',
  'DRAFT',
  'KEYWORD $Label1',
  'KEYWORD $Label2',
  'UNKEYWORD $Label3',
  'OR FLAGGED KEYWORD $Label4',
];

/** A message set chosen without knowing the view: mapped onto it when the step runs. */
interface SetSpec {
  start: number;
  len: number;
  all: boolean;
}

/** One abstract step; `s` is the session that sends it. */
type Op =
  | { op: 'append'; box: number; flags: string[] }
  | { op: 'store'; set: SetSpec; uid: boolean; mode: '' | '+' | '-'; flags: string[]; silent: boolean; unchanged: null | 'known' | 'low' }
  | { op: 'copy' | 'move'; set: SetSpec; uid: boolean }
  | { op: 'expunge' }
  | { op: 'uid-expunge'; set: SetSpec }
  | { op: 'select'; box: number; examine: boolean }
  | { op: 'fetch'; set: SetSpec; uid: boolean; items: string }
  | { op: 'search'; key: string; uid: boolean }
  | { op: 'noop' }
  | { op: 'sync-all' };
type Step = Op & { s: number };
type Top = Step | { op: 'idle'; s: number; inner: Step };

const setArb: fc.Arbitrary<SetSpec> = fc.record({ start: fc.nat(9), len: fc.nat(3), all: fc.boolean() });
const flagsArb = fc.subarray(ALL_FLAGS, { maxLength: 3 });
const sessionArb = fc.nat(SESSIONS - 1);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('append' as const), s: sessionArb, box: fc.nat(1), flags: flagsArb }), weight: 3 },
  {
    arbitrary: fc.record({
      op: fc.constant('store' as const),
      s: sessionArb,
      set: setArb,
      uid: fc.boolean(),
      mode: fc.constantFrom('' as const, '+' as const, '-' as const),
      flags: flagsArb,
      silent: fc.boolean(),
      unchanged: fc.constantFrom(null, null, 'known' as const, 'low' as const),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ op: fc.constantFrom('copy' as const, 'move' as const), s: sessionArb, set: setArb, uid: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('expunge' as const), s: sessionArb }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('uid-expunge' as const), s: sessionArb, set: setArb }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('select' as const), s: sessionArb, box: fc.nat(1), examine: fc.boolean() }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('fetch' as const),
      s: sessionArb,
      set: setArb,
      uid: fc.boolean(),
      items: fc.constantFrom('(FLAGS)', '(UID FLAGS)', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])', '(BODY[TEXT])', '(UID)'),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ op: fc.constant('search' as const), s: sessionArb, key: fc.constantFrom(...SEARCH_KEYS), uid: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('noop' as const), s: sessionArb }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('sync-all' as const), s: fc.constant(0) }), weight: 1 },
);
const topArb: fc.Arbitrary<Top> = fc.oneof(
  { arbitrary: stepArb, weight: 12 },
  { arbitrary: fc.record({ op: fc.constant('idle' as const), s: sessionArb, inner: stepArb }), weight: 1 },
);

/** The model of one mailbox: live messages' flags by UID, and the flags each expunged one had. */
interface ModelBox {
  name: string;
  live: Map<number, Set<string>>;
  gone: Map<number, Set<string>>;
}

interface Session {
  name: string;
  client: RawClient;
  checker: ImapSessionChecker;
  box: ModelBox | null;
  tags: number;
}

/** A failed expectation: thrown with the run's transcript. */
class Mismatch extends Error {}

let srv: TestServer;
let account = 0;

before(async () => {
  srv = await startTestServer();
});
after(async () => srv.stop());

/** A fresh account with `n` logged-in sessions (a fresh account keeps runs apart). */
async function sessions(n: number, sequential: boolean): Promise<{ user: string; list: Session[] }> {
  const user = `model${++account}`;
  await srv.addUser(user, 'pw');
  const list: Session[] = [];
  for (let i = 0; i < n; i++) {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    const r = await client.command('l', `LOGIN ${user} pw`);
    assert.match(r.tagged, /^l OK/, r.tagged);
    const name = `s${i}`;
    list.push({ name, client, checker: new ImapSessionChecker({ session: name, sequential, literals: 'inline' }), box: null, tags: 0 });
  }
  return { user, list };
}

function sorted(xs: Iterable<number>): number[] {
  return [...xs].sort((a, b) => a - b);
}

function sameFlags(a: Iterable<string>, b: Iterable<string>): boolean {
  const norm = (x: Iterable<string>): string =>
    [...x]
      .filter((f) => f.toLowerCase() !== '\\recent')
      .map((f) => f.toLowerCase())
      .sort()
      .join(' ');
  return norm(a) === norm(b);
}

function showFlags(x: Iterable<string>): string {
  return `(${[...x].filter((f) => f.toLowerCase() !== '\\recent').join(' ')})`;
}

/** One model-checked run: the steps, the model, the transcript. */
class Run {
  readonly transcript: string[] = [];
  readonly boxes: ModelBox[];
  private readonly problems: string[] = [];

  constructor(
    readonly list: Session[],
    run: number,
  ) {
    this.boxes = ['a', 'b'].map((x) => ({ name: `r${run}${x}`, live: new Map(), gone: new Map() }));
  }

  /** Sends one command and checks the reply with the session's checker; returns the reply and what it said. */
  async send(s: Session, command: string): Promise<{ reply: Reply; seen: ObservedReply }> {
    const tag = `${s.name}.${++s.tags}`;
    this.transcript.push(`${s.name}> ${command.replace(/\r\n/g, '⏎')}`);
    const reply = await s.client.command(tag, command, REPLY_TIMEOUT_MS);
    return { reply, seen: this.observe(s, command, reply) };
  }

  private observe(s: Session, command: string, reply: Reply): ObservedReply {
    const seen = s.checker.observe(command, reply.lines, reply.tagged);
    for (const v of seen.violations) this.problems.push(formatViolation(v));
    return seen;
  }

  /** Throws with the transcript and the reply when something did not match. */
  settle(reply?: Reply): void {
    if (this.problems.length === 0) return;
    const shown = reply ? ['reply:', ...reply.lines.map((l) => `  ${l.replace(/\r\n/g, '⏎')}`), `  ${reply.tagged}`] : [];
    throw new Mismatch(
      ['', 'commands (session> command):', ...this.transcript.map((t) => `  ${t}`), ...shown, 'problems:', ...this.problems.map((p) => `  ${p}`)].join('\n'),
    );
  }

  problem(text: string): void {
    this.problems.push(text);
  }

  async setUp(): Promise<void> {
    const [s0] = this.list as [Session];
    for (const b of this.boxes) await this.expectOk(s0, `CREATE ${b.name}`);
    for (const flags of [['\\Seen'], ['$Label1', '\\Flagged'], []]) await this.step({ op: 'append', s: 0, box: 0, flags });
    await this.expectOk(this.list[CONDSTORE_SESSION]!, 'ENABLE CONDSTORE');
    for (const i of this.list.keys()) await this.step({ op: 'select', s: i, box: i === 3 ? 1 : 0, examine: i === 3 });
  }

  private async expectOk(s: Session, command: string): Promise<void> {
    const { reply } = await this.send(s, command);
    if (!/^\S+ OK/.test(reply.tagged)) this.problem(`${s.name} «${command}»: ${reply.tagged}`);
    this.settle(reply);
  }

  /** Runs one top-level step; a timeout or a closed socket is reported with the transcript too. */
  async top(t: Top): Promise<void> {
    try {
      if (t.op !== 'idle') return await this.step(t);
      // The idler must not be the inner step's sender, and sync-all would have it send NOOP.
      const inner: Step = t.inner.op === 'sync-all' ? { op: 'noop', s: t.inner.s } : t.inner;
      return await this.idle(this.list[t.s]!, { ...inner, s: inner.s === t.s ? (t.s + 1) % SESSIONS : inner.s });
    } catch (err) {
      if (err instanceof Mismatch) throw err;
      this.problem(`${(err as Error).message}`);
      this.settle();
    }
  }

  /** IDLE in one session while another runs a step; every update the idler gets is checked like a reply. */
  private async idle(s: Session, inner: Step): Promise<void> {
    if (!s.box) return;
    const tag = `${s.name}.${++s.tags}`;
    this.transcript.push(`${s.name}> IDLE`);
    s.client.send(`${tag} IDLE\r\n`);
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      const line = await s.client.readLine(REPLY_TIMEOUT_MS);
      if (line.startsWith('+')) break;
      lines.push(line);
    }
    const view = s.checker.uids();
    await this.step(inner);
    await new Promise((r) => setTimeout(r, 30));
    this.transcript.push(`${s.name}> DONE`);
    s.client.send('DONE\r\n');
    const rest = await s.client.readTagged(tag, REPLY_TIMEOUT_MS);
    const reply = { ...rest, lines: [...lines, ...rest.lines] };
    const seen = this.observe(s, 'IDLE', reply);
    if (!/^\S+ OK/.test(reply.tagged)) this.problem(`${s.name} IDLE: ${reply.tagged}`);
    this.checkReply(s, seen, view, false, true);
    this.settle(reply);
  }

  /** Runs one step, updates the model from its reply and checks the reply against the model. */
  async step(st: Step): Promise<void> {
    const s = this.list[st.s]!;
    if (st.op === 'sync-all') return this.syncAll();
    if (st.op === 'append') return this.append(s, this.boxes[st.box]!, st.flags);
    if (st.op === 'select') return this.select(s, this.boxes[st.box]!, st.examine);
    const box = s.box;
    if (!box) return;
    const view = s.checker.uids();
    const set = this.resolve(st, view);
    if (set === null) return; // nothing to name in an empty view
    const command = this.commandFor(st, s, set.text);
    const { reply, seen } = await this.send(s, command);
    const ok = /^\S+ OK/.test(reply.tagged);
    const deferred = !('uid' in st && st.uid) && (st.op === 'fetch' || st.op === 'store' || st.op === 'search');
    const before = new Map([...box.live].map(([u, f]) => [u, new Set(f)]));
    const inLive = set.uids.filter((u) => box.live.has(u));
    const readOnlyChange = s.checker.readOnly && (st.op === 'store' || st.op === 'move' || st.op === 'expunge' || st.op === 'uid-expunge');
    if (readOnlyChange) {
      if (ok) this.problem(`${s.name} «${command}»: OK in a read-only session`);
    } else if (!ok && set.uids.every((u) => box.live.has(u))) {
      this.problem(`${s.name} «${command}»: ${reply.tagged}`);
    }
    if (ok && !readOnlyChange) {
      switch (st.op) {
        case 'store': {
          const modified = responseCode(reply.tagged, 'MODIFIED');
          const failed = new Set(modified ? this.setUids(modified, st.uid, view) : []);
          for (const u of inLive) {
            if (failed.has(u)) continue;
            const f = box.live.get(u)!;
            if (st.mode === '') box.live.set(u, new Set(st.flags));
            else
              for (const flag of st.flags)
                if (st.mode === '+') f.add(flag);
                else f.delete(flag);
          }
          this.checkStore(s, st, seen, inLive, failed, before);
          break;
        }
        case 'fetch':
          // RFC 9051 §6.4.5: BODY[...] without PEEK sets \Seen in a read-write session.
          if (st.items.includes('BODY[') && !s.checker.readOnly) for (const u of inLive) box.live.get(u)!.add('\\Seen');
          break;
        case 'copy':
        case 'move':
          this.copied(s, box, reply, st.op === 'move', set.uids);
          break;
        case 'expunge':
        case 'uid-expunge':
          for (const u of st.op === 'expunge' ? [...box.live.keys()] : inLive) {
            const f = box.live.get(u)!;
            if (!f.has('\\Deleted')) continue;
            box.live.delete(u);
            box.gone.set(u, f);
          }
          break;
      }
    }
    if (st.op === 'store' && st.silent && ok) {
      // The client knows what its own silent STORE did (sequential: nothing else changed meanwhile).
      for (const [i, u] of s.checker.uids().entries()) if (inLive.includes(u) && box.live.has(u)) s.checker.learn(i + 1, { flags: [...box.live.get(u)!] });
    }
    this.checkReply(s, seen, view, deferred);
    if (st.op === 'search') this.checkSearch(s, st, seen, command);
    this.settle(reply);
  }

  private async append(s: Session, box: ModelBox, flags: string[]): Promise<void> {
    const view = s.checker.uids();
    const command = appendCommand(box, flags);
    const { reply, seen } = await this.send(s, command);
    const code = responseCode(reply.tagged, 'APPENDUID');
    const uid = code ? Number(code.split(' ')[1]) : NaN;
    if (!/^\S+ OK/.test(reply.tagged) || !Number.isInteger(uid)) this.problem(`${s.name} APPEND: ${reply.tagged}`);
    else this.newUid(box, uid, new Set(flags), 'APPENDUID');
    if (s.box) this.checkReply(s, seen, view, false);
    this.settle(reply);
  }

  private newUid(box: ModelBox, uid: number, flags: Set<string>, source: string): void {
    const top = Math.max(0, ...box.live.keys(), ...box.gone.keys());
    if (uid <= top) this.problem(`${source} gave UID ${uid} in ${box.name}, not above ${top}`);
    box.live.set(uid, flags);
  }

  private async select(s: Session, box: ModelBox, examine: boolean): Promise<void> {
    const { reply, seen } = await this.send(s, `${examine ? 'EXAMINE' : 'SELECT'} ${box.name}`);
    if (!/^\S+ OK/.test(reply.tagged)) this.problem(`${s.name} SELECT: ${reply.tagged}`);
    s.box = box;
    this.checkReply(s, seen, [], false);
    this.settle(reply);
    // Learn the whole map once, as clients do.
    if (s.checker.count > 0) {
      const { reply: r, seen: f } = await this.send(s, `FETCH ${s.checker.count === 1 ? '1' : `1:${s.checker.count}`} (UID)`);
      this.checkReply(s, f, s.checker.uids(), true);
      this.settle(r);
    }
  }

  /** NOOP in every session, then every flag a session was told must be the model's. */
  private async syncAll(): Promise<void> {
    for (const s of this.list) {
      if (!s.box) continue;
      const view = s.checker.uids();
      const { reply, seen } = await this.send(s, 'NOOP');
      this.checkReply(s, seen, view, false);
      this.settle(reply);
    }
    for (const s of this.list) {
      if (!s.box) continue;
      for (const [i, u] of s.checker.uids().entries()) {
        const told = s.checker.flagsAt(i + 1);
        const model = s.box.live.get(u);
        if (told && model && !sameFlags(told, model))
          this.problem(`${s.name} after NOOP: it was last told ${showFlags(told)} for UID ${u} in ${s.box.name}, the store has ${showFlags(model)}`);
      }
    }
    this.settle();
  }

  /**
   * Sends a step without the model (sessions running at once): the set comes from the session's own
   * view, by sequence number wherever that view does not know the UIDs; only the checker judges.
   */
  async fire(st: Step): Promise<void> {
    const s = this.list[st.s]!;
    if (st.op === 'append') return void (await this.send(s, appendCommand(this.boxes[st.box]!, st.flags)));
    if (st.op === 'select') {
      await this.send(s, `${st.examine ? 'EXAMINE' : 'SELECT'} ${this.boxes[st.box]!.name}`);
      s.box = this.boxes[st.box]!;
      return;
    }
    if (!s.box || st.op === 'sync-all') return void (await this.send(s, 'NOOP'));
    const view = s.checker.uids();
    const sent: Step = 'uid' in st ? { ...st, uid: st.uid && !view.includes(0) } : st;
    const set = this.resolve(sent, view);
    if (set) await this.send(s, this.commandFor(sent, s, set.text));
  }

  /** The concrete set and the UIDs it names in the session's view (null: the view is empty). */
  private resolve(st: Step, view: number[]): { text: string; uids: number[] } | null {
    if (st.op === 'expunge' || st.op === 'noop') return { text: '', uids: [] };
    if (st.op === 'search') return { text: '', uids: [] };
    if (!('set' in st)) return { text: '', uids: [] };
    if (view.length === 0) return null;
    const a = st.set.all ? 1 : 1 + (st.set.start % view.length);
    const b = st.set.all ? view.length : Math.min(view.length, a + st.set.len);
    const uids = view.slice(a - 1, b);
    const uid = 'uid' in st ? st.uid : true;
    const text = uid ? (a === b ? `${view[a - 1]}` : `${view[a - 1]}:${view[b - 1]}`) : a === b ? `${a}` : `${a}:${b}`;
    return { text, uids };
  }

  /** The UIDs a set in a response code names: UIDs already, or sequence numbers of the view. */
  private setUids(set: string, uid: boolean, view: number[]): number[] {
    const out: number[] = [];
    for (const [a, b] of parseUidSet(set)) for (let n = a; n <= b && out.length < 1000; n++) out.push(uid ? n : (view[n - 1] ?? -1));
    return out;
  }

  private commandFor(st: Step, s: Session, set: string): string {
    const uid = 'uid' in st && st.uid ? 'UID ' : '';
    const other = this.boxes.find((b) => b !== s.box)!;
    switch (st.op) {
      case 'store': {
        const since = st.unchanged === null ? '' : ` (UNCHANGEDSINCE ${st.unchanged === 'low' ? 1 : (s.checker.highestModseq ?? 1n)})`;
        return `${uid}STORE ${set}${since} ${st.mode}FLAGS${st.silent ? '.SILENT' : ''} (${st.flags.join(' ')})`;
      }
      case 'copy':
        return `${uid}COPY ${set} ${other.name}`;
      case 'move':
        return `${uid}MOVE ${set} ${other.name}`;
      case 'expunge':
        return 'EXPUNGE';
      case 'uid-expunge':
        return `UID EXPUNGE ${set}`;
      case 'fetch':
        return `${uid}FETCH ${set} ${st.items}`;
      case 'search':
        return `${uid}SEARCH ${st.key}`;
      default:
        return 'NOOP';
    }
  }

  /** COPY/MOVE: the COPYUID pairs give the new UIDs; every live source must be among them. */
  private copied(s: Session, box: ModelBox, reply: Reply, move: boolean, asked: number[]): void {
    const other = this.boxes.find((b) => b !== box)!;
    const code = [...reply.lines, reply.tagged].map((l) => responseCode(l, 'COPYUID')).find((c) => c !== null);
    const [, src = '', dst = ''] = (code ?? '').split(' ');
    const from = this.setUids(src, true, []);
    const to = this.setUids(dst, true, []);
    const live = asked.filter((u) => box.live.has(u));
    if (live.length > 0 && (from.length !== to.length || live.some((u) => !from.includes(u)))) {
      this.problem(`${s.name} ${move ? 'MOVE' : 'COPY'} of UIDs ${live.join(',')}: COPYUID ${code ?? 'missing'}`);
    }
    for (const [i, u] of from.entries()) {
      const f = box.live.get(u);
      if (!f) continue;
      this.newUid(other, to[i]!, new Set(f), 'COPYUID');
      if (move) {
        box.live.delete(u);
        box.gone.set(u, f);
      }
    }
  }

  /**
   * The view after the reply must be the model's list, plus (after a command that may not expunge) the
   * expunges the session was not told of; then every FETCH's FLAGS must be the model's.
   */
  /**
   * `spansChanges`: the reply covers other sessions' commands (IDLE), so a
   * message's earlier FETCH was true when sent and only its last one must
   * match the store now.
   */
  private checkReply(s: Session, seen: ObservedReply, viewBefore: number[], deferred: boolean, spansChanges = false): void {
    const box = s.box!;
    const live = sorted(box.live.keys());
    const options: number[][] = [live];
    if (deferred) {
      const base = sorted(new Set([...live, ...viewBefore]));
      const top = Math.max(0, ...viewBefore);
      const extras = [...box.gone.keys()].filter((u) => u > top);
      options.splice(0, 1, base);
      if (extras.length > 0) options.push(sorted(new Set([...base, ...extras])));
    }
    const got = s.checker.uids();
    const match = options.find((o) => o.length === got.length && o.every((u, i) => got[i] === 0 || got[i] === u));
    if (!match) {
      this.problem(
        `${s.name} view of ${box.name} is [${got.map((u) => u || '?').join(' ')}], the model has [${options.map((o) => o.join(' ')).join('] or [')}]`,
      );
      return;
    }
    match.forEach((u, i) => got[i] === 0 && s.checker.learn(i + 1, { uid: u }));
    const flagFetches = seen.fetches.filter((f) => f.flags);
    for (const [k, f] of flagFetches.entries()) {
      const uid = f.uid ?? (f.seqAtEnd > 0 ? match[f.seqAtEnd - 1] : undefined);
      if (uid === undefined) continue;
      if (spansChanges && flagFetches.slice(k + 1).some((g) => g.seqAtEnd === f.seqAtEnd)) continue;
      const model = box.live.get(uid) ?? box.gone.get(uid);
      if (!model) this.problem(`${s.name}: ${f.line} names UID ${uid}, unknown in ${box.name}`);
      else if (!sameFlags(f.flags!, model)) this.problem(`${s.name}: ${f.line} — the store has ${showFlags(model)} for UID ${uid}`);
    }
  }

  /** RFC 9051 §6.4.6: STORE without .SILENT reports every message's flags; RFC 7162 §3.1.3: UNCHANGEDSINCE reports MODSEQ of each changed one. */
  private checkStore(
    s: Session,
    st: Extract<Step, { op: 'store' }>,
    seen: ObservedReply,
    inLive: number[],
    failed: Set<number>,
    before: Map<number, Set<string>>,
  ): void {
    const box = s.box!;
    const reported = (u: number, what: 'flags' | 'modseq'): boolean =>
      seen.fetches.some((f) => (f.uid ?? s.checker.uids()[f.seqAtEnd - 1]) === u && f[what] !== undefined);
    for (const u of inLive) {
      if (failed.has(u)) continue;
      if (!st.silent && !reported(u, 'flags')) this.problem(`${s.name}: no FETCH FLAGS for UID ${u} after a STORE without .SILENT (RFC 9051 §6.4.6)`);
      const changed = !sameFlags(before.get(u) ?? [], box.live.get(u) ?? []);
      if (st.unchanged !== null && changed && !reported(u, 'modseq'))
        this.problem(`${s.name}: no FETCH MODSEQ for UID ${u}, changed by STORE UNCHANGEDSINCE (RFC 7162 §3.1.3)`);
    }
  }

  private checkSearch(s: Session, st: Extract<Step, { op: 'search' }>, seen: ObservedReply, command: string): void {
    const box = s.box!;
    if (seen.search === null) {
      this.problem(`${s.name} «${command}»: no untagged SEARCH`);
      return;
    }
    const view = s.checker.uids();
    const want: number[] = [];
    const maybe = new Set<number>();
    for (const [i, u] of view.entries()) {
      const n = st.uid ? u : i + 1;
      const live = box.live.get(u);
      if (live && matches(st.key, live)) want.push(n);
      else if (!live) maybe.add(n);
    }
    const got = seen.search.filter((n) => !maybe.has(n));
    if (sorted(got).join(' ') !== want.join(' ')) this.problem(`${s.name} «${command}»: SEARCH ${seen.search.join(' ')}, the model says ${want.join(' ')}`);
  }
}

/** APPEND of a small new message with the given flags (LITERAL+). */
function appendCommand(box: ModelBox, flags: string[]): string {
  const msg = `Subject: m${box.live.size + box.gone.size + 1}\r\n\r\nbody\r\n`;
  return `APPEND ${box.name} (${flags.join(' ')}) {${msg.length}+}\r\n${msg}`;
}

/** Search keys on one flag: the flag, and whether a match has it. */
const FLAG_KEYS: Record<string, [string, boolean]> = {
  FLAGGED: ['\\Flagged', true],
  UNFLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', true],
  UNSEEN: ['\\Seen', false],
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  UNDELETED: ['\\Deleted', false],
  DRAFT: ['\\Draft', true],
};

/** The model's answer to one of SEARCH_KEYS (RFC 9051 §6.4.4). */
function matches(key: string, flags: Set<string>): boolean {
  const [word = '', a = '', , b = ''] = key.split(' ');
  if (word === 'ALL') return true;
  if (word === 'KEYWORD') return flags.has(a);
  if (word === 'UNKEYWORD') return !flags.has(a);
  if (word === 'OR') return matches(a, flags) || flags.has(b); // OR <flag key> KEYWORD <kw>
  const rule = FLAG_KEYS[word];
  if (!rule) throw new Error(`no model for SEARCH ${key}`);
  return flags.has(rule[0]) === rule[1];
}

/**
 * Logged-in sessions kept from run to run (a login costs a scrypt hash; each run has its own mailboxes),
 * with fresh checkers; dropped after a failed run, whose sessions may be left inside IDLE.
 */
class SessionPool {
  private list: Session[] | null = null;

  constructor(private readonly sequential: boolean) {}

  async take(): Promise<Session[]> {
    if (this.list) {
      // Back to the authenticated state, where set-up's ENABLE is allowed (RFC 5161 §3.1).
      for (const s of this.list) if (s.box) await s.client.command('reset', 'UNSELECT', REPLY_TIMEOUT_MS);
    }
    this.list ??= (await sessions(SESSIONS, this.sequential)).list;
    for (const s of this.list) {
      s.checker = new ImapSessionChecker({ session: s.name, sequential: this.sequential, literals: 'inline' });
      s.box = null;
    }
    return this.list;
  }

  drop(): void {
    for (const s of this.list ?? []) s.client.close();
    this.list = null;
  }
}

/** Runs fixed steps after the usual set-up, in fresh sessions. */
async function scripted(steps: Top[]): Promise<void> {
  const { list } = await sessions(SESSIONS, true);
  const run = new Run(list, 0);
  try {
    await run.setUp();
    for (const t of steps) await run.top(t);
    await run.step({ op: 'sync-all', s: 0 });
  } finally {
    for (const s of list) s.client.close();
  }
}

const one = (start: number, len = 0): SetSpec => ({ start, len, all: false });

describe('sessions against a model of the store', () => {
  // The three answers of issue 16. Set-up: A holds 1 (\Seen), 2 ($Label1 \Flagged), 3 (); s0–s2 and s4 select A.
  test("a FETCH after another session's STORE answers with the flags as they are now, once", () =>
    scripted([
      { op: 'store', s: 0, set: one(0), uid: false, mode: '+', flags: ['\\Answered'], silent: false, unchanged: null },
      { op: 'noop', s: 1 },
      { op: 'store', s: 0, set: one(0), uid: false, mode: '-', flags: ['\\Answered'], silent: false, unchanged: null },
      { op: 'fetch', s: 1, set: one(0), uid: true, items: '(FLAGS)' },
    ]));

  test('a keyword new to the mailbox is announced in FLAGS before a FETCH shows it', () =>
    scripted([
      { op: 'store', s: 0, set: one(2), uid: false, mode: '+', flags: ['$Label2'], silent: false, unchanged: null },
      { op: 'fetch', s: 1, set: one(0, 2), uid: false, items: '(FLAGS)' },
    ]));

  test('STORE UNCHANGEDSINCE +FLAGS.SILENT reports MODSEQ for each message it changed', () =>
    scripted([{ op: 'store', s: CONDSTORE_SESSION, set: one(0, 1), uid: false, mode: '+', flags: ['\\Flagged'], silent: true, unchanged: 'known' }]));

  // Found by the random lists: the new message never reached s3, not even after NOOP (set-up: s3 EXAMINEs the empty B).
  test('a STORE that changes nothing does not hide a message appended meanwhile', () =>
    scripted([
      { op: 'append', s: 0, box: 1, flags: [] },
      { op: 'select', s: 3, box: 1, examine: false },
      { op: 'append', s: 0, box: 1, flags: [] },
      { op: 'store', s: 3, set: one(0), uid: false, mode: '-', flags: [], silent: true, unchanged: null },
      { op: 'noop', s: 3 },
    ]));

  // Found by the random lists (CI, stop 27): s0 answered UID 1 with the flags it had before s1's STORE, after the MOVE.
  test('a FETCH of a message another session changed, then moved away, does not show the flags it had before', () =>
    scripted([
      { op: 'store', s: 1, set: one(0), uid: false, mode: '', flags: [], silent: false, unchanged: null },
      { op: 'move', s: 1, set: one(0), uid: false },
      { op: 'fetch', s: 0, set: one(0), uid: false, items: '(FLAGS)' },
    ]));

  test(`random command lists, one command at a time (${RUNS} runs)`, async () => {
    let run = 0;
    let failedAt = 0;
    const pool = new SessionPool(true);
    await fc
      .assert(
        fc.asyncProperty(fc.array(topArb, { maxLength: MAX_STEPS }), async (tops) => {
          if (failedAt > 0 && Date.now() - failedAt > SHRINK_MS) return; // enough shrinking: keep the smallest so far
          const r = new Run(await pool.take(), ++run);
          try {
            await r.setUp();
            for (const t of tops) await r.top(t);
            await r.step({ op: 'sync-all', s: 0 });
          } catch (err) {
            if (failedAt === 0) failedAt = Date.now();
            pool.drop();
            throw err;
          }
        }),
        { numRuns: RUNS, includeErrorInReport: true },
      )
      .finally(() => pool.drop());
  });

  test(`random command lists, all sessions at once: the ordering rules only (${CONCURRENT_RUNS} runs)`, async () => {
    let run = 1000;
    const pool = new SessionPool(false);
    const lists = fc.array(fc.array(stepArb, { maxLength: CONCURRENT_STEPS }), { minLength: SESSIONS, maxLength: SESSIONS });
    await fc
      .assert(
        fc.asyncProperty(lists, async (perSession) => {
          const r = new Run(await pool.take(), ++run);
          try {
            await r.setUp();
            await Promise.all(
              perSession.map(async (steps, i) => {
                for (const st of steps) await r.fire({ ...st, s: i });
              }),
            );
            r.settle();
          } catch (err) {
            pool.drop();
            throw err;
          }
        }),
        { numRuns: CONCURRENT_RUNS, includeErrorInReport: true, endOnFailure: true },
      )
      .finally(() => pool.drop());
  });
});
