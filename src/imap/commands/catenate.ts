/**
 * CATENATE (RFC 4469): APPEND (and REPLACE) of a message built from literal
 * text and URLs of messages or parts already in the account (RFC 5092), with
 * byte ranges (URL-PARTIAL, RFC 5550 §4).
 *
 * Invariants: the new message is streamed into the blob store while it is
 * analysed, exactly like a plain APPEND literal, and never exceeds APPENDLIMIT;
 * referenced octets are copied unchanged (RFC 4469 §3), and reading them sets no
 * flags; a URL outside the logged-in account is a BADURL, never a lookup.
 */
import { MessageAnalyzer } from '../../mime/analyze.js';
import type { AccountId } from '../../ids.js';
import type { BlobWriter, NewMessage } from '../../store/types.js';
import { no } from '../errors.js';
import { filterHeader, parseSection, sectionBytes } from '../fetch-items.js';
import { parseImapUrl, type ImapMessageUrl } from '../imap-url.js';
import type { Segment } from '../wire/framer.js';
import { ArgReader, ParseError } from '../wire/reader.js';
import type { ImapSession } from '../session/session.js';
import { accountOf } from './mailboxes.js';

/** One `cat-part`: literal text or a URL (RFC 4469 §5). */
export type CatPart = { kind: 'text'; data: Segment & { kind: 'literal' | 'stream' } } | { kind: 'url'; url: string };

/** Bound on parts in one CATENATE list. */
const MAX_PARTS = 256;

/** Reads `"(" cat-part *(SP cat-part) ")"` after the CATENATE keyword. */
export function parseCatParts(r: ArgReader): CatPart[] {
  const parts = r.list((): CatPart => {
    const kind = r.atom().toUpperCase();
    r.sp();
    if (kind === 'TEXT') return { kind: 'text', data: r.messageLiteral() };
    if (kind === 'URL') {
      if (r.atLiteral()) throw new ParseError('URL must be a quoted string or atom');
      return { kind: 'url', url: r.astring().bytes.toString('utf8') };
    }
    throw new ParseError('CATENATE parts are TEXT or URL');
  }, false);
  if (parts.length > MAX_PARTS) throw new ParseError(`At most ${MAX_PARTS} CATENATE parts`);
  return parts;
}

/**
 * `[BADURL url]` with the URL made safe for url-resp-text (no "]", no
 * controls). url-resp-text is at least one octet (RFC 4469 §6), so an empty
 * URL is echoed as the `""` the client sent, never as `[BADURL ]`.
 */
function badUrl(url: string, why: string) {
  const safe = url.replace(/[\x00-\x1f\x7f\]]/g, '');
  return no(`BADURL ${safe === '' ? '""' : safe}`, why);
}

/** Bytes a URL names, as a blob range or (HEADER.FIELDS) a filtered buffer. */
type Source = { blobId: string; start: number; end: number } | { bytes: Buffer };

/** Resolves a URL to the octets FETCH BODY.PEEK[section]<partial> would return. */
async function resolveUrl(session: ImapSession, account: AccountId, raw: string): Promise<Source> {
  const url = parseImapUrl(raw);
  if (!url) throw badUrl(raw, 'Not an IMAP message URL this server can resolve');
  const st = session.state;
  const userName = st.kind === 'authenticated' || st.kind === 'selected' ? st.account.name : '';
  if (url.user !== null && url.user.toLowerCase() !== userName.toLowerCase()) throw badUrl(raw, 'URL names another user');
  const mb = await session.store.getMailbox(account, url.mailbox);
  if (!mb || (url.uidValidity !== null && url.uidValidity !== mb.uidValidity)) throw badUrl(raw, 'No such mailbox or UIDVALIDITY');
  const [rec] = await session.store.getRecords(account, mb.id, [url.uid as never]);
  if (!rec) throw badUrl(raw, 'No such message');
  const section = url.section === null ? null : sectionOf(url.section);
  if (url.section !== null && section === null) throw badUrl(raw, 'Not a valid section');
  // The whole message needs no MIME structure; a section does.
  const analysis = section && (await session.store.getAnalysis(rec.blobId, { bodyText: false }));
  if (section && !analysis) throw badUrl(raw, 'No such message');
  const range = section && analysis ? sectionBytes(analysis.root, section) : { start: 0, end: rec.size };
  if (!range) throw badUrl(raw, 'No such body part');
  if ('fields' in range && range.fields) {
    const header = await session.store.blobs.read(rec.blobId, range.start, range.end);
    const bytes = filterHeader(header, range.fields.names, range.fields.not);
    const [start, end] = narrow(url, 0, bytes.length);
    return { bytes: bytes.subarray(start, end) };
  }
  const [start, end] = narrow(url, range.start, range.end);
  return { blobId: rec.blobId, start, end };
}

/** A URL's section as FETCH parses it; null when it is not a valid section-spec. */
function sectionOf(text: string): ReturnType<typeof parseSection> | null {
  try {
    const r = new ArgReader([{ kind: 'text', bytes: Buffer.from(`[${text}]`, 'utf8') }]);
    const section = parseSection(r);
    return r.atEnd() ? section : null;
  } catch (e) {
    if (e instanceof ParseError) return null;
    throw e;
  }
}

/** Applies `;PARTIAL=offset.length` to [start, end) (RFC 5550 §4, clamped like FETCH partials). */
function narrow(url: ImapMessageUrl, start: number, end: number): [number, number] {
  if (!url.partial) return [start, end];
  const from = Math.min(end, start + url.partial.offset);
  return [from, url.partial.length === null ? end : Math.min(end, from + url.partial.length)];
}

/** Streams parts into a blob writer and the analyzer, refusing as soon as the result passes the limit. */
class Pourer {
  private total = 0;

  constructor(
    private readonly writer: BlobWriter,
    private readonly analyzer: MessageAnalyzer,
    private readonly limit: number,
  ) {}

  async pour(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    for await (const chunk of chunks) {
      this.total += chunk.length;
      // RFC 4469 §4.2: stop reading at once, however many more parts are named.
      if (this.total > this.limit) throw no('TOOBIG', `Message too big (limit ${this.limit} octets)`);
      this.analyzer.write(chunk);
      if (!this.writer.write(chunk)) await this.writer.drained();
    }
  }
}

/**
 * Builds the catenated message in the blob store (RFC 4469 §3). Text parts
 * were staged as they arrived; URL parts are read from the account's messages.
 */
export async function stageCatenated(session: ImapSession, parts: readonly CatPart[]): Promise<Omit<NewMessage, 'flags' | 'internalDate'>> {
  const account = accountOf(session);
  const blobs = session.store.blobs;
  const limit = session.config.limits.appendLimit;
  const writer = blobs.createWriter(limit);
  const analyzer = new MessageAnalyzer();
  const out = new Pourer(writer, analyzer, limit);
  try {
    for (const part of parts) {
      if (part.kind === 'text') {
        if (part.data.kind === 'literal') await out.pour([part.data.bytes]);
        else {
          const staged = await session.takeStagedMessage(part.data.id);
          await out.pour(blobs.createReadStream(staged.blob.blobId));
        }
        continue;
      }
      const source = await resolveUrl(session, account, part.url);
      if ('bytes' in source) await out.pour([source.bytes]);
      else if (source.end > source.start) await out.pour(blobs.createReadStream(source.blobId, source.start, source.end));
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return { blob: await writer.finish(), analysis: analyzer.end() };
}
