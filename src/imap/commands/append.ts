/**
 * APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), APPENDUID (RFC
 * 4315) and CATENATE (RFC 4469, see catenate.ts). Message literals were streamed to the blob store and analysed while
 * they arrived; this command only commits them, all in one transaction.
 */
import { mapLimit } from '../../mail/map-limit.js';
import { analyzeMessage } from '../../mime/analyze.js';
import type { NewMessage } from '../../store/types.js';
import { no } from '../errors.js';
import { canonicalFlags } from '../flags.js';
import { formatNumbers } from '../../search/sequence-set.js';
import type { Segment } from '../wire/framer.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import type { ImapSession } from '../session/session.js';
import { parseCatParts, stageCatenated, type CatPart } from './catenate.js';
import { accountOf, readMailbox, requireTarget } from './mailboxes.js';
import { command } from './spec.js';

/** Messages of one APPEND staged at once. */
const STAGING_CONCURRENCY = 16;

/** One `append-message` (RFC 4466 §2.1 as used by RFC 3502 and RFC 8508). */
export interface AppendItem {
  flags: string[];
  date: Date | null;
  /** `append-data`: one message literal, or the parts of a CATENATE (RFC 4469 §5). */
  data: (Segment & { kind: 'literal' | 'stream' }) | { kind: 'catenate'; parts: CatPart[] };
}

/** `SP [flag-list SP] [date-time SP] append-data`: one message of APPEND or REPLACE. */
export function parseAppendItem(r: ArgReader): AppendItem {
  r.sp();
  let flags: string[] = [];
  let date: Date | null = null;
  if (r.peekByte() === 0x28) {
    flags = canonicalFlags(r.flagList());
    r.sp();
  }
  if (r.peekByte() === 0x22) {
    date = r.dateTime();
    r.sp();
  }
  if (!r.atLiteral() && /^catenate$/i.test(r.atom())) {
    r.sp();
    return { flags, date, data: { kind: 'catenate', parts: parseCatParts(r) } };
  }
  return { flags, date, data: r.messageLiteral() };
}

/** The message of an item, staged in the blob store and analysed; empty messages are refused. */
export async function stageItem(session: ImapSession, item: AppendItem): Promise<NewMessage> {
  const data = item.data;
  const staged =
    data.kind === 'stream'
      ? await session.takeStagedMessage(data.id)
      : data.kind === 'catenate'
        ? await stageCatenated(session, data.parts)
        : { blob: await session.store.blobs.put(data.bytes), analysis: analyzeMessage(data.bytes) };
  if (staged.blob.size === 0) throw no(null, 'Empty messages cannot be appended');
  return { ...staged, flags: item.flags, internalDate: item.date ?? new Date() };
}

/** RFC 9051 §6.3.12 — APPEND. */
export const append = command({
  name: 'APPEND',
  states: ['authenticated', 'selected'],
  // The mailbox, then message data (RFC 9051 §6.3.12).
  messageDataAfter(r) {
    r.sp();
    r.astring();
  },
  parse(r, inv) {
    const mailbox = readMailbox(r, inv);
    const items: AppendItem[] = [];
    // Literal intake refused message literals past the bound as they were announced; this catches the rest.
    const max = inv.session.config.limits.maxAppendMessages;
    do {
      items.push(parseAppendItem(r));
      if (items.length > max) throw new ParseError(`Too many messages in one APPEND (limit ${max})`);
    } while (!r.atEnd());
    return { mailbox, items };
  },
  async run(inv, { mailbox, items }) {
    const session = inv.session;
    const account = accountOf(session);
    // Buffered (small) messages are staged now: a few at a time, so their fsyncs overlap but temp files stay few.
    const messages = await mapLimit(items, STAGING_CONCURRENCY, (item) => stageItem(session, item));
    const mb = await requireTarget(session, mailbox);
    const res = await session.store.appendMessages(account, mb.id, messages);
    session.notifier.ownCommit(mb.id, res.uids);
    return { code: `APPENDUID ${res.uidValidity} ${formatNumbers(res.uids)}`, text: 'APPEND completed' };
  },
});
