/**
 * The floor under row 8 on this machine: the fastest any server could get a
 * `* n EXISTS` to every idler. Child processes that do nothing but accept
 * connections and, when told, write one line to each of them in a single
 * loop; the same client as row 8 measures the delay from the trigger to the
 * line at every connection (p50, p99). Whatever mailkeep's p99 is above this
 * is mailkeep's own cost; this part is the kernel's and the client's.
 *
 * `--servers N` spreads the idlers over N such processes (a trigger reaching
 * one is relayed to the others through this process, as a multi-process
 * server would have to), and `--clients N` reads them from N client
 * processes: whether more processes lower the floor on this machine.
 *
 *   node dist/bench/idle-floor.js [--idlers 2000] [--runs 7] [--servers 1] [--clients 1]
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ImapClient } from './imap-client.js';
import { cpuStopwatch, sleep, treeCpuNs } from './proc.js';
import { median, percentile } from './stats.js';

/** Connections opened at once while the idlers are set up. */
const CONNECT_CONCURRENCY = 32;
/** How long one trigger may take to reach every idler before the rest count as missed. */
const NOTIFY_TIMEOUT_MS = 30_000;

/** Milliseconds on the system-wide monotonic clock, comparable between processes. */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

type ServerMessage = { port: number } | { relay: number };
type ClientRequest = { connect: { ports: number[]; count: number; offset: number } } | { want: string };
type ClientReply = { ready: true } | { armed: true } | { times: number[] };

/** A server child: a greeting per connection; `<tag> T<n>` writes `* <n> EXISTS` to all others, then `<tag> OK`; `{fan: n}` from the parent writes it to all. */
function serve(): void {
  const sockets = new Set<net.Socket>();
  const fan = (n: number, except?: net.Socket): void => {
    const line = Buffer.from(`* ${n} EXISTS\r\n`);
    for (const s of sockets) if (s !== except) s.write(line);
  };
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.write('* OK floor\r\n');
    sock.on('data', (chunk: Buffer) => {
      const m = /^(\S+) T(\d+)/.exec(chunk.toString('latin1'));
      if (!m) return;
      const n = Number(m[2]);
      process.send?.({ relay: n } satisfies ServerMessage);
      fan(n, sock);
      sock.write(`${m[1]} OK\r\n`);
    });
  });
  process.on('message', (msg: { fan: number }) => fan(msg.fan));
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as net.AddressInfo).port } satisfies ServerMessage));
  process.on('disconnect', () => process.exit(0));
}

/** A client child: connects its share of the idlers, then reports when each saw the awaited line. */
function watch(): void {
  const clients: ImapClient[] = [];
  const reply = (r: ClientReply): void => void process.send?.(r);
  process.on('message', (msg: ClientRequest) => {
    if ('connect' in msg) {
      const { ports, count, offset } = msg.connect;
      let next = 0;
      void Promise.all(
        Array.from({ length: CONNECT_CONCURRENCY }, async () => {
          while (next < count) clients.push(await ImapClient.connect(ports[(offset + next++) % ports.length]!));
        }),
      ).then(() => reply({ ready: true }));
      return;
    }
    const times: number[] = [];
    for (const c of clients) {
      c.onUntagged = (r) => {
        if (r.head !== msg.want) return;
        times.push(monotonicMs());
        if (times.length === clients.length) reply({ times });
      };
    }
    reply({ armed: true });
    if (clients.length === 0) reply({ times });
  });
  process.on('disconnect', () => process.exit(0));
}

/** The next message from a child, or null after `timeoutMs`. */
function nextMessage<T>(child: ChildProcess, timeoutMs = NOTIFY_TIMEOUT_MS): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      resolve(null);
    }, timeoutMs);
    const on = (m: unknown): void => {
      clearTimeout(timer);
      resolve(m as T);
    };
    child.once('message', on);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      idlers: { type: 'string', default: '2000' },
      runs: { type: 'string', default: '7' },
      servers: { type: 'string', default: '1' },
      clients: { type: 'string', default: '1' },
    },
  });
  const bounded = (v: string | undefined, max: number): number => Math.max(1, Math.min(max, Math.floor(Number(v)) || 1));
  const idlers = bounded(values.idlers, 20_000);
  const runs = bounded(values.runs, 100);
  const script = fileURLToPath(import.meta.url);
  const servers = Array.from({ length: bounded(values.servers, 16) }, () => fork(script, ['--serve'], { stdio: 'inherit' }));
  const clients = Array.from({ length: bounded(values.clients, 16) }, () => fork(script, ['--watch'], { stdio: 'inherit' }));
  try {
    const ports = (await Promise.all(servers.map((s) => nextMessage<{ port: number }>(s)))).map((m) => m!.port);
    // What one server process is told, the others hear through this one.
    servers.forEach((s, i) =>
      s.on('message', (m: ServerMessage) => {
        if ('relay' in m) servers.forEach((o, j) => j !== i && o.send({ fan: m.relay }));
      }),
    );
    const per = Math.ceil(idlers / clients.length);
    await Promise.all(
      clients.map((c, i) => {
        const ready = nextMessage<ClientReply>(c, 600_000);
        c.send({ connect: { ports, count: Math.min(per, idlers - i * per), offset: i * per } } satisfies ClientRequest);
        return ready;
      }),
    );
    const trigger = await ImapClient.connect(ports[0]!);
    const p50: number[] = [];
    const p99: number[] = [];
    const cpu: number[] = [];
    const serverCpuNs = (): number => servers.reduce((sum, s) => sum + treeCpuNs(s.pid!), 0);
    let missed = 0;
    for (let run = 1; run <= runs; run++) {
      await Promise.all(
        clients.map((c) => {
          const armed = nextMessage<ClientReply>(c);
          c.send({ want: `* ${run} EXISTS` } satisfies ClientRequest);
          return armed;
        }),
      );
      const seen = clients.map((c) => nextMessage<{ times: number[] }>(c));
      const cpuMs = cpuStopwatch(serverCpuNs);
      const t0 = monotonicMs();
      await trigger.send(`T${run}`);
      const latencies = (await Promise.all(seen)).flatMap((m) => m?.times ?? []).map((t) => t - t0);
      missed += idlers - latencies.length;
      p50.push(percentile(latencies, 50));
      p99.push(percentile(latencies, 99));
      await sleep(300);
      cpu.push(cpuMs());
    }
    trigger.destroy();
    console.log(`| idlers | server processes | client processes | runs | p50 (ms) | p99 (ms) | server CPU per trigger (ms) | missed |`);
    console.log(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
    console.log(
      `| ${idlers} | ${servers.length} | ${clients.length} | ${runs} | ${median(p50).toFixed(2)} | ${median(p99).toFixed(2)} | ${median(cpu).toFixed(2)} | ${missed} |`,
    );
  } finally {
    for (const child of [...clients, ...servers]) child.kill();
  }
}

if (process.argv.includes('--serve')) serve();
else if (process.argv.includes('--watch')) watch();
else await main();
