/**
 * The benchmark rows: the same IMAP workload for every server. Each group
 * prepares its connections once per server, then measures one run at a time
 * (the runner alternates servers between runs). Times cover one command (or
 * one pipelined batch) from the first byte sent to the tagged OK.
 */
import { performance } from 'node:perf_hooks';
import type { BenchServer } from './bench-server.js';
import { canPin, withPlacement } from './cpu-pin.js';
import { delaysUntil, ImapClient, type Response } from './imap-client.js';
import { appendArgs, BODY_WORD, expectedHits, generateMessage, SUBJECT_WORD, type BenchMessage, type Profile } from './messages.js';
import { cpuStopwatch, sleep, type Memory } from './proc.js';
import { median, percentile } from './stats.js';

/** Workload sizes; the full run's are scaled by --scale. */
export interface Sizes {
  /** Messages APPENDed in row 1 (and in the 10,000-message mailbox). */
  append: number;
  /** Messages in the big mailbox (rows 2, 3). */
  big: number;
  /** Messages in the mid mailbox (rows 4–7). */
  mid: number;
  /** Messages whose bodies row 5 fetches. */
  bodies: number;
  /** Connections in IDLE (row 8). */
  idlers: number;
  /** Messages in the mailbox the idlers select. */
  idleBox: number;
}

/** The sizes for a scale factor (1 = the full benchmark). */
export function sizesFor(scale: number): Sizes {
  const n = (full: number, min: number): number => Math.max(min, Math.round(full * scale));
  return { append: n(10_000, 20), big: n(100_000, 100), mid: n(10_000, 100), bodies: n(1_000, 10), idlers: n(2_000, 10), idleBox: n(1_000, 10) };
}

/** Mailboxes the groups need, filled once per server before measuring. */
export type BoxName = 'mid' | 'big' | 'idle';
/** Each mailbox's name, message profile and size. */
export const BOXES: Record<BoxName, { mailbox: string; profile: Profile; size: (s: Sizes) => number }> = {
  mid: { mailbox: 'bench-mid', profile: 'realistic', size: (s) => s.mid },
  big: { mailbox: 'bench-big', profile: 'compact', size: (s) => s.big },
  idle: { mailbox: 'bench-idle', profile: 'realistic', size: (s) => s.idleBox },
};

/** One measured value of one run. */
export interface Metric {
  key: string;
  label: string;
  unit: 'ms' | 'bytes';
  value: number;
  /** What the server answered, for the notes (response counts, hits). */
  detail?: string;
}

/** Per-server state the groups share. */
export interface Target {
  server: BenchServer;
  /** Open connections by purpose, made on first use. */
  conns: Map<string, ImapClient>;
}

/** Everything a group needs besides its target. */
export interface Context {
  sizes: Sizes;
  runs: number;
  /** Messages 0 … max(append, mid) − 1 of the realistic profile, generated up front. */
  corpus: BenchMessage[];
}

/** A row (or rows) of the table. */
export interface Group {
  id: string;
  title: string;
  needs: BoxName[];
  /** Read-only groups get the warm-up runs. */
  readOnly: boolean;
  /** Measured once per server; repetitions happen inside (row 8: logging in 2,000 connections is slow). */
  once?: boolean;
  /** Runs on freshly started servers, so garbage left by earlier rows cannot blur a memory reading. */
  fresh?: boolean;
  measure(t: Target, ctx: Context, run: number): Promise<Metric[]>;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** A logged-in connection for `purpose`, reused across runs. */
async function conn(t: Target, purpose: string, select?: string): Promise<ImapClient> {
  let c = t.conns.get(purpose);
  if (!c) {
    c = await ImapClient.login(t.server.port, t.server.user, t.server.password);
    if (select !== undefined) await c.ok(`SELECT ${select}`);
    t.conns.set(purpose, c);
  }
  return c;
}

/** Times one command; counts untagged responses whose head matches `count`. */
async function timed(c: ImapClient, command: string, count: RegExp): Promise<{ ms: number; matched: number; bytes: number; heads: string[] }> {
  let matched = 0;
  let bytes = 0;
  const heads: string[] = [];
  c.onUntagged = (r: Response) => {
    if (count.test(r.head)) {
      matched++;
      bytes += r.bytes;
      if (heads.length < 4) heads.push(r.head);
    }
  };
  const t0 = performance.now();
  await c.ok(command);
  const ms = performance.now() - t0;
  c.onUntagged = null;
  return { ms, matched, bytes, heads };
}

const FETCH_RE = /^\* \d+ FETCH /;

/** Appends messages with MULTIAPPEND (RFC 3502) to every target at once, in batches. */
export async function populate(targets: Target[], box: BoxName, sizes: Sizes, corpus: BenchMessage[]): Promise<void> {
  const { mailbox, profile, size } = BOXES[box];
  const total = size(sizes);
  const clients = await Promise.all(targets.map((t) => conn(t, 'populate')));
  await Promise.all(clients.map((c) => c.ok(`CREATE ${mailbox}`)));
  const MAX_BATCH = 200;
  // Under mailkeep's default max-command-size (1 MiB), which bounds a whole MULTIAPPEND.
  const MAX_BATCH_BYTES = 512 << 10;
  const inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < total; ) {
    const parts: Array<string | Buffer> = [`APPEND ${mailbox}`];
    let bytes = 0;
    for (let k = 0; i < total && k < MAX_BATCH && bytes < MAX_BATCH_BYTES; k++, i++) {
      const m = profile === 'realistic' && i < corpus.length ? corpus[i]! : generateMessage(i, profile);
      parts.push(` ${appendArgs(m)}`, m.bytes);
      bytes += m.bytes.length;
    }
    for (const c of clients) inFlight.push(c.ok(...parts));
    // two batches in flight per server keeps both busy without queueing megabytes
    while (inFlight.length > 2 * clients.length) await inFlight.shift();
    await Promise.all(clients.map((c) => c.drained()));
  }
  await Promise.all(inFlight);
  const checks = await Promise.all(clients.map((c) => timed(c, `STATUS ${mailbox} (MESSAGES)`, /^\* STATUS /)));
  for (const [k, chk] of checks.entries()) {
    const got = /MESSAGES (\d+)/.exec(chk.heads[0] ?? '')?.[1];
    if (Number(got) !== total) throw new Error(`${targets[k]!.server.name}: ${mailbox} has ${got} messages, expected ${total}`);
  }
  // Measure a settled mailbox, as a real one mostly is: Dovecot moves new/ to
  // cur/ on the first SELECT, and rescans a maildir whose directories changed
  // within the last seconds (maildir's dirty-sync window) until one sync after.
  const settle = (): Promise<unknown> => Promise.all(clients.map(async (c) => (await c.ok(`SELECT ${mailbox}`), c.ok('UNSELECT'))));
  await settle();
  await sleep(MAILDIR_SETTLE_MS);
  await settle();
}

/** Longer than Dovecot's maildir dirty-sync window. */
const MAILDIR_SETTLE_MS = 3_000;

/** Row 1: APPEND of the corpus, one message per command, pipelined with LITERAL+. */
const WINDOW = 16;
const appendGroup: Group = {
  id: '1',
  title: 'APPEND',
  needs: [],
  readOnly: false,
  async measure(t, ctx, run) {
    const c = await conn(t, 'append');
    const mailbox = `bench-append-${run}`;
    await c.ok(`CREATE ${mailbox}`);
    const n = ctx.sizes.append;
    let sent = 0;
    const t0 = performance.now();
    const inFlight: Array<Promise<unknown>> = [];
    for (; sent < n; sent++) {
      const m = ctx.corpus[sent]!;
      inFlight.push(c.ok(`APPEND ${mailbox} ${appendArgs(m)}`, m.bytes));
      if (inFlight.length >= WINDOW) await inFlight.shift();
      if (c.congested) await c.drained();
    }
    await Promise.all(inFlight);
    const ms = performance.now() - t0;
    await c.ok(`DELETE ${mailbox}`);
    return [{ key: 'append', label: `APPEND ${fmt(n)} messages (1 per command, ${WINDOW} pipelined)`, unit: 'ms', value: ms }];
  },
};

/**
 * Row 2b's SELECT/UNSELECT cycles per run. One ~0.1 ms sample varies
 * twofold from run to run, and a few hundred cycles pass before V8 has
 * optimized mailkeep's path (0.3 ms → 0.1 ms; Dovecot's C has no such
 * ramp): a re-SELECT is what a client switching folders does all day.
 */
const RESELECTS = 100;

/**
 * Row 2e's cycles: enough that the server's CPU time is not mostly V8
 * still compiling mailkeep's path on its helper threads (100 cycles after
 * the warm-up read ~150 µs a cycle, 20,000 read 84–89 µs).
 */
const CPU_CYCLES = 2_000;

/**
 * Row 2: SELECT of the big mailbox, first on a fresh connection (what a
 * client opening the mailbox waits for), then again on the same connection
 * after UNSELECT (Dovecot keeps a closed index open in the process for a
 * while): the median of RESELECTS such cycles, where the scheduler puts the
 * server, then with client and server pinned to two CPUs and to one
 * (cpu-pin.ts: the placement alone moves a cycle by ~40 µs).
 */
const selectGroup: Group = {
  id: '2',
  title: 'SELECT',
  needs: ['big'],
  readOnly: true,
  async measure(t, ctx) {
    const c = await ImapClient.login(t.server.port, t.server.user, t.server.password);
    try {
      const exists = /^\* \d+ EXISTS/;
      const fresh = await timed(c, `SELECT ${BOXES.big.mailbox}`, exists);
      // The median cycle, and the server's CPU time per cycle (SELECT and UNSELECT).
      const cycles = async (count = RESELECTS): Promise<{ ms: number; cpuMs: number }> => {
        const again: number[] = [];
        const cpuMs = cpuStopwatch(() => t.server.cpuNs());
        for (let i = 0; i < count; i++) {
          await c.ok('UNSELECT');
          again.push((await timed(c, `SELECT ${BOXES.big.mailbox}`, exists)).ms);
        }
        return { ms: median(again), cpuMs: cpuMs() / count };
      };
      const n = fmt(ctx.sizes.big);
      const label = `SELECT ${n}-message mailbox again, same connection`;
      const metrics: Metric[] = [
        { key: 'select', label: `SELECT ${n}-message mailbox, new connection`, unit: 'ms', value: fresh.ms, detail: fresh.heads[0] ?? 'no EXISTS' },
        { key: 'reselect', label, unit: 'ms', value: (await cycles()).ms },
      ];
      if (!canPin()) return metrics;
      // The server's tree now includes this connection's process (Dovecot forks one per login).
      const pids = t.server.pids();
      const apart = await withPlacement(pids, 'apart', () => cycles());
      const together = await withPlacement(pids, 'together', () => cycles());
      const cpu = await withPlacement(pids, 'apart', () => cycles(CPU_CYCLES));
      metrics.push(
        { key: 'reselect-apart', label: `${label}, client and server on two CPUs`, unit: 'ms', value: apart.ms },
        { key: 'reselect-together', label: `${label}, client and server on one CPU`, unit: 'ms', value: together.ms },
        { key: 'reselect-cpu', label: `server CPU time per UNSELECT + SELECT (${fmt(CPU_CYCLES)} cycles on two CPUs)`, unit: 'ms', value: cpu.cpuMs },
      );
      return metrics;
    } finally {
      await c.logout();
    }
  },
};

/** Row 3: UID FETCH 1:* (UID FLAGS) on the big mailbox. */
const uidFetchGroup: Group = {
  id: '3',
  title: 'UID FETCH FLAGS',
  needs: ['big'],
  readOnly: true,
  async measure(t, ctx) {
    const c = await conn(t, 'big', BOXES.big.mailbox);
    const r = await timed(c, 'UID FETCH 1:* (UID FLAGS)', FETCH_RE);
    return [
      { key: 'uidfetch', label: `UID FETCH 1:* (UID FLAGS), ${fmt(ctx.sizes.big)} messages`, unit: 'ms', value: r.ms, detail: `${fmt(r.matched)} FETCH` },
    ];
  },
};

/** Row 4: FETCH of the headers a client shows in a message list. */
const fetchMetaGroup: Group = {
  id: '4',
  title: 'FETCH ENVELOPE BODYSTRUCTURE',
  needs: ['mid'],
  readOnly: true,
  async measure(t, ctx) {
    const c = await conn(t, 'mid', BOXES.mid.mailbox);
    const r = await timed(c, 'FETCH 1:* (UID RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE)', FETCH_RE);
    return [
      {
        key: 'fetchmeta',
        label: `FETCH 1:* (UID RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE), ${fmt(ctx.sizes.mid)} messages`,
        unit: 'ms',
        value: r.ms,
        detail: `${fmt(r.matched)} FETCH, ${fmt(r.bytes)} bytes`,
      },
    ];
  },
};

/** Row 5: whole messages. */
const fetchBodyGroup: Group = {
  id: '5',
  title: 'FETCH BODY.PEEK[]',
  needs: ['mid'],
  readOnly: true,
  async measure(t, ctx) {
    const c = await conn(t, 'mid', BOXES.mid.mailbox);
    const n = ctx.sizes.bodies;
    const cpuMs = cpuStopwatch(() => t.server.cpuNs());
    const r = await timed(c, `FETCH 1:${n} BODY.PEEK[]`, FETCH_RE);
    const serverCpuMs = cpuMs();
    return [
      { key: 'fetchbody', label: `FETCH 1:${fmt(n)} BODY.PEEK[]`, unit: 'ms', value: r.ms, detail: `${fmt(r.matched)} FETCH, ${fmt(r.bytes)} bytes` },
      // Where client and server share a core the elapsed time swings (cpu-pin.ts); their CPU time does not.
      { key: 'fetchbodycpu', label: `server CPU time for FETCH 1:${fmt(n)} BODY.PEEK[]`, unit: 'ms', value: serverCpuMs },
    ];
  },
};

/** Row 6: SEARCH BODY and SEARCH SUBJECT (no full-text index on either side). */
const searchGroup: Group = {
  id: '6',
  title: 'SEARCH',
  needs: ['mid'],
  readOnly: true,
  async measure(t, ctx) {
    const c = await conn(t, 'mid', BOXES.mid.mailbox);
    c.headMax = 1 << 20; // the whole `* SEARCH …` line
    const hits = (heads: string[]): number => heads.reduce((sum, h) => sum + h.split(' ').length - 2, 0);
    const expected = expectedHits(ctx.sizes.mid);
    const body = await timed(c, `SEARCH BODY ${BODY_WORD}`, /^\* SEARCH/);
    const subject = await timed(c, `SEARCH SUBJECT ${SUBJECT_WORD}`, /^\* SEARCH/);
    return [
      {
        key: 'searchbody',
        label: `SEARCH BODY, ${fmt(ctx.sizes.mid)} messages`,
        unit: 'ms',
        value: body.ms,
        detail: `${hits(body.heads)} hits (expected ${expected.body})`,
      },
      {
        key: 'searchsubject',
        label: `SEARCH SUBJECT, ${fmt(ctx.sizes.mid)} messages`,
        unit: 'ms',
        value: subject.ms,
        detail: `${hits(subject.heads)} hits (expected ${expected.subject})`,
      },
    ];
  },
};

/** Row 7: setting and clearing a flag on every message (non-silent: the FETCH responses are part of the work). */
const storeGroup: Group = {
  id: '7',
  title: 'STORE',
  needs: ['mid'],
  readOnly: false,
  async measure(t, ctx) {
    const c = await conn(t, 'mid', BOXES.mid.mailbox);
    const add = await timed(c, 'STORE 1:* +FLAGS (\\Flagged)', FETCH_RE);
    const remove = await timed(c, 'STORE 1:* -FLAGS (\\Flagged)', FETCH_RE);
    const n = fmt(ctx.sizes.mid);
    return [
      { key: 'storeadd', label: `STORE 1:* +FLAGS (\\Flagged), ${n} messages`, unit: 'ms', value: add.ms, detail: `${fmt(add.matched)} FETCH` },
      { key: 'storeremove', label: `STORE 1:* -FLAGS (\\Flagged), ${n} messages`, unit: 'ms', value: remove.ms, detail: `${fmt(remove.matched)} FETCH` },
    ];
  },
};

/** Connections logging in at once while the idlers are set up. */
const LOGIN_CONCURRENCY = 32;
/** How long an APPEND may take to reach every idler before the rest count as missed. */
const NOTIFY_TIMEOUT_MS = 60_000;
/**
 * Memory is read at 0, ¼, ½, ¾ and all of the idlers; the per-connection
 * figure is the slope fitted from ¼ on: at 0 a fresh server still holds the
 * garbage of filling the mailbox, which the kernel got back only later (RSS
 * fell by 28 MiB from 0 to 500 idlers in one run, giving a negative slope).
 */
const MEMORY_STEPS = 4;
/** Bound on setting up all idlers. */
const CONNECT_DEADLINE_MS = 10 * 60_000;

/** Memory readings are repeated (a second apart, after a full GC where the server has one) until the last STABLE_READINGS agree. */
const STABLE_READINGS = 3;
const STABLE_RSS_BYTES = 1 << 20;
const MAX_READINGS = 20;

/**
 * The server's memory once it has settled: V8 returns freed pages to the OS
 * lazily (RSS fell by 15 MiB seconds after a quiet phase began), so one
 * reading right after a GC can still include garbage.
 */
async function settledMemory(server: BenchServer): Promise<Memory> {
  const readings: Memory[] = [];
  for (let i = 0; i < MAX_READINGS; i++) {
    if (i > 0) await sleep(1_000);
    await server.collectGarbage?.();
    readings.push(server.memory());
    const recent = readings.slice(-STABLE_READINGS).map((m) => m.rss);
    if (recent.length === STABLE_READINGS && Math.max(...recent) - Math.min(...recent) < STABLE_RSS_BYTES) break;
  }
  return readings[readings.length - 1]!;
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i]! - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? NaN : num / den;
}

/** Logs in `count` more idlers (SELECT + IDLE), `LOGIN_CONCURRENCY` at a time. */
async function addIdlers(t: Target, idlers: ImapClient[], idling: Array<Promise<unknown>>, count: number, deadline: number): Promise<void> {
  let left = count;
  const worker = async (): Promise<void> => {
    while (left > 0) {
      if (Date.now() > deadline) throw new Error(`only ${idlers.length} idlers connected in ${CONNECT_DEADLINE_MS / 1000} s`);
      left--;
      const c = await ImapClient.login(t.server.port, t.server.user, t.server.password);
      idlers.push(c);
      await c.ok(`SELECT ${BOXES.idle.mailbox}`);
      idling.push((await c.idle()).completion.catch(() => undefined));
    }
  };
  await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, worker));
}

/**
 * Row 8: memory per IDLE connection and the delay from an APPEND (on another
 * connection) to the `* n EXISTS` at every idler. Measured once per server, on
 * fresh servers; the latency is sampled `runs` times (one APPEND each) on the
 * same idlers.
 */
const idleGroup: Group = {
  id: '8',
  title: 'IDLE',
  needs: ['idle'],
  readOnly: false,
  once: true,
  fresh: true,
  async measure(t, ctx) {
    const n = ctx.sizes.idlers;
    const appender = await conn(t, 'idle-appender');
    const idlers: ImapClient[] = [];
    const idling: Array<Promise<unknown>> = [];
    const deadline = Date.now() + CONNECT_DEADLINE_MS;
    try {
      const counts: number[] = [];
      const memory: Memory[] = [];
      for (let step = 0; step <= MEMORY_STEPS; step++) {
        await addIdlers(t, idlers, idling, Math.round((n * step) / MEMORY_STEPS) - idlers.length, deadline);
        counts.push(idlers.length);
        memory.push(await settledMemory(t.server));
      }

      let exists = ctx.sizes.idleBox;
      const p50: number[] = [];
      const p99: number[] = [];
      const cpu: number[] = [];
      let missed = 0;
      for (let run = 0; run < ctx.runs; run++) {
        exists++;
        const m = ctx.corpus[run % ctx.corpus.length]!;
        const append = () => appender.ok(`APPEND ${BOXES.idle.mailbox} ${appendArgs(m)}`, m.bytes);
        const cpuMs = cpuStopwatch(() => t.server.cpuNs());
        const latencies = await delaysUntil(idlers, `* ${exists} EXISTS`, append, NOTIFY_TIMEOUT_MS);
        missed += idlers.length - latencies.length;
        p50.push(percentile(latencies, 50));
        p99.push(percentile(latencies, 99));
        await sleep(500);
        // After the pause: a server may finish work (write callbacks, a log line) after the last idler read.
        cpu.push(cpuMs());
      }
      const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)}`;
      const last = memory[memory.length - 1]!;
      const detail =
        `${fmt(n)} idlers, ${last.processes} processes; RSS MiB at ${counts.join('/')} idlers: ${memory.map((m) => mib(m.rss)).join('/')}` +
        `; ${ctx.runs} APPENDs${missed > 0 ? `, ${missed} notifications missed` : ''}`;
      return [
        {
          key: 'idlerss',
          label: `IDLE: server RSS per connection (${fmt(n)} connections)`,
          unit: 'bytes',
          value: slope(
            counts.slice(1),
            memory.slice(1).map((m) => m.rss),
          ),
          detail,
        },
        {
          key: 'idlepss',
          label: `IDLE: server PSS per connection (${fmt(n)} connections)`,
          unit: 'bytes',
          value: slope(
            counts.slice(1),
            memory.slice(1).map((m) => m.pss),
          ),
        },
        { key: 'idlep50', label: 'IDLE: APPEND → EXISTS at every idler, p50', unit: 'ms', value: median(p50) },
        { key: 'idlep99', label: 'IDLE: APPEND → EXISTS at every idler, p99', unit: 'ms', value: median(p99) },
        { key: 'idlecpu', label: `IDLE: server CPU time per APPEND and its ${fmt(n)} EXISTS`, unit: 'ms', value: median(cpu) },
      ];
    } finally {
      for (const c of idlers) {
        c.onUntagged = null;
        c.destroy();
      }
      await Promise.all(idling);
    }
  },
};

/** Every group, in the order they run. */
/**
 * Row 9: a device comes back (RFC 7162 QRESYNC): 1% of the big mailbox's
 * messages changed flags while it was away; time its SELECT (QRESYNC ...) on
 * a fresh connection until the tagged OK, FETCH responses included.
 */
const qresyncGroup: Group = {
  id: '9',
  title: 'QRESYNC reconnect',
  needs: ['big'],
  readOnly: false,
  async measure(t, ctx, run) {
    const mailbox = BOXES.big.mailbox;
    const device = await ImapClient.login(t.server.port, t.server.user, t.server.password);
    let uidValidity = 0;
    let modseq = 0;
    try {
      await device.ok('ENABLE QRESYNC');
      const state = await timed(device, `SELECT ${mailbox}`, /^\* OK \[(UIDVALIDITY|HIGHESTMODSEQ) /);
      for (const h of state.heads) {
        const m = /\[(UIDVALIDITY|HIGHESTMODSEQ) (\d+)\]/.exec(h);
        if (m?.[1] === 'UIDVALIDITY') uidValidity = Number(m[2]);
        if (m?.[1] === 'HIGHESTMODSEQ') modseq = Number(m[2]);
      }
    } finally {
      await device.logout();
    }
    // Another device changes every 100th message.
    const other = await conn(t, 'big', mailbox);
    const step = 100;
    const seqs = Array.from({ length: Math.floor(ctx.sizes.big / step) }, (_, i) => (i + 1) * step);
    await other.ok(`STORE ${seqs.join(',')} +FLAGS.SILENT ($bench${run})`);
    const back = await ImapClient.login(t.server.port, t.server.user, t.server.password);
    try {
      await back.ok('ENABLE QRESYNC');
      const r = await timed(back, `SELECT ${mailbox} (QRESYNC (${uidValidity} ${modseq}))`, FETCH_RE);
      return [
        {
          key: 'qresync',
          label: `QRESYNC reconnect, ${fmt(seqs.length)} of ${fmt(ctx.sizes.big)} messages changed`,
          unit: 'ms',
          value: r.ms,
          detail: `${fmt(r.matched)} FETCH`,
        },
      ];
    } finally {
      await back.logout();
    }
  },
};

/** Row 10: SORT and THREAD over the mid mailbox (RFC 5256). */
const sortThreadGroup: Group = {
  id: '10',
  title: 'SORT and THREAD',
  needs: ['mid'],
  readOnly: true,
  async measure(t, ctx) {
    const c = await conn(t, 'mid', BOXES.mid.mailbox);
    c.headMax = 1 << 20;
    const sort = await timed(c, 'SORT (DATE) UTF-8 ALL', /^\* SORT/);
    const sortSubject = await timed(c, 'SORT (SUBJECT) UTF-8 ALL', /^\* SORT/);
    const thread = await timed(c, 'THREAD REFERENCES UTF-8 ALL', /^\* THREAD/);
    const n = fmt(ctx.sizes.mid);
    const count = (heads: string[]): number => heads.reduce((sum, h) => sum + h.split(' ').length - 2, 0);
    return [
      { key: 'sortdate', label: `SORT (DATE), ${n} messages`, unit: 'ms', value: sort.ms, detail: `${fmt(count(sort.heads))} numbers` },
      { key: 'sortsubject', label: `SORT (SUBJECT), ${n} messages`, unit: 'ms', value: sortSubject.ms },
      { key: 'threadrefs', label: `THREAD REFERENCES, ${n} messages`, unit: 'ms', value: thread.ms },
    ];
  },
};

export const GROUPS: readonly Group[] = [
  appendGroup,
  selectGroup,
  uidFetchGroup,
  fetchMetaGroup,
  fetchBodyGroup,
  searchGroup,
  storeGroup,
  idleGroup,
  qresyncGroup,
  sortThreadGroup,
];
