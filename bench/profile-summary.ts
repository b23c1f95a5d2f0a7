/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. from `--cpu-prof` of
 * the benchmark): the functions with the most self time, optionally only
 * inside the call subtrees of frames matching a pattern, so one command's hot
 * spots stand out from the rest of the run.
 *
 *   node dist/bench/profile-summary.js PROFILE.cpuprofile [--under 'run .*fetch\.js'] [--top 25] [--window FILE]
 *
 * `--window` keeps only the samples taken inside a timed window (a JSON file
 * with `fromUs` and `toUs` on the monotonic clock, as the mixed workload
 * writes beside its profiles) and, when the file has `commands`, prints the
 * time per 1,000 commands too.
 * A frame is matched as "<function> <file>:<line>" (file without directory).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const label = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${path.basename(f.url) || '(native)'}:${f.lineNumber + 1}`;

/** A time window in µs of the profile's clock. */
interface Window {
  fromUs: number;
  toUs: number;
  commands?: number;
}

/** Self time (µs) by frame label, counted only for nodes inside a subtree whose root matches `under` and samples inside `window`. */
function selfTimes(profile: Profile, under: RegExp | null, window: Window | null): { byFrame: Map<string, number>; total: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const inside = new Set<number>();
  const mark = (id: number): void => {
    const stack = [id];
    while (stack.length > 0) {
      const n = byId.get(stack.pop()!);
      if (!n || inside.has(n.id)) continue;
      inside.add(n.id);
      stack.push(...(n.children ?? []));
    }
  };
  for (const n of profile.nodes) if (under === null || under.test(label(n.callFrame))) mark(n.id);
  const byFrame = new Map<string, number>();
  let total = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    if (!inside.has(id)) return;
    const key = label(byId.get(id)!.callFrame);
    byFrame.set(key, (byFrame.get(key) ?? 0) + dt);
    total += dt;
  });
  return { byFrame, total };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { under: { type: 'string' }, top: { type: 'string', default: '25' }, window: { type: 'string' } },
  });
  const file = positionals[0];
  if (file === undefined) throw new Error('usage: profile-summary PROFILE.cpuprofile [--under REGEX] [--top N] [--window FILE]');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const window = values.window ? (JSON.parse(fs.readFileSync(values.window, 'utf8')) as Window) : null;
  const { byFrame, total } = selfTimes(profile, values.under ? new RegExp(values.under) : null, window);
  const top = [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
  const perThousand = (us: number): string => (window?.commands ? ` ${((1000 * us) / 1000 / window.commands).toFixed(1).padStart(7)} ms/1k cmds` : '');
  process.stdout.write(
    `${(total / 1000).toFixed(0)} ms sampled${values.under ? ` under /${values.under}/` : ''}${window ? ` in the window (${window.commands ?? '?'} commands)` : ''}\n`,
  );
  for (const [frame, us] of top)
    process.stdout.write(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%${perThousand(us)}  ${frame}\n`);
}

main();
