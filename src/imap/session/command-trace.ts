/**
 * The protocol trace of what an IMAP client sends, from the framed tokens.
 * A command's spec says where its secret arguments start (`secretAfter`:
 * LOGIN's password, AUTHENTICATE's initial response) and where its message
 * data starts (`messageDataAfter`: APPEND, REPLACE and CATENATE literals),
 * read with the same argument reader the command parses with; the trace
 * shows `***` from the first and `{N bytes}` for every literal after the
 * second. The wire is never parsed a second time.
 *
 * Invariants:
 * - When in doubt, hide: arguments a spec cannot read are hidden from its
 *   name on; before authentication, a line that is not a known command is
 *   hidden whole (it may be a password sent on the wrong line).
 * - An entry is bounded (TraceText).
 */
import type { AnyCommand } from '../commands/spec.js';
import type { LiteralAnnounce, Segment } from '../wire/framer.js';
import { ArgReader, ParseError, type ReaderPosition } from '../wire/reader.js';
import { TraceText } from '../../net/trace.js';
import { readCommandName, type CommandTable } from './dispatch.js';

/** The spec a command's first tokens name, and a reader standing after the name; null when they name none. */
function afterName(segments: readonly Segment[], commands: CommandTable): { spec: AnyCommand; reader: ArgReader } | null {
  const reader = new ArgReader(segments);
  try {
    reader.tag();
    const spec = commands.get(readCommandName(reader).name);
    return spec ? { spec, reader } : null;
  } catch (e) {
    if (e instanceof ParseError) return null;
    throw e;
  }
}

/** Where the arguments `readBefore` reads end; where the name ends when they cannot be read. */
function boundary(segments: readonly Segment[], commands: CommandTable, readBefore: ((r: ArgReader) => void) | undefined): ReaderPosition | null {
  if (!readBefore) return null;
  const { reader } = afterName(segments, commands)!;
  const name = reader.position;
  try {
    readBefore(reader);
    return reader.position;
  } catch (e) {
    if (e instanceof ParseError) return name;
    throw e;
  }
}

/**
 * The trace entry of a framed command (or of its first lines, when a literal
 * was refused: `refused` is that literal's announcement). `authenticated`:
 * the session is past login, so an unknown line is shown as received.
 */
export function traceCommand(segments: readonly Segment[], commands: CommandTable, authenticated: boolean, refused?: LiteralAnnounce): string {
  const trace = new TraceText();
  const named = afterName(segments, commands);
  if (!named && !authenticated) return trace.secret().text('\r\n').take();
  const secret = named ? boundary(segments, commands, named.spec.secretAfter) : null;
  const message = named ? boundary(segments, commands, named.spec.messageDataAfter) : null;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (secret && i >= secret.seg) {
      // RFC 9051 §6.2.3: LOGIN's password, §6.2.2: AUTHENTICATE's initial response (RFC 4959).
      const shown = i === secret.seg && s.kind === 'text' ? s.bytes.subarray(0, secret.pos) : Buffer.alloc(0);
      trace.bytes(shown);
      if (shown.length < (s.kind === 'text' ? s.bytes.length : 1) || i < segments.length - 1 || refused) trace.text(' ').secret();
      return trace.text('\r\n').take();
    }
    if (s.kind === 'text') trace.bytes(s.bytes);
    else if (s.kind === 'stream' || (message && i >= message.seg)) trace.messageData(s.kind === 'stream' ? s.size : s.bytes.length);
    else trace.text(`${s.binary ? '~' : ''}{${s.bytes.length}}\r\n`).bytes(s.bytes);
  }
  if (refused) trace.text(`${refused.binary ? '~' : ''}{${refused.size}${refused.nonSync ? '+' : ''}} [refused]`);
  return trace.text('\r\n').take();
}
