/**
 * Shared helpers for the store tests: temp data directories, a fake
 * MessageAnalysis (the real analyzer lives in src/mime), and one-call delivery.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccountId, MailboxId, Uid } from '../src/ids.js';
import type { MessageAnalysis } from '../src/mime/types.js';
import type { OpenStoreOptions } from '../src/store/open.js';
import { openStore } from '../src/store/open.js';
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailkeep-store-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs fn with a store in a temp data directory, then closes and removes it. */
export async function withStore<T>(
  fn: (store: SqliteStore, dataDir: string) => Promise<T>,
  opts: Omit<OpenStoreOptions, 'dataDir'> = {},
): Promise<T> {
  const { dir, cleanup } = await tempDir();
  try {
    const store = await openStore({ ...opts, dataDir: dir });
    try {
      return await fn(store, dir);
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
}

/** A message text with CRLF line ends. */
export function message(subject: string, body = 'Hello.'): Buffer {
  return Buffer.from(`Subject: ${subject}\r\nFrom: a@example.org\r\n\r\n${body}\r\n`);
}

/** A small MessageAnalysis that conforms to src/mime/types.ts; buffers include non-UTF-8 bytes. */
export function fakeAnalysis(bytes: Buffer): MessageAnalysis {
  const bs = bytes.indexOf('\r\n\r\n') + 4;
  return {
    root: {
      hs: 0,
      bs,
      be: bytes.length,
      type: 'text',
      subtype: 'plain',
      encoding: '7bit',
      charset: 'us-ascii',
    },
    envelope: Buffer.concat([Buffer.from('(NIL "s" '), Buffer.from([0xff, 0x00, 0x80]), Buffer.from(')')]),
    bodyStructure: Buffer.from('("text" "plain" NIL NIL NIL "7bit" 8 1 NIL NIL NIL NIL)'),
    body: Buffer.from('("text" "plain" NIL NIL NIL "7bit" 8 1)'),
    sentDate: 1_700_000_000_000,
    headers: [
      ['subject', bytes.subarray(9, bytes.indexOf('\r\n')).toString()],
      ['from', 'a@example.org'],
    ],
    bodyText: bytes.subarray(bs).toString(),
  };
}

/** Stores bytes and appends them as one message; returns its UID. */
export async function deliver(
  store: SqliteStore,
  accountId: AccountId,
  mailboxId: MailboxId,
  bytes: Buffer,
  flags: string[] = [],
  internalDate = new Date('2024-01-02T03:04:05Z'),
): Promise<Uid> {
  const blob = await store.blobs.put(bytes);
  const { uids } = await store.appendMessages(accountId, mailboxId, [{ blob, analysis: fakeAnalysis(bytes), flags, internalDate }]);
  const first = uids[0];
  if (first === undefined) throw new Error('append returned no UID');
  return first;
}

/** Creates an account and returns it with its INBOX id. */
export async function accountWithInbox(store: SqliteStore, name = 'alice'): Promise<{ accountId: AccountId; inbox: MailboxId }> {
  const account = await store.createAccount(name, 'hash');
  const inbox = await store.getMailbox(account.id, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  return { accountId: account.id, inbox: inbox.id };
}

/** Resolves when fn() returns true, polling every few ms; rejects after timeoutMs. */
export async function waitFor(fn: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
