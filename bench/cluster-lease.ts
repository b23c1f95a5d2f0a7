/**
 * What the cluster-wide limits cost (server/cluster-limits.ts): the round trip
 * to the primary for a connection lease (admit, then release) and for a login
 * attempt (admit, then settle), against the same step on a process's own
 * limiter and ledger (`--workers 1`). One primary, one worker, sequential
 * calls; µs per call, p50 and p99.
 *
 *   node dist/bench/cluster-lease.js [calls]
 */
import cluster from 'node:cluster';
import { memoryLedger } from '../src/auth/throttle.js';
import { configSchema } from '../src/config/schema.js';
import { ConnectionLimiter } from '../src/net/connection-limiter.js';
import { PrimaryLimits, WorkerLimits, isLimitsRequest } from '../src/server/cluster-limits.js';
import { intOption } from './cli-options.js';

const calls = process.argv[2] ? intOption('calls', process.argv[2], 100, 10_000_000) : 20_000;
const config = configSchema.parse({});

/** p50 and p99 of `fn` over `calls` sequential calls, in µs. */
async function timed(fn: (i: number) => Promise<void>): Promise<string> {
  const us: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await fn(i);
    us.push((performance.now() - t0) * 1000);
  }
  us.sort((a, b) => a - b);
  const at = (p: number): string => us[Math.min(us.length - 1, Math.floor(us.length * p))]!.toFixed(1).padStart(8);
  return `${at(0.5)} µs p50 ${at(0.99)} µs p99`;
}

async function lease(gate: { admit(a: string): Promise<{ release(): void } | { refusal: string }> }): Promise<void> {
  const a = await gate.admit('192.0.2.1');
  if ('refusal' in a) throw new Error(a.refusal);
  a.release();
}

if (cluster.isPrimary) {
  const limits = new PrimaryLimits(config);
  const worker = cluster.fork();
  limits.join(worker.id);
  worker.on('message', (raw: unknown) => {
    if (isLimitsRequest(raw)) void limits.handle(worker.id, raw).then((reply) => reply && worker.send(reply));
  });
  worker.on('exit', (code) => process.exit(code ?? 1));
} else {
  const local = {
    connections: new ConnectionLimiter(config.limits.maxConnections, config.limits.maxConnectionsPerIp),
    attempts: memoryLedger(config.authThrottle),
  };
  const remote = new WorkerLimits(config);
  for (const [name, limits] of [
    ['this process (--workers 1)', local],
    ['the primary (--workers N)', remote],
  ] as const) {
    process.stdout.write(`connection lease, ${name}: ${await timed(() => lease(limits.connections))}\n`);
    // Distinct addresses, each attempt succeeding: the counts stay small and every attempt is admitted.
    const attempt = async (i: number): Promise<void> => {
      const key = { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, account: 'bench' };
      if (!(await limits.attempts.admit(key, Date.now())).admit) throw new Error('refused');
      await limits.attempts.settle(key, Date.now(), 'succeeded');
    };
    process.stdout.write(`login attempt admit+settle, ${name}: ${await timed(attempt)}\n`);
  }
  process.exit(0);
}
