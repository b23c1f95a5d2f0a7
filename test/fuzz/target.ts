/**
 * What the fuzz runner needs from a protocol: a generator per state and a
 * connection adapter that runs one input in that state and reports what the
 * server answered. A new protocol (ManageSieve, HTTP) is one Target.
 */
import type { Rng } from './rng.js';

/** Where the harness's server listens and which accounts it may use. */
export interface FuzzEnv {
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  /** Password of every account the harness created. */
  password: string;
}

/** What one input produced. */
export interface Outcome {
  /** Response lines that broke the grammar, each with the reason. */
  violations: string[];
  /** Lines that report a server-side failure (IMAP [SERVERBUG], 4xx/5xx "internal" …). */
  serverErrors: string[];
  /** No answer within the adapter's deadline (the session is dropped). */
  stalled: boolean;
  /** The session can no longer be used in its state (closed, drifted): the runner opens a new one. */
  lost: boolean;
  /** Everything the server sent for this input, for a reproducer. */
  transcript: Buffer;
}

/** One connection in one state, reused for many inputs. */
export interface FuzzSession {
  run(input: Buffer): Promise<Outcome>;
  close(): void;
}

/** A protocol under fuzz. */
export interface Target {
  readonly protocol: string;
  readonly states: readonly string[];
  /** One input for `state`; grammar-based, mutated or random, from `r` alone. */
  generate(r: Rng, state: string): { bytes: Buffer; kind: InputKind };
  /** A session in `state`; `account` is the account this slot may log in as. */
  open(env: FuzzEnv, state: string, account: string): Promise<FuzzSession>;
}

export type InputKind = 'grammar' | 'mutated' | 'random';

/** Mixes grammar, mutated and random inputs the same way for every target. */
export function pickInput(
  r: Rng,
  grammar: () => Buffer,
  mutateFn: (b: Buffer, donor: Buffer) => Buffer,
  random: () => Buffer,
): { bytes: Buffer; kind: InputKind } {
  const roll = r.int(0, 99);
  if (roll < 55) return { bytes: grammar(), kind: 'grammar' };
  if (roll < 88) return { bytes: mutateFn(grammar(), grammar()), kind: 'mutated' };
  return { bytes: random(), kind: 'random' };
}
