/**
 * Shared helpers for the wire-layer tests: drive a CommandFramer the way a
 * session does, and normalize its events so runs at different chunkings
 * compare equal.
 */
import { CommandFramer, type FrameEvent, type FramerLimits, type LiteralAnnounce, type Segment } from '../../src/imap/wire/framer.js';

/** Limits large enough that no test command hits them. */
export const ROOMY: FramerLimits = { maxLineLength: 1 << 20, maxCommandSize: 1 << 24 };

/** What the simulated session does with an announced literal. */
export type Decision = 'buffer' | 'stream' | 'reject';

/** A segment with its bytes as a latin1 string (lossless, readable in assertion diffs). */
export type NormSegment = { k: 'text'; s: string } | { k: 'literal'; s: string; binary: boolean } | { k: 'stream'; size: number; binary: boolean; id: number };

/** A framer event, normalized: consecutive literal-chunk events are merged into one 'data'. */
export type NormEvent =
  | { t: 'command'; segs: NormSegment[] }
  | { t: 'literal'; size: number; nonSync: boolean; binary: boolean; segs: NormSegment[] }
  | { t: 'data'; s: string }
  | { t: 'end'; id: number }
  | { t: 'error'; reason: string; tag: string | null };

/** Normalizes one segment. */
export function normSegment(seg: Segment): NormSegment {
  switch (seg.kind) {
    case 'text':
      return { k: 'text', s: seg.bytes.toString('latin1') };
    case 'literal':
      return { k: 'literal', s: seg.bytes.toString('latin1'), binary: seg.binary };
    case 'stream':
      return { k: 'stream', size: seg.size, binary: seg.binary, id: seg.id };
  }
}

/**
 * Feeds chunks one by one, draining events after each, and answers the i-th
 * literal announce with decide(announce, i). Returns the normalized events.
 */
export function runFramer(
  chunks: readonly Buffer[],
  limits: FramerLimits,
  decide: (a: LiteralAnnounce, i: number) => Decision,
  onEvent?: (ev: FrameEvent, framer: CommandFramer) => void,
): NormEvent[] {
  const framer = new CommandFramer(limits);
  const out: NormEvent[] = [];
  let announced = 0;
  for (const chunk of chunks) {
    framer.push(chunk);
    for (let ev = framer.next(); ev; ev = framer.next()) {
      onEvent?.(ev, framer);
      switch (ev.type) {
        case 'command':
          out.push({ t: 'command', segs: ev.segments.map(normSegment) });
          break;
        case 'literal': {
          const a = ev.announce;
          out.push({ t: 'literal', size: a.size, nonSync: a.nonSync, binary: a.binary, segs: a.segments.map(normSegment) });
          const d = decide(a, announced++);
          if (d === 'reject') framer.rejectLiteral();
          else framer.acceptLiteral(d);
          break;
        }
        case 'literal-chunk': {
          if (ev.data.length === 0) throw new Error('empty literal-chunk event');
          const last = out[out.length - 1];
          if (last?.t === 'data') last.s += ev.data.toString('latin1');
          else out.push({ t: 'data', s: ev.data.toString('latin1') });
          break;
        }
        case 'literal-end':
          out.push({ t: 'end', id: ev.id });
          break;
        case 'error':
          out.push({ t: 'error', reason: ev.reason, tag: ev.tag });
          break;
      }
    }
  }
  return out;
}

/** Splits bytes at the given cut points (any numbers; taken modulo the length). */
export function chunkAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** Splits bytes into 1-byte chunks. */
export function bytewise(bytes: Buffer): Buffer[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

/** Frames bytes holding exactly one command, buffering every literal; returns its segments. */
export function frameOne(bytes: Buffer): Segment[] {
  const framer = new CommandFramer(ROOMY);
  framer.push(bytes);
  const commands: Segment[][] = [];
  for (let ev = framer.next(); ev; ev = framer.next()) {
    if (ev.type === 'literal') framer.acceptLiteral('buffer');
    else if (ev.type === 'command') commands.push(ev.segments);
    else throw new Error(`unexpected framer event ${ev.type}`);
  }
  if (commands.length !== 1 || framer.buffered !== 0) throw new Error(`expected one whole command, got ${commands.length}`);
  return commands[0]!;
}
