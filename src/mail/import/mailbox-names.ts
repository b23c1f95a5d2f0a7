/**
 * Mailbox names at the edges of import and export: Maildir++ folder
 * directories (`.Sent`, `.Archive.2023`, levels in modified UTF-7 — Dovecot's
 * maildir++ layout with '.' as separator), mbox tree files (`Archive/2023.mbox`),
 * and creating a mailbox with its parents in the store. Characters a layout
 * cannot hold in a level are escaped as `\NN` (Dovecot's listescape), so every
 * mailbox name survives export → import.
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

/**
 * Escaping of the characters a file name cannot carry, as Dovecot's listescape
 * plugin writes them: the escape character '\\' and two lower-case hex digits
 * (`john.doe` → `john\\2edoe` in a Maildir++ folder). The escape character is
 * always escaped itself, so decoding is exact for every name we write; a '\\'
 * not followed by two hex digits (a folder another tool made) stays as it is.
 */
const ESCAPE = '\\';

function escapeChar(c: string): string {
  return `${ESCAPE}${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** Undoes escapeLevel's `\\NN` sequences. */
function unescapeLevel(level: string): string {
  return level.replace(/\\([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * One Maildir++ level: '.' is the layout's hierarchy separator, so it is
 * escaped, as is a leading '~' (a home directory to some tools); together
 * with the escape character that is what Dovecot's listescape escapes.
 */
function escapeMaildirLevel(level: string): string {
  return level.replace(/[\\.]|^~/g, escapeChar);
}

/** One mbox tree level: no hidden files ('.', '..', '.x', which the import skips) and no level a file `<level>.mbox` could clash with. */
function escapeMboxLevel(level: string): string {
  let out = level.replace(/\\|^\./g, escapeChar);
  // `a.mbox` (a folder's directory) would be the file of mailbox `a`.
  if (/\.mbox$/i.test(out)) out = `${out.slice(0, -5)}${escapeChar('.')}${out.slice(-4)}`;
  return out;
}

/** The mailbox name of a Maildir++ folder directory (`.a.b` → `a/b`, `.john\\2edoe` → `john.doe`), or null when it is not one. */
export function maildirFolderName(dirName: string): string | null {
  if (!dirName.startsWith('.') || dirName === '.' || dirName === '..') return null;
  const levels = dirName
    .slice(1)
    .split('.')
    .map((l) => decodeMutf7(l));
  if (levels.some((l) => l === null || l === '')) return null;
  return canonicalName(levels.map((l) => unescapeLevel(l!)).join(SEPARATOR));
}

/** The Maildir++ directory of a mailbox (`a/b` → `.a.b`, `v1.2` → `.v1\\2e2`); INBOX is the root (''). */
export function maildirFolderDir(name: string): string {
  if (name === 'INBOX') return '';
  return `.${name
    .split(SEPARATOR)
    .map((l) => encodeMutf7(escapeMaildirLevel(l)))
    .join('.')}`;
}

/** The relative file path of a mailbox in an mbox tree (`a/b` → `a/b.mbox`, `..` → `\\2e.mbox`): never outside the tree. */
export function mboxFilePath(name: string): string {
  return `${name.split(SEPARATOR).map(escapeMboxLevel).join('/')}.mbox`;
}

/** The mailbox name of a file in an mbox tree (`a/b.mbox` → `a/b`), undoing mboxFilePath's escapes. */
export function mboxTreeName(relativePath: string): string {
  return canonicalName(
    relativePath
      .replace(/\.mbox$/, '')
      .split('/')
      .map(unescapeLevel)
      .join(SEPARATOR),
  );
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
