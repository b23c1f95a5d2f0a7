/**
 * Literal intake: decides on each announced literal before its bytes are
 * read (RFC 9051 §4.3, RFC 7888 §4), and streams message data (APPEND,
 * REPLACE, CATENATE TEXT) to the blob store, analysed on the way, where the
 * command that owns it picks it up.
 *
 * Invariants:
 * - A literal is refused before its bytes are read when it is over the limit;
 *   before authentication literals are small (LOGIN, AUTHENTICATE).
 * - Which literal is message data is declared by the command spec
 *   (`messageDataAfter`); the command line is read with the same argument
 *   reader the command parses with.
 * - A staged blob is aborted or its outcome observed, whatever ends it.
 */
import type { Config } from '../../config/schema.js';
import { MessageAnalyzer } from '../../mime/analyze.js';
import type { BlobWriter, MailStore, NewMessage } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { ImapError } from '../errors.js';
import type { CommandFramer, LiteralAnnounce, Segment } from '../wire/framer.js';
import { ArgReader, ParseError } from '../wire/reader.js';
import { readCommandName, type CommandTable } from './dispatch.js';
import { preAuthRoom } from './pre-auth-budget.js';
import type { SessionState } from './state.js';

/** Staged blobs of one connection finishing at once (each an open temp file and its queued bytes). */
const MAX_FINISHING = 4;

/** A staged message with its analysis. */
type StagedMessage = Omit<NewMessage, 'flags' | 'internalDate'>;

/** A message literal being received. */
interface StagedSink {
  writer: BlobWriter;
  analyzer: MessageAnalyzer;
}

/** What intake needs of the connection. */
export interface IntakeHost {
  readonly state: SessionState;
  readonly config: Config;
  readonly store: MailStore;
  write(bytes: Buffer): void;
}

/** The tagged answer to a refused literal; the connection traces the command, then sends it. */
export interface LiteralRefusal {
  tag: string;
  status: 'NO' | 'BAD';
  code: string;
  text: string;
}

/** Literal decisions and message-data staging of one connection. */
export class LiteralIntake {
  private readonly staged = new Map<number, Promise<StagedMessage>>();
  /** Staged blobs still being written and fsynced (settled outcomes). */
  private readonly finishing = new Set<Promise<void>>();
  private current: StagedSink | null = null;
  private tally: { of: readonly Segment[] | null; count: number; octets: number } = { of: null, count: 0, octets: 0 };

  /** `pauseInput`: stop reading from the client while the blob store catches up. */
  constructor(
    private readonly host: IntakeHost,
    private readonly commands: CommandTable,
    private readonly pauseInput: () => void,
  ) {}

  /** Accepts (buffered or streamed) or refuses the announced literal; returns the answer to send when it refused. */
  decide(a: LiteralAnnounce, framer: CommandFramer): LiteralRefusal | null {
    const { config, state } = this.host;
    const authed = state.kind === 'authenticated' || state.kind === 'selected';
    const { tag, message } = this.classify(a);
    if (authed && message) {
      const refused = this.admitMessage(tag, a, framer);
      if (refused) return refused;
    } else {
      // Before login the whole command shares a few KiB (pre-auth-budget.ts).
      const limit = authed ? config.limits.maxLiteralSize : Math.min(preAuthRoom(config.limits, a.segments), config.limits.maxLiteralSize);
      if (a.size > limit || !framer.literalFits(a.size)) {
        framer.rejectLiteral();
        const text = authed ? `Literal too big (limit ${limit} octets)` : `Command too big before login (limit ${config.limits.preAuthCommandSize} octets)`;
        return { tag, status: 'BAD', code: 'TOOBIG', text };
      }
      framer.acceptLiteral('buffer');
    }
    if (!a.nonSync) this.host.write(Buffer.from('+ Ready for literal data\r\n'));
    return null;
  }

  /**
   * Message data is counted when announced, before any of it is staged: one
   * command holds at most `maxAppendMessages` literals and `maxAppendTotalSize`
   * octets of them. A refused non-synchronizing literal is skipped unstored
   * with the rest of its command (RFC 7888 §4, choice 1). A small literal that
   * fits the command budget is buffered and staged when the command runs, one
   * at a time; a larger one streams to the blob store as it arrives.
   */
  private admitMessage(tag: string, a: LiteralAnnounce, framer: CommandFramer): LiteralRefusal | null {
    const limits = this.host.config.limits;
    const tally = this.tallyFor(a.segments);
    const refuse = (status: 'NO' | 'BAD', code: string, text: string): LiteralRefusal => {
      framer.rejectLiteral();
      this.discardUntaken();
      return { tag, status, code, text };
    };
    // A message over APPENDLIMIT is a NO (RFC 7889 §4); a command past its bounds is refused as a whole.
    if (a.size > limits.appendLimit) return refuse('NO', 'TOOBIG', `Message too big (limit ${limits.appendLimit} octets)`);
    if (tally.count >= limits.maxAppendMessages) return refuse('BAD', 'LIMIT', `Too many messages in one command (limit ${limits.maxAppendMessages})`);
    if (tally.octets + a.size > limits.maxAppendTotalSize)
      return refuse('BAD', 'TOOBIG', `Messages too big together (limit ${limits.maxAppendTotalSize} octets per command)`);
    tally.count++;
    tally.octets += a.size;
    if (a.size <= limits.maxLiteralSize && framer.literalFits(a.size)) {
      framer.acceptLiteral('buffer');
      return null;
    }
    framer.acceptLiteral('stream');
    this.current = { writer: this.host.store.blobs.createWriter(limits.appendLimit), analyzer: new MessageAnalyzer() };
    return null;
  }

  /** The message-literal tally of the command `segments` belong to (the framer starts a new array per command). */
  private tallyFor(segments: readonly Segment[]): { count: number; octets: number } {
    if (this.tally.of !== segments) this.tally = { of: segments, count: 0, octets: 0 };
    return this.tally;
  }

  /**
   * The command's tag, and whether the announced literal is message data:
   * its command declares `messageDataAfter` and the arguments it reads all
   * precede the literal.
   */
  private classify(a: LiteralAnnounce): { tag: string; message: boolean } {
    const r = new ArgReader(a.segments);
    let tag = '*';
    try {
      const t = r.tag();
      // As in dispatch: a tag ends at SP, else the refusal is untagged.
      if (r.peekByte() !== 0x20) return { tag, message: false };
      tag = t;
      const spec = this.commands.get(readCommandName(r).name);
      if (!spec?.messageDataAfter) return { tag, message: false };
      spec.messageDataAfter(r);
      return { tag, message: true };
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      return { tag, message: false };
    }
  }

  /** Message data as it arrives; input pauses while the blob store is behind. */
  async feed(data: Buffer): Promise<void> {
    const sink = this.current;
    if (!sink) return;
    sink.analyzer.write(data);
    if (!sink.writer.write(data)) {
      this.pauseInput();
      await sink.writer.drained();
    }
  }

  /**
   * The streamed literal `id` is complete: finish its blob for the command to
   * take. Resolves once fewer than MAX_FINISHING of this connection's blobs
   * are still being written and fsynced, so a MULTIAPPEND holds a few temp
   * files and queued bytes at a time, not one per message.
   */
  async end(id: number): Promise<void> {
    const sink = this.current;
    if (!sink) return;
    this.current = null;
    // Only the outcome is kept: the writer and the analyzer's working state are let go.
    const result = (async () => {
      const blob = await sink.writer.finish();
      return { blob, analysis: sink.analyzer.end() };
    })();
    // Rejections are observed by take(); avoid unhandled-rejection noise meanwhile.
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.staged.set(id, result);
    this.finishing.add(settled);
    void settled.then(() => this.finishing.delete(settled));
    while (this.finishing.size >= MAX_FINISHING) await Promise.race(this.finishing);
  }

  /** The staged message of stream `id` (see ImapSession.takeStagedMessage). */
  take(id: number): Promise<StagedMessage> {
    const result = this.staged.get(id);
    this.staged.delete(id);
    if (!result) return Promise.reject(new ImapError('BAD', null, 'Message literal missing'));
    return result.catch((e: unknown) => {
      if (e instanceof StoreError && e.code === 'LIMIT') throw new ImapError('NO', 'TOOBIG', 'Message too big');
      throw e;
    });
  }

  /**
   * After each command, or when it is refused part-way: messages it did not
   * take are dropped. Their writers finished in end(), so there is nothing to
   * abort, and their outcomes are already observed.
   */
  discardUntaken(): void {
    this.staged.clear();
  }

  /** The connection closed: abort the literal cut off mid-way (staged ones are finished). */
  abortAll(): void {
    this.staged.clear();
    void this.current?.writer.abort().catch(() => undefined);
    this.current = null;
  }
}
