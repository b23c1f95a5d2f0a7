/**
 * `mailkeep import`: an mbox file, a tree of mbox files, a Maildir folder or
 * a Maildir++ tree (Dovecot's default layout) into an account.
 *
 * Resumable and idempotent: every message carries a source key (Maildir:
 * `maildir:<base name>`; mbox: `mbox:<SHA-256 of the stored bytes>:<n>`, n
 * counting identical messages in the file) recorded in the same transaction
 * as the message, so a second or interrupted-and-restarted run stores only
 * what is missing. Maildir UIDs and UIDVALIDITY from `dovecot-uidlist` are
 * kept when the target mailbox has never held a message.
 *
 * Line ends: bare LF becomes CRLF, as IMAP serves messages (RFC 9051 §2.2);
 * Dovecot does the same when it serves its LF Maildir files, so a message
 * imported from Dovecot has exactly the bytes Dovecot's BODY[] returned.
 */
import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import type { AccountId } from '../../ids.js';
import type { MailStore } from '../../store/types.js';
import { flagsFromMaildirInfo, flagsFromMboxHeaders } from './flag-codes.js';
import { toCrlf } from './line-endings.js';
import { canonicalName } from '../mailbox-name.js';
import { childName, ensureMailbox, maildirFolderName, mboxTreeName } from './mailbox-names.js';
import { isMaildir, listMaildir, readDovecotSubscriptions, splitMaildirName, type MaildirEntry, type MaildirListing } from './maildir-reader.js';
import { importStream, MailboxImporter, type ImportLimits } from './mailbox-importer.js';
import { countMboxMessages, parseFromLineDate, readMbox, type MboxFormat } from './mbox-reader.js';
import { emptySummary, type IncomingMessage, type TransferSummary } from './types.js';

/** What PATH holds; 'auto' decides by looking. */
export type ImportFormat = 'auto' | 'mbox' | 'maildir';

/** Options of importPath. */
export interface ImportOptions extends ImportLimits {
  format: ImportFormat;
  /** Target of a single mbox file or of the Maildir root (default INBOX); the folders of a tree go below it (at the top level for INBOX). */
  mailbox: string;
  mboxFormat: MboxFormat;
}

/** One source mailbox found under PATH. */
interface PlannedMailbox {
  name: string;
  path: string;
  messages: number;
  /** Total message bytes; null when unknown before reading. */
  bytes: number | null;
  /** Subscribe the target (Maildir++ trees say which folders were subscribed; everything else is). */
  subscribe: boolean;
  maildir?: MaildirListing;
}

/** Deepest mbox tree walked. */
const MAX_TREE_DEPTH = 32;

/** An mbox file starts with a From_ line or is empty (an empty mailbox). */
async function startsLikeMbox(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(5);
    const { bytesRead } = await fh.read(buf, 0, 5, 0);
    return bytesRead === 0 || (bytesRead === 5 && buf.toString('latin1') === 'From ');
  } finally {
    await fh.close();
  }
}

async function planMaildir(name: string, dir: string, subscribe: boolean): Promise<PlannedMailbox> {
  const maildir = await listMaildir(dir);
  return { name, path: dir, messages: maildir.entries.length, bytes: maildir.entries.reduce((s, e) => s + e.size, 0), subscribe, maildir };
}

async function planMbox(name: string, path: string): Promise<PlannedMailbox> {
  // Progress counts message bytes, which an mbox file does not tell without reading it all: no byte total.
  return { name, path, messages: await countMboxMessages(path), bytes: null, subscribe: true };
}

/** Finds the mbox files under a directory (not hidden, see startsLikeMbox), depth first, sorted. */
async function mboxTree(root: string, dir: string, depth: number, warn: (m: string) => void, out: string[]): Promise<void> {
  if (depth > MAX_TREE_DEPTH) throw new Error(`${dir}: mbox tree deeper than ${MAX_TREE_DEPTH} levels`);
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await mboxTree(root, path, depth + 1, warn, out);
    else if (entry.isFile() && (await startsLikeMbox(path))) out.push(path);
    else if (entry.isFile()) warn(`skipping ${relative(root, path)}: not an mbox file`);
  }
}

/** Decides what PATH is and lists the mailboxes to import, with their sizes for progress. */
async function plan(path: string, opts: ImportOptions): Promise<PlannedMailbox[]> {
  const st = await stat(path);
  if (st.isFile()) {
    if (opts.format === 'maildir') throw new Error(`${path} is a file, not a Maildir`);
    return [await planMbox(opts.mailbox, path)];
  }
  if (!st.isDirectory()) throw new Error(`${path} is neither a file nor a directory`);
  if (opts.format !== 'mbox' && (await isMaildir(path))) {
    const out = [await planMaildir(opts.mailbox, path, true)];
    const subscribed = await readDovecotSubscriptions(path);
    // Maildir++: each folder is a Maildir named `.a.b` beside cur/ new/ tmp/.
    for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const name = entry.isDirectory() ? maildirFolderName(entry.name) : null;
      if (name === null) continue;
      const dir = join(path, entry.name);
      const subscribe = subscribed === null || subscribed.has(name) || subscribed.has(canonicalName(name));
      if (await isMaildir(dir)) out.push(await planMaildir(childName(opts.mailbox, name), dir, subscribe));
      else opts.warn(`skipping ${entry.name}: not a Maildir folder`);
    }
    return out;
  }
  if (opts.format === 'maildir') throw new Error(`${path} is not a Maildir (no cur/ or new/)`);
  const files: string[] = [];
  await mboxTree(path, path, 0, opts.warn, files);
  if (files.length === 0) throw new Error(`${path} holds no Maildir and no mbox file`);
  return Promise.all(files.map((f) => planMbox(childName(opts.mailbox, mboxTreeName(relative(path, f))), f)));
}

/** Reads a Maildir file; a file renamed meanwhile (its flags changed) is found again by its base name. */
async function readMaildirFile(e: MaildirEntry): Promise<Buffer> {
  try {
    return await readFile(e.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const cur = join(dirname(dirname(e.path)), 'cur');
    const renamed = (await readdir(cur)).find((n) => splitMaildirName(n).base === e.base);
    if (renamed === undefined) throw new Error(`${e.path} vanished during the import`);
    return readFile(join(cur, renamed));
  }
}

async function* maildirMessages(listing: MaildirListing, keepUids: boolean): AsyncGenerator<IncomingMessage> {
  for (const e of listing.entries) {
    yield {
      sourceKey: `maildir:${e.base}`,
      bytes: () => readMaildirFile(e),
      size: e.size,
      flags: flagsFromMaildirInfo(e.info, listing.keywords),
      internalDate: e.mtime,
      ...(keepUids && e.uid !== undefined ? { uid: e.uid } : {}),
    };
  }
}

/** The flags an mbox message carries in its Status, X-Status and X-Keywords headers. */
function mboxFlags(headers: ReadonlyArray<[string, string]>): string[] {
  const get = (n: string): string | undefined => headers.find(([name]) => name === n)?.[1];
  return flagsFromMboxHeaders(get('status'), get('x-status'), get('x-keywords'));
}

async function* mboxMessages(path: string, opts: ImportOptions): AsyncGenerator<IncomingMessage> {
  // Identical messages in one file are told apart by their occurrence number (bounded: one entry per message).
  const seen = new Map<string, number>();
  let index = 0;
  for await (const m of readMbox(path, opts.mboxFormat, opts.maxMessageSize)) {
    index++;
    const internalDate = parseFromLineDate(m.fromLine);
    if (m.oversize) {
      yield { sourceKey: `mbox:#${index}`, bytes: m.bytes, size: m.size, flags: [], internalDate };
      continue;
    }
    const bytes = toCrlf(m.bytes);
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 32);
    const n = seen.get(hash) ?? 0;
    seen.set(hash, n + 1);
    yield { sourceKey: `mbox:${hash}:${n}`, bytes, size: m.size, flags: (a) => mboxFlags(a.headers), internalDate };
  }
}

/** Imports PATH into an account (see the module comment); stops cleanly after a batch when opts.signal aborts. */
export async function importPath(store: MailStore, accountId: AccountId, path: string, opts: ImportOptions): Promise<TransferSummary> {
  const mailboxes = await plan(path, opts);
  const bytes = mailboxes.every((m) => m.bytes !== null) ? mailboxes.reduce((s, m) => s + (m.bytes ?? 0), 0) : undefined;
  opts.progress.begin({ messages: mailboxes.reduce((s, m) => s + m.messages, 0), ...(bytes !== undefined ? { bytes } : {}) });
  const summary = emptySummary();
  for (const planned of mailboxes) {
    if (opts.signal?.aborted) break;
    const mb = await ensureMailbox(store, accountId, planned.name);
    if (planned.subscribe) await store.setSubscribed(accountId, mb.name, true);
    summary.mailboxes++;
    const importer = new MailboxImporter(store, accountId, mb, opts, summary);
    let source: AsyncIterable<IncomingMessage>;
    if (planned.maildir) {
      const uidValidity = planned.maildir.uidValidity;
      const keepUids = uidValidity !== null && (await store.adoptUidValidity(accountId, mb.id, uidValidity));
      if (uidValidity !== null && !keepUids)
        opts.warn(`${mb.name} already held messages: new UIDs are assigned (dovecot-uidlist of ${basename(planned.path)} not kept)`);
      source = maildirMessages(planned.maildir, keepUids);
    } else {
      source = mboxMessages(planned.path, opts);
    }
    if (!(await importStream(importer, source, opts))) break;
  }
  summary.interrupted = opts.signal?.aborted === true;
  return summary;
}
