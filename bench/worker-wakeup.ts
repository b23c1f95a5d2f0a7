/**
 * Issue 21's wake-up row: a change committed in one worker reaches IDLE
 * sessions in every other worker (target: 10 ms p99). Starts mailkeep with
 * `--workers N`, opens idlers on one mailbox, asks each (and the appender)
 * which worker serves it (ID's `x-worker`), then times each APPEND from the
 * first byte sent to the `* n EXISTS` at every idler, split into idlers in
 * the appender's worker (in-process wake-up) and in the other workers (the
 * bus relay through the primary). The delays include the APPEND's own
 * commit; the relay's share is the per-APPEND difference of the medians.
 *
 *   node dist/bench/worker-wakeup.js [--workers 1,2] [--idlers 40] [--appends 100] [--runs 3]
 *
 * Each run restarts the servers, one contender after the other, reversing
 * the order on every second run. See bench/README.md.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { intOption } from './cli-options.js';
import { ImapClient } from './imap-client.js';
import { startMailkeep, type MailkeepServer } from './mailkeep.js';
import { appendArgs, generateMessage } from './messages.js';
import { sleep } from './proc.js';
import { median, percentile } from './stats.js';

/** Pause between APPENDs, so each wake-up is measured on its own. */
const PAUSE_MS = 20;
/** Longest an APPEND may take to reach every idler. */
const WAKE_TIMEOUT_MS = 10_000;
const BOX = 'wakeup';

interface Options {
  workers: number[];
  idlers: number;
  appends: number;
  runs: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '1,2' },
      idlers: { type: 'string', default: '40' },
      appends: { type: 'string', default: '100' },
      runs: { type: 'string', default: '3' },
    },
  });
  return {
    workers: values.workers.split(',').map((w) => intOption('workers', w, 1, 64)),
    idlers: intOption('idlers', values.idlers, 1, 2000),
    appends: intOption('appends', values.appends, 1, 10_000),
    runs: intOption('runs', values.runs, 1, 20),
  };
}

const log = (msg: string): void => void process.stderr.write(`[wakeup ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Delays of one contender's run, in ms, by where the idler was. */
interface Delays {
  same: number[];
  other: number[];
  /** Per APPEND heard in both: the median delay in other workers minus that in the appender's (the relay's share). */
  extra: number[];
  missed: number;
}

async function login(server: MailkeepServer): Promise<ImapClient> {
  const c = await ImapClient.connect(server.port);
  await c.ok(`LOGIN ${server.user} ${server.password}`);
  return c;
}

/** The worker serving the connection (ID's x-worker; 0 without a cluster). */
async function workerOf(c: ImapClient): Promise<number> {
  let slot = 0;
  c.onUntagged = (r) => {
    const m = /"x-worker" "(\d+)"/.exec(r.head);
    if (m) slot = Number(m[1]);
  };
  await c.ok('ID NIL');
  c.onUntagged = null;
  return slot;
}

async function oneRun(workers: number, opts: Options): Promise<Delays> {
  const server = await startMailkeep({ workers, maxConnections: opts.idlers + 10, keep: false, quiet: true, name: `mailkeep ×${workers}` });
  const clients: ImapClient[] = [];
  try {
    const appender = await login(server);
    clients.push(appender);
    await appender.ok(`CREATE ${BOX}`);
    const home = await workerOf(appender);
    const idlers: Array<{ c: ImapClient; same: boolean }> = [];
    for (let i = 0; i < opts.idlers; i++) {
      const c = await login(server);
      clients.push(c);
      const same = (await workerOf(c)) === home;
      await c.ok(`SELECT ${BOX}`);
      await c.idle();
      idlers.push({ c, same });
    }
    log(`×${workers}: ${idlers.filter((i) => i.same).length} idlers in the appender's worker, ${idlers.filter((i) => !i.same).length} in others`);
    const out: Delays = { same: [], other: [], extra: [], missed: 0 };
    for (let k = 1; k <= opts.appends; k++) {
      const want = `* ${k} EXISTS`;
      let heard = 0;
      let t0 = 0;
      const these: Delays = { same: [], other: [], extra: [], missed: 0 };
      const all = new Promise<void>((resolve) => {
        for (const { c, same } of idlers) {
          c.onUntagged = (r) => {
            if (r.head !== want) return;
            (same ? these.same : these.other).push(performance.now() - t0);
            if (++heard === idlers.length) resolve();
          };
        }
      });
      const m = generateMessage(k);
      t0 = performance.now();
      await appender.ok(`APPEND ${BOX} ${appendArgs(m)}`, m.bytes);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise((r) => (timer = setTimeout(r, WAKE_TIMEOUT_MS)))]);
      clearTimeout(timer);
      out.missed += idlers.length - heard;
      out.same.push(...these.same);
      out.other.push(...these.other);
      if (these.same.length > 0 && these.other.length > 0) out.extra.push(median(these.other) - median(these.same));
      for (const { c } of idlers) c.onUntagged = null;
      await sleep(PAUSE_MS);
    }
    return out;
  } finally {
    for (const c of clients) c.destroy();
    await server.stop();
  }
}

const ms = (v: number): string => (Number.isNaN(v) ? '–' : v.toFixed(2));

async function main(): Promise<void> {
  const opts = options();
  const runs = new Map<number, Delays[]>();
  for (let run = 0; run < opts.runs; run++) {
    const order = run % 2 === 0 ? opts.workers : [...opts.workers].reverse();
    for (const w of order) {
      log(`run ${run + 1}: mailkeep ×${w}, ${opts.idlers} idlers, ${opts.appends} APPENDs`);
      runs.set(w, [...(runs.get(w) ?? []), await oneRun(w, opts)]);
    }
  }
  const lines = [
    `APPEND → \`* n EXISTS\` at ${opts.idlers} idlers, ${opts.appends} APPENDs per run, ${opts.runs} runs (ms; p50/p99 per run, then the median of the runs)`,
    '',
    '| workers | idlers in | p50 | p99 | max | missed | relay extra p50 / p99 |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [w, list] of runs) {
    for (const where of ['same', 'other'] as const) {
      if (list.every((d) => d[where].length === 0)) continue;
      const p50 = median(list.map((d) => percentile(d[where], 50)));
      const p99 = median(list.map((d) => percentile(d[where], 99)));
      const max = Math.max(...list.map((d) => Math.max(...d[where])));
      const missed = list.reduce((n, d) => n + d.missed, 0);
      const extra =
        where === 'other' ? `${ms(median(list.map((d) => percentile(d.extra, 50))))} / ${ms(median(list.map((d) => percentile(d.extra, 99))))}` : '';
      lines.push(`| ${w} | ${where === 'same' ? "the appender's worker" : 'other workers'} | ${ms(p50)} | ${ms(p99)} | ${ms(max)} | ${missed} | ${extra} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
