/**
 * Event-loop guard (issue 18, finding 10): while one session runs a heavy
 * command, how long does another session's NOOP take? A second connection
 * sends NOOP after NOOP (each after the previous answered, 5 ms apart) for
 * the whole of each heavy command; the table gives the NOOP round trip's
 * p50/p99/max and the heavy command's own time. Target: p99 ≤ 50 ms.
 *
 *   node dist/bench/event-loop-guard.js [--servers mailkeep,mailkeep-pg,dovecot]
 *                                       [--copies 8] [--runs 3] [--keep] [--cpu-prof DIR]
 *
 * With --runs N the servers take turns N times (each run a fresh server),
 * so all see the same noise of a shared machine; the table gives the median
 * over the runs of each figure, and stderr each run's.
 *
 * Cases, as the security probe ran them: SEARCH with 20 TEXT keys over 200
 * messages of 2,000 header fields; `COPY 1:*` doubling 1,000 messages
 * `--copies` times (256,000 at 8; each COPY is one sample, the largest
 * reported); `STORE 1:* +FLAGS (\Flagged)` and `(\Deleted)` then EXPUNGE on
 * that mailbox; LIST over 200 mailboxes of 495-character names with 8
 * wildcard-heavy patterns, and with a 60,000-byte reference; one MULTIAPPEND
 * of 1,000 messages. Dovecot (a process per connection) is the yardstick: its
 * NOOPs are not delayed by another connection's command.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { BenchServer } from './bench-server.js';
import { intOption } from './cli-options.js';
import { startDovecot } from './dovecot.js';
import { ImapClient } from './imap-client.js';
import { startMailkeep, startMailkeepPg } from './mailkeep.js';
import { median, percentile } from './stats.js';

const log = (msg: string): void => void process.stderr.write(`[event-loop guard ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A message with `fields` header fields, about 30 bytes each. */
function manyFields(i: number, fields: number): string {
  const lines = [`Subject: many fields ${i}`, 'From: a@example.org', 'To: b@example.org', `Message-ID: <f${i}@example.org>`];
  for (let k = 0; k < fields; k++) lines.push(`X-Field-${k}: value ${k} of message ${i}`);
  return `${lines.join('\r\n')}\r\n\r\nbody ${i}\r\n`;
}

/** A small message. */
function small(i: number): string {
  return `Subject: small ${i}\r\nFrom: a@example.org\r\nMessage-ID: <s${i}@example.org>\r\n\r\nhello ${i}\r\n`;
}

/** One MULTIAPPEND (RFC 3502) of the messages, LITERAL+ so nothing waits for a continuation. */
function multiAppend(box: string, messages: string[]): Array<string> {
  return [`APPEND ${box}`, ...messages.map((m) => ` {${Buffer.byteLength(m)}+}\r\n${m}`)];
}

/** Round trips of NOOPs sent on `probe` until `work` settles, and how long `work` took. */
async function probeDuring(probe: ImapClient, work: () => Promise<unknown>): Promise<{ rtts: number[]; ms: number }> {
  const rtts: number[] = [];
  let done = false;
  const loop = (async () => {
    while (!done) {
      const t = performance.now();
      await probe.ok('NOOP');
      rtts.push(performance.now() - t);
      await sleep(5);
    }
  })();
  const t0 = performance.now();
  await sleep(10);
  try {
    await work();
  } finally {
    done = true;
  }
  const ms = performance.now() - t0;
  await loop;
  return { rtts, ms };
}

interface Row {
  server: string;
  case: string;
  ms: number;
  rtts: number[];
}

async function runCases(server: BenchServer, copies: number): Promise<Row[]> {
  const rows: Row[] = [];
  const heavy = await ImapClient.login(server.port, server.user, server.password);
  const probe = await ImapClient.login(server.port, server.user, server.password);
  const measure = async (name: string, work: () => Promise<unknown>): Promise<void> => {
    const r = await probeDuring(probe, work);
    rows.push({ server: server.name, case: name, ...r });
    log(`${server.name} ${name}: ${r.ms.toFixed(0)} ms, NOOP max ${Math.max(...r.rtts).toFixed(1)} ms`);
  };

  log(`${server.name}: filling`);
  await heavy.ok('CREATE fields');
  for (let b = 0; b < 4; b++)
    await heavy.ok(
      ...multiAppend(
        'fields',
        Array.from({ length: 50 }, (_, k) => manyFields(b * 50 + k, 2000)),
      ),
    );
  await heavy.ok('CREATE big');
  for (let b = 0; b < 5; b++)
    await heavy.ok(
      ...multiAppend(
        'big',
        Array.from({ length: 200 }, (_, k) => small(b * 200 + k)),
      ),
    );
  // 495-character names (the finding's); a server that refuses them (Dovecot: 255) gets the longest it takes of 240.
  const longName = (k: number, length: number): string => `${String(k).padStart(3, '0')}${'x'.repeat(length - 3)}`;
  const nameLength = (await heavy.send(`CREATE ${longName(0, 495)}`)).status === 'OK' ? 495 : 240;
  if (nameLength !== 495) await heavy.ok(`CREATE ${longName(0, nameLength)}`);
  for (let k = 1; k < 200; k++) await heavy.ok(`CREATE ${longName(k, nameLength)}`);

  await heavy.ok('SELECT fields');
  const keys = Array.from({ length: 20 }, (_, k) => `TEXT nomatch${k}`).join(' ');
  await measure('SEARCH 20×TEXT, 200 msgs × 2,000 fields', () => heavy.send(`SEARCH ${keys}`));

  await heavy.ok('SELECT big');
  const copyRuns: Row[] = [];
  for (let c = 0; c < copies; c++) {
    const r = await probeDuring(probe, () => heavy.ok('COPY 1:* big'));
    copyRuns.push({ server: server.name, case: `COPY 1:* (${1000 << c} → ${2000 << c})`, ...r });
    log(`${server.name} COPY ${c + 1}/${copies}: ${r.ms.toFixed(0)} ms, NOOP max ${Math.max(...r.rtts).toFixed(1)} ms`);
  }
  const biggest = copyRuns[copyRuns.length - 1];
  if (biggest) rows.push({ ...biggest, rtts: copyRuns.flatMap((r) => r.rtts), case: `COPY 1:* ×${copies} (to ${1000 << copies}; time of the last)` });
  await heavy.ok('NOOP');
  const n = 1000 << copies;
  await measure(`STORE 1:* +FLAGS (\\Flagged), ${n} msgs`, () => heavy.ok('STORE 1:* +FLAGS.SILENT (\\Flagged)'));
  await measure(`STORE 1:* +FLAGS (\\Deleted), ${n} msgs`, () => heavy.ok('STORE 1:* +FLAGS.SILENT (\\Deleted)'));
  await measure(`EXPUNGE ${n} msgs`, () => heavy.ok('EXPUNGE'));
  await heavy.ok('UNSELECT');

  const patterns = Array.from({ length: 8 }, (_, k) => `"${'*%'.repeat(100)}${k}${'%*'.repeat(100)}y"`).join(' ');
  await measure(`LIST 8 wildcard patterns, 200 names of ${nameLength} chars`, () => heavy.send(`LIST "" (${patterns})`));
  await measure('LIST 60,000-byte reference', () => heavy.send(`LIST "${'*'.repeat(60000)}" "*"`));
  await heavy.ok('CREATE multi');
  const batch = Array.from({ length: 1000 }, (_, k) => small(k));
  await measure('MULTIAPPEND 1,000 msgs', () => heavy.ok(...multiAppend('multi', batch)));
  for (const c of [heavy, probe]) await c.send('LOGOUT').catch(() => undefined);
  return rows;
}

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** One row's figures: the command's time and the NOOP round trip's p50/p99/max, in ms, and the NOOP count. */
function figures(r: Row): number[] {
  return [r.ms, percentile(r.rtts, 50), percentile(r.rtts, 99), Math.max(...r.rtts), r.rtts.length];
}

/** Table lines: per server and case, the median of each figure over the runs (in the order first seen). */
function medianTable(rows: readonly Row[]): string[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.server} | ${r.case}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const lines = ['| server | case | command ms | NOOP p50 ms | NOOP p99 ms | NOOP max ms | NOOPs |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const [key, runs] of groups) {
    const per = runs.map(figures);
    const med = per[0]!.map((_, k) => median(per.map((f) => f[k]!)));
    lines.push(`| ${key} | ${med.map((v, k) => (k === 4 ? v.toFixed(0) : fmt(v))).join(' | ')} |`);
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      servers: { type: 'string', default: 'mailkeep' },
      copies: { type: 'string', default: '8' },
      runs: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
    },
  });
  const copies = intOption('copies', values.copies, 0, 10);
  const runs = intOption('runs', values.runs, 1, 20);
  const rows: Row[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const name of values.servers.split(',')) {
      const opts = { maxConnections: 10, keep: values.keep, quiet: true, cpuProfDir: values['cpu-prof'] ?? null };
      const server = name === 'dovecot' ? await startDovecot(opts) : name === 'mailkeep-pg' ? await startMailkeepPg(opts) : await startMailkeep(opts);
      try {
        const mine = await runCases(server, copies);
        rows.push(...mine);
        log(`run ${run}/${runs} ${name}: ${mine.map((r) => `${r.case.slice(0, 32)}: ${figures(r).map(fmt).join('/')}`).join('; ')}`);
      } finally {
        await server.stop();
      }
    }
  }
  process.stdout.write(`${medianTable(rows).join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
