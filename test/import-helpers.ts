/**
 * Shared by the import, export and migrate tests: an account's whole content
 * as comparable data, and the Dovecot-made Maildir fixture with its mtimes.
 */
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AccountId } from '../src/ids.js';
import type { MailStore } from '../src/store/types.js';

/** One message as a client sees it. */
export interface MessageView {
  uid: number;
  flags: string[];
  internalDate: string;
  size: number;
  sha256: string;
}

/** One mailbox as a client sees it. */
export interface MailboxView {
  uidValidity: number;
  messages: MessageView[];
}

/** test/fixtures/maildir/ (the tests run from dist/test/). */
export const MAILDIR_FIXTURE = fileURLToPath(new URL('../../test/fixtures/maildir/', import.meta.url));

/** Dovecot's view of the fixture (expected.json), names in the store's form ('/' separator). */
export function dovecotExpectation(): Record<string, MailboxView> {
  const raw = JSON.parse(readFileSync(join(MAILDIR_FIXTURE, 'expected.json'), 'utf8')) as { mailboxes: Record<string, MailboxView> };
  return Object.fromEntries(
    Object.entries(raw.mailboxes).map(([name, v]) => [name.split('.').join('/'), { uidValidity: v.uidValidity, messages: v.messages }]),
  );
}

/** Copies the Dovecot Maildir fixture to `dir` and restores the mtimes git does not keep (Dovecot's INTERNALDATEs). */
export function copyMaildirFixture(dir: string): void {
  const src = join(MAILDIR_FIXTURE, 'dovecot');
  cpSync(src, dir, { recursive: true });
  const mtimes = JSON.parse(readFileSync(join(MAILDIR_FIXTURE, 'mtimes.json'), 'utf8')) as Record<string, number>;
  for (const [file, ms] of Object.entries(mtimes)) utimesSync(join(dir, file), ms / 1000, ms / 1000);
}

/** Every mailbox of an account with every message's UID, flags (sorted), INTERNALDATE, size and content hash. */
export async function accountView(store: MailStore, accountId: AccountId): Promise<Record<string, MailboxView>> {
  const out: Record<string, MailboxView> = {};
  for (const mb of await store.listMailboxes(accountId)) {
    const uids = (await store.listSummaries(accountId, mb.id)).map((s) => s.uid);
    const messages: MessageView[] = [];
    for (const r of await store.getRecords(accountId, mb.id, uids)) {
      const bytes = await store.blobs.read(r.blobId);
      messages.push({
        uid: r.uid,
        flags: [...r.flags].sort(),
        internalDate: r.internalDate.toISOString(),
        size: r.size,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
    }
    out[mb.name] = { uidValidity: mb.uidValidity, messages };
  }
  return out;
}

/** A view without UIDs and UIDVALIDITY (formats that do not carry them, such as mbox), messages in order. */
export function withoutUids(view: Record<string, MailboxView>): Record<string, Array<Omit<MessageView, 'uid'>>> {
  return Object.fromEntries(Object.entries(view).map(([name, v]) => [name, v.messages.map(({ uid: _uid, ...rest }) => rest)]));
}
