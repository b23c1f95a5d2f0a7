/**
 * Reading Maildir folders (cr.yp.to/proto/maildir.html) as Dovecot leaves
 * them: messages in cur/ and new/ (tmp/ holds deliveries in progress and is
 * ignored), flags in the `:2,` info of the file name, keyword letters
 * numbered by `dovecot-keywords`, UIDs and UIDVALIDITY in `dovecot-uidlist`,
 * subscriptions in the root's `subscriptions` file,
 * and the INTERNALDATE as the file's mtime (Dovecot's maildir semantics: it
 * sets the mtime to the APPEND date and reads it back as the received date).
 *
 * Invariants: files are only read; every input-driven list is bounded
 * (MAX_ENTRIES files per folder, MAX_META_BYTES per metadata file).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeMutf7 } from '../mutf7.js';

/** One message file of a Maildir folder. */
export interface MaildirEntry {
  path: string;
  /** The unique name without the info part: the key that stays when flags change. */
  base: string;
  /** The letters after `:2,` (empty for new/ or no info). */
  info: string;
  /** The UID dovecot-uidlist gives it, if any. */
  uid?: number;
  size: number;
  mtime: Date;
}

/** A Maildir folder's messages (UID order first, then by name) and metadata. */
export interface MaildirListing {
  entries: MaildirEntry[];
  /** Keyword by letter index (a = 0), from dovecot-keywords. */
  keywords: Map<number, string>;
  /** From dovecot-uidlist, when present and readable. */
  uidValidity: number | null;
}

/** Most files one folder may hold. */
export const MAX_ENTRIES = 10_000_000;
/** dovecot-uidlist and dovecot-keywords larger than this are not read. */
const MAX_META_BYTES = 512 * 1024 * 1024;
/** The info separator; Dovecot's default maildir_info_separator. */
const INFO_SEP = ':';

async function readMeta(path: string): Promise<string | null> {
  try {
    if ((await stat(path)).size > MAX_META_BYTES) return null;
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** dovecot-keywords: lines `<index> <keyword>`. */
export function parseDovecotKeywords(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)$/.exec(line);
    if (m && Number(m[1]) < 26) out.set(Number(m[1]), m[2]!);
  }
  return out;
}

/**
 * dovecot-uidlist, versions 1 and 3 (Dovecot's maildir-uidlist.c): a header
 * (`1 <uidvalidity> <nextuid>` or `3 V<uidvalidity> N<nextuid> …`), then one
 * line per message: `<uid> <filename>` (v1) or `<uid> [<ext>…] :<filename>` (v3).
 */
export function parseDovecotUidlist(text: string): { uidValidity: number | null; uids: Map<string, number> } {
  const lines = text.split('\n');
  const header = (lines[0] ?? '').split(' ');
  const version = header[0];
  let uidValidity: number | null = null;
  if (version === '1') uidValidity = Number(header[1]);
  else if (version === '3') uidValidity = Number(header.find((f) => f.startsWith('V'))?.slice(1));
  else return { uidValidity: null, uids: new Map() };
  if (!Number.isInteger(uidValidity) || uidValidity < 1 || uidValidity > 0xffffffff) uidValidity = null;
  const uids = new Map<string, number>();
  for (const line of lines.slice(1)) {
    const m = version === '3' ? /^(\d+)(?: [^:]\S*)* :(.+)$/.exec(line) : /^(\d+) (\S+)$/.exec(line);
    if (!m) continue;
    const uid = Number(m[1]);
    if (uid >= 1 && uid <= 0xffffffff) uids.set(m[2]!.split(INFO_SEP)[0]!, uid);
  }
  return { uidValidity, uids };
}

/** The base and info of a Maildir file name (`base:2,FLAGS`). */
export function splitMaildirName(name: string): { base: string; info: string } {
  const at = name.indexOf(INFO_SEP);
  if (at < 0) return { base: name, info: '' };
  const info = name.slice(at + 1);
  return { base: name.slice(0, at), info: info.startsWith('2,') ? info.slice(2) : '' };
}

/** Whether a directory is a Maildir folder (has cur/ or new/). */
export async function isMaildir(dir: string): Promise<boolean> {
  for (const sub of ['cur', 'new']) {
    try {
      if ((await stat(join(dir, sub))).isDirectory()) return true;
    } catch {
      // not there
    }
  }
  return false;
}

/** Lists a Maildir folder's messages and metadata. */
export async function listMaildir(dir: string): Promise<MaildirListing> {
  const keywords = parseDovecotKeywords((await readMeta(join(dir, 'dovecot-keywords'))) ?? '');
  const uidlist = parseDovecotUidlist((await readMeta(join(dir, 'dovecot-uidlist'))) ?? '');
  const entries: MaildirEntry[] = [];
  for (const sub of ['cur', 'new']) {
    let names: string[];
    try {
      names = await readdir(join(dir, sub));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      if (entries.length >= MAX_ENTRIES) throw new Error(`${dir}: more than ${MAX_ENTRIES} messages in one folder`);
      const path = join(dir, sub, name);
      const st = await stat(path);
      if (!st.isFile()) continue;
      const { base, info } = splitMaildirName(name);
      const uid = uidlist.uids.get(base);
      entries.push({ path, base, info: sub === 'new' ? '' : info, size: st.size, mtime: st.mtime, ...(uid !== undefined ? { uid } : {}) });
    }
  }
  // UID order keeps the source's order; messages the uidlist does not know follow, by name (time of delivery).
  entries.sort((a, b) => (a.uid ?? Infinity) - (b.uid ?? Infinity) || (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  return { entries, keywords, uidValidity: uidlist.uidValidity };
}

/**
 * The subscribed names of a Dovecot Maildir++ root (its `subscriptions` file),
 * '/'-separated and decoded; null when there is no such file. Version 2 (Dovecot
 * 2.2+: a `V\t2` header, an empty line, names with TAB between levels) and the
 * older one name per line with '.' between levels. Names in modified UTF-7.
 */
export async function readDovecotSubscriptions(root: string): Promise<Set<string> | null> {
  const text = await readMeta(join(root, 'subscriptions'));
  if (text === null) return null;
  let lines = text.split('\n');
  let separator = '.';
  if (lines[0] === 'V\t2') {
    separator = '\t';
    lines = lines.slice(lines.indexOf('') + 1);
  }
  const out = new Set<string>();
  for (const line of lines) {
    if (line === '') continue;
    const levels = line.split(separator).map((l) => decodeMutf7(l));
    if (levels.every((l): l is string => l !== null && l !== '')) out.add(levels.join('/'));
  }
  return out;
}
