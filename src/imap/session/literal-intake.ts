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
import type { CommandFramer, LiteralAnnounce } from '../wire/framer.js';
import { ArgReader, ParseError } from '../wire/reader.js';
import { readCommandName, type CommandTable } from './dispatch.js';
import type { SessionState } from './state.js';

/** Literals before authentication are small (LOGIN, AUTHENTICATE). */
const PRE_AUTH_LITERAL_LIMIT = 8 * 1024;

/** A staged message with its analysis. */
type StagedMessage = Omit<NewMessage, 'flags' | 'internalDate'>;

interface StagedSink {
  writer: BlobWriter;
  analyzer: MessageAnalyzer;
  result?: Promise<StagedMessage>;
}

/** What intake needs of the connection. */
export interface IntakeHost {
  readonly state: SessionState;
  readonly config: Config;
  readonly store: MailStore;
  tagged(tag: string, status: 'OK' | 'NO' | 'BAD', code: string | null | undefined, text: string): void;
  write(bytes: Buffer): void;
}

/** Literal decisions and message-data staging of one connection. */
export class LiteralIntake {
  private readonly staged = new Map<number, StagedSink>();
  private current: StagedSink | null = null;

  /** `pauseInput`: stop reading from the client while the blob store catches up. */
  constructor(
    private readonly host: IntakeHost,
    private readonly commands: CommandTable,
    private readonly pauseInput: () => void,
  ) {}

  /** Accepts (buffered or streamed) or refuses the announced literal. */
  decide(a: LiteralAnnounce, framer: CommandFramer): void {
    const { config, state } = this.host;
    const authed = state.kind === 'authenticated' || state.kind === 'selected';
    const { tag, message } = this.classify(a);
    if (authed && message) {
      const limit = config.limits.appendLimit;
      if (a.size > limit) {
        framer.rejectLiteral();
        this.host.tagged(tag, 'NO', 'TOOBIG', `Message too big (limit ${limit} octets)`);
        return;
      }
      framer.acceptLiteral('stream');
      this.current = { writer: this.host.store.blobs.createWriter(limit), analyzer: new MessageAnalyzer() };
    } else {
      const limit = authed ? config.limits.maxLiteralSize : Math.min(PRE_AUTH_LITERAL_LIMIT, config.limits.maxLiteralSize);
      if (a.size > limit || !framer.literalFits(a.size)) {
        framer.rejectLiteral();
        this.host.tagged(tag, 'BAD', 'TOOBIG', `Literal too big (limit ${limit} octets)`);
        return;
      }
      framer.acceptLiteral('buffer');
    }
    if (!a.nonSync) this.host.write(Buffer.from('+ Ready for literal data\r\n'));
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

  /** The streamed literal `id` is complete: finish its blob for the command to take. */
  end(id: number): void {
    const sink = this.current;
    if (!sink) return;
    this.current = null;
    sink.result = (async () => {
      const blob = await sink.writer.finish();
      return { blob, analysis: sink.analyzer.end() };
    })();
    // Rejections are observed by take(); avoid unhandled-rejection noise meanwhile.
    sink.result.catch(() => undefined);
    this.staged.set(id, sink);
  }

  /** The staged message of stream `id` (see ImapSession.takeStagedMessage). */
  take(id: number): Promise<StagedMessage> {
    const sink = this.staged.get(id);
    this.staged.delete(id);
    if (!sink?.result) return Promise.reject(new ImapError('BAD', null, 'Message literal missing'));
    return sink.result.catch((e: unknown) => {
      if (e instanceof StoreError && e.code === 'LIMIT') throw new ImapError('NO', 'TOOBIG', 'Message too big');
      throw e;
    });
  }

  /** After each command: messages it did not take (it failed first) are dropped. */
  discardUntaken(): void {
    for (const [id, sink] of this.staged) {
      this.staged.delete(id);
      // Its writer already finished (end()), so there is nothing to abort; only the outcome is observed.
      void sink.result?.then(
        () => undefined,
        () => undefined,
      );
    }
  }

  /** The connection closed: abort every staged blob, and the literal cut off mid-way. */
  abortAll(): void {
    // A finished writer rejects abort(); nothing is left to undo then.
    for (const sink of this.staged.values()) void sink.writer.abort().catch(() => undefined);
    this.staged.clear();
    void this.current?.writer.abort().catch(() => undefined);
    this.current = null;
  }
}
