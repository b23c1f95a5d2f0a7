/**
 * Mailbox names at the edges of import and export: Maildir++ folder
 * directories (`.Sent`, `.Archive.2023`, levels in modified UTF-7 — Dovecot's
 * maildir++ layout with '.' as separator), mbox tree files (`Archive/2023.mbox`),
 * and creating a mailbox with its parents in the store.
 */
import type { AccountId } from '../../ids.js';
import { canonicalName, forbiddenCharacter, MAX_NAME_DEPTH, MAX_NAME_LENGTH, SEPARATOR } from '../mailbox-name.js';
import { decodeMutf7, encodeMutf7 } from '../mutf7.js';
import type { MailStore, Mailbox } from '../../store/types.js';
import { StoreError } from '../../store/types.js';

/** Why a name cannot be a mailbox name, or null when it can (the rules of CREATE, RFC 9051 §6.3.4). */
export function mailboxNameProblem(name: string): string | null {
  if (name.length === 0) return 'empty name';
  if ([...name].length > MAX_NAME_LENGTH) return 'name too long';
  const levels = name.split(SEPARATOR);
  if (levels.length > MAX_NAME_DEPTH) return 'hierarchy too deep';
  if (levels.some((l) => l.length === 0)) return 'empty hierarchy level';
  return forbiddenCharacter(name);
}

/** Joins a parent and a child name; the parent INBOX means "top level" for imported folder trees. */
export function childName(parent: string, child: string): string {
  return parent === 'INBOX' ? canonicalName(child) : `${parent}${SEPARATOR}${child}`;
}

/** The mailbox name of a Maildir++ folder directory (`.a.b` → `a/b`), or null when it is not one. */
export function maildirFolderName(dirName: string): string | null {
  if (!dirName.startsWith('.') || dirName === '.' || dirName === '..') return null;
  const levels = dirName
    .slice(1)
    .split('.')
    .map((l) => decodeMutf7(l));
  if (levels.some((l) => l === null || l === '')) return null;
  return canonicalName(levels.join(SEPARATOR));
}

/** The Maildir++ directory of a mailbox (`a/b` → `.a.b`); INBOX is the root (''). Throws for a level containing '.'. */
export function maildirFolderDir(name: string): string {
  if (name === 'INBOX') return '';
  const levels = name.split(SEPARATOR);
  if (levels.some((l) => l.includes('.'))) throw new Error(`mailbox ${name} contains '.', which a Maildir++ folder name cannot hold`);
  return `.${levels.map(encodeMutf7).join('.')}`;
}

/** The relative file path of a mailbox in an mbox tree (`a/b` → `a/b.mbox`). Throws for '.' and '..' levels. */
export function mboxFilePath(name: string): string {
  const levels = name.split(SEPARATOR);
  if (levels.some((l) => l === '.' || l === '..')) throw new Error(`mailbox ${name} has a level that cannot be a file name`);
  return `${levels.join('/')}.mbox`;
}

/** The mailbox name of a file in an mbox tree (`a/b.mbox` → `a/b`). */
export function mboxTreeName(relativePath: string): string {
  return canonicalName(relativePath.replace(/\.mbox$/, ''));
}

/** Finds or creates a mailbox and its missing parents. */
export async function ensureMailbox(store: MailStore, accountId: AccountId, name: string, specialUse: string | null = null): Promise<Mailbox> {
  const canonical = canonicalName(name);
  const problem = mailboxNameProblem(canonical);
  if (problem !== null) throw new Error(`cannot use ${JSON.stringify(name)} as a mailbox name: ${problem}`);
  const levels = canonical.split(SEPARATOR);
  for (let i = 1; i <= levels.length; i++) {
    const n = levels.slice(0, i).join(SEPARATOR);
    if (await store.getMailbox(accountId, n)) continue;
    try {
      await store.createMailbox(accountId, n, i === levels.length ? specialUse : null);
    } catch (err) {
      // Created meanwhile by a client or another import: fine.
      if (!(err instanceof StoreError && err.code === 'ALREADYEXISTS')) throw err;
    }
  }
  const mb = await store.getMailbox(accountId, canonical);
  if (!mb) throw new Error(`mailbox ${canonical} vanished while being created`);
  return mb;
}
