/**
 * `mailkeep export`: every mailbox of an account (or one) as a Maildir++
 * tree or as mbox files, with flags and INTERNALDATEs, for another server or
 * for `mailkeep import`.
 *
 * Layouts: Maildir — INBOX is the root Maildir, other mailboxes `.a.b`
 * folders (Dovecot's default maildir++ layout, names in modified UTF-7),
 * subscriptions in Dovecot's `subscriptions` file.
 * mbox — one file per mailbox, `a/b.mbox` under PATH. With `mailbox`, PATH
 * is that mailbox's mbox file or root Maildir. PATH must not exist yet or be an empty directory,
 * so an export never mixes with older files.
 */
import { mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AccountId, Uid } from '../../ids.js';
import { encodeMutf7 } from '../mutf7.js';
import type { MailStore, Mailbox } from '../../store/types.js';
import { maildirFolderDir, mboxFilePath } from '../import/mailbox-names.js';
import { canonicalName } from '../mailbox-name.js';
import type { MboxFormat } from '../import/mbox-reader.js';
import { emptySummary, type ProgressSink, type TransferSummary } from '../import/types.js';
import { MaildirWriter } from './maildir-writer.js';
import { mboxEntry } from './mbox-writer.js';

/** The file format of an export. */
export type ExportFormat = 'mbox' | 'maildir';

/** Options of exportAccount. */
export interface ExportOptions {
  format: ExportFormat;
  /** Export only this mailbox; null: all. */
  mailbox: string | null;
  mboxFormat: MboxFormat;
  progress: ProgressSink;
  warn: (message: string) => void;
  /** Stops after the message being written; what was written is complete. */
  signal?: AbortSignal;
}

/** Records read per store call (the store's batch bound is 1000). */
const RECORD_BATCH = 500;
/** mbox output is collected up to this size before a write. */
const WRITE_BUFFER = 1024 * 1024;

/** Refuses a PATH that holds anything: an export is written into a fresh place. */
async function checkFresh(path: string, mustBeFile: boolean): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (mustBeFile || !st.isDirectory() || (await readdir(path)).length > 0) throw new Error(`${path} already exists; export into a new path`);
}

/** Calls fn for every message of a mailbox in UID order, reading records in batches, until the signal aborts. */
async function eachMessage(
  store: MailStore,
  accountId: AccountId,
  mb: Mailbox,
  signal: AbortSignal | undefined,
  fn: (uid: Uid, bytes: Buffer, flags: string[], internalDate: Date) => Promise<void>,
): Promise<void> {
  const uids = (await store.listSummaries(accountId, mb.id)).map((s) => s.uid);
  for (let i = 0; i < uids.length; i += RECORD_BATCH) {
    for (const r of await store.getRecords(accountId, mb.id, uids.slice(i, i + RECORD_BATCH))) {
      if (signal?.aborted) return;
      await fn(r.uid, await store.blobs.read(r.blobId), r.flags, r.internalDate);
    }
  }
}

/** Exports an account (see the module comment). */
export async function exportAccount(store: MailStore, accountId: AccountId, path: string, opts: ExportOptions): Promise<TransferSummary> {
  const all = await store.listMailboxes(accountId);
  const wanted = opts.mailbox === null ? null : canonicalName(opts.mailbox);
  const mailboxes = wanted === null ? all : all.filter((m) => m.name === wanted);
  if (mailboxes.length === 0) throw new Error(`no such mailbox: ${opts.mailbox}`);
  // One mailbox is PATH itself: the mbox file, or the root Maildir.
  const single = wanted !== null;
  await checkFresh(path, single && opts.format === 'mbox');
  // Fail on names the format cannot hold before writing anything.
  const targets = mailboxes.map((mb) => (single ? path : opts.format === 'mbox' ? join(path, mboxFilePath(mb.name)) : join(path, maildirFolderDir(mb.name))));
  const counts = await Promise.all(mailboxes.map((mb) => store.mailboxCounts(accountId, mb.id)));
  opts.progress.begin({ messages: counts.reduce((s, c) => s + c.messages, 0), bytes: counts.reduce((s, c) => s + c.size, 0) });

  const summary = emptySummary();
  const done = (bytes: number): void => {
    summary.messages++;
    summary.bytes += bytes;
    opts.progress.advance(1, bytes);
  };
  for (const [i, mb] of mailboxes.entries()) {
    if (opts.signal?.aborted) break;
    summary.mailboxes++;
    const target = targets[i]!;
    if (opts.format === 'maildir') {
      const writer = await MaildirWriter.create(target, target !== path, mb.uidValidity, mb.uidNext, opts.warn);
      try {
        await eachMessage(store, accountId, mb, opts.signal, async (uid, bytes, flags, date) => {
          await writer.add(uid, bytes, flags, date);
          done(bytes.length);
        });
      } finally {
        await writer.finish();
      }
    } else {
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      const fh = await open(target, 'wx', 0o600);
      try {
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const flush = async (): Promise<void> => {
          await fh.write(Buffer.concat(pending));
          pending = [];
          pendingBytes = 0;
        };
        try {
          await eachMessage(store, accountId, mb, opts.signal, async (_uid, bytes, flags, date) => {
            const entry = mboxEntry(bytes, flags, date, opts.mboxFormat);
            pending.push(entry);
            pendingBytes += entry.length;
            if (pendingBytes >= WRITE_BUFFER) await flush();
            done(bytes.length);
          });
        } finally {
          await flush();
        }
      } finally {
        await fh.close();
      }
    }
  }
  // Dovecot's subscriptions file (version 2: header, empty line, levels separated by TAB, modified UTF-7).
  if (opts.format === 'maildir' && !single) {
    const names = (await store.listSubscriptions(accountId)).filter((n) => n !== 'INBOX');
    await writeFile(join(path, 'subscriptions'), `V\t2\n\n${names.map((n) => `${n.split('/').map(encodeMutf7).join('\t')}\n`).join('')}`);
  }
  summary.interrupted = opts.signal?.aborted === true;
  return summary;
}
