/**
 * The floor under row 8 on this machine: the fastest any server could get a
 * `* n EXISTS` to every idler. A child process that does nothing but accept
 * connections and, when told, write one line to each of them in a single
 * loop; the same client as row 8 measures the delay from the trigger to the
 * line at every connection (p50, p99). Whatever mailkeep's p99 is above this
 * is mailkeep's own cost; this part is the kernel's and the client's.
 *
 *   node dist/bench/idle-floor.js [--idlers 2000] [--runs 7]
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { delaysUntil, ImapClient } from './imap-client.js';
import { sleep } from './proc.js';
import { median, percentile } from './stats.js';

/** Connections opened at once while the idlers are set up. */
const CONNECT_CONCURRENCY = 32;
/** How long one trigger may take to reach every idler before the rest count as missed. */
const NOTIFY_TIMEOUT_MS = 30_000;

/** The child: a greeting per connection; a line `T<n>` on any connection (`<tag> T<n>`) writes `* <n> EXISTS` to all others, then `<tag> OK`. */
function serve(): void {
  const sockets = new Set<net.Socket>();
  const greeting = Buffer.from('* OK floor\r\n');
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.write(greeting);
    sock.on('data', (chunk: Buffer) => {
      const m = /^\S+ T(\d+)/.exec(chunk.toString('latin1'));
      if (!m) return;
      const line = Buffer.from(`* ${m[1]} EXISTS\r\n`);
      for (const s of sockets) if (s !== sock) s.write(line);
      sock.write(`${chunk.toString('latin1').split(' ')[0]} OK\r\n`);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as net.AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { idlers: { type: 'string', default: '2000' }, runs: { type: 'string', default: '7' } } });
  const idlers = Math.max(1, Math.min(20_000, Number(values.idlers)));
  const runs = Math.max(1, Math.min(100, Number(values.runs)));
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' });
  try {
    const port = await new Promise<number>((resolve) => child.once('message', (p) => resolve(p as number)));
    const trigger = await ImapClient.connect(port);
    const clients: ImapClient[] = [];
    let left = idlers;
    await Promise.all(
      Array.from({ length: CONNECT_CONCURRENCY }, async () => {
        while (left-- > 0) clients.push(await ImapClient.connect(port));
      }),
    );
    const p50: number[] = [];
    const p99: number[] = [];
    let missed = 0;
    for (let run = 1; run <= runs; run++) {
      const latencies = await delaysUntil(clients, `* ${run} EXISTS`, () => trigger.send(`T${run}`), NOTIFY_TIMEOUT_MS);
      missed += clients.length - latencies.length;
      p50.push(percentile(latencies, 50));
      p99.push(percentile(latencies, 99));
      await sleep(300);
    }
    for (const c of clients) c.destroy();
    trigger.destroy();
    console.log(`| idlers | runs | p50 (ms) | p99 (ms) | missed |`);
    console.log(`| ---: | ---: | ---: | ---: | ---: |`);
    console.log(`| ${idlers} | ${runs} | ${median(p50).toFixed(2)} | ${median(p99).toFixed(2)} | ${missed} |`);
  } finally {
    child.kill();
  }
}

if (process.argv.includes('--serve')) serve();
else await main();
