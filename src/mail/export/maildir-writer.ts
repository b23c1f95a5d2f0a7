/**
 * Writing one Maildir folder the way Dovecot reads it back: each message in
 * cur/ as `<time>.U<uid>V<uidvalidity>.mailkeep,S=<size>:2,<flags>` with its
 * mtime set to the INTERNALDATE, keyword letters listed in dovecot-keywords,
 * and UIDs with UIDVALIDITY in dovecot-uidlist (version 3), so Dovecot, and
 * mailkeep's own import, keep the UIDs.
 *
 * Message bytes are written exactly as stored (CRLF): Dovecot reads CRLF
 * Maildir files as they are. A file is written in tmp/ and renamed into cur/
 * (the Maildir delivery protocol), so an interrupted export leaves only
 * whole messages.
 */
import { mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { maildirInfo } from '../import/flag-codes.js';

/** Letters a–z: Maildir keywords per folder. */
const MAX_KEYWORDS = 26;

/** A Maildir folder being written. */
export class MaildirWriter {
  private readonly keywords: string[] = [];
  private readonly keywordIndex = new Map<string, number>();
  private readonly uidLines: string[] = [];

  private constructor(
    readonly dir: string,
    private readonly uidValidity: number,
    private readonly uidNext: number,
    private readonly warn: (message: string) => void,
  ) {}

  /** Creates cur/ new/ tmp/ (and the Maildir++ `maildirfolder` marker for a subfolder). */
  static async create(dir: string, subfolder: boolean, uidValidity: number, uidNext: number, warn: (message: string) => void): Promise<MaildirWriter> {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
    if (subfolder) await writeFile(join(dir, 'maildirfolder'), '');
    return new MaildirWriter(dir, uidValidity, uidNext, warn);
  }

  /** Writes one message. */
  async add(uid: number, bytes: Buffer, flags: readonly string[], internalDate: Date): Promise<void> {
    const { info, lost } = maildirInfo(flags, (k) => this.letterOf(k));
    if (lost.length > 0) this.warn(`${this.dir}: UID ${uid}: more than ${MAX_KEYWORDS} keywords in the folder, left out: ${lost.join(' ')}`);
    const base = `${Math.floor(internalDate.getTime() / 1000)}.U${uid}V${this.uidValidity}.mailkeep,S=${bytes.length}`;
    const tmp = join(this.dir, 'tmp', base);
    await writeFile(tmp, bytes, { mode: 0o600 });
    // Dovecot's INTERNALDATE of a Maildir message is its file's mtime.
    await utimes(tmp, internalDate, internalDate);
    await rename(tmp, join(this.dir, 'cur', `${base}:2,${info}`));
    this.uidLines.push(`${uid} :${base}\n`);
  }

  /** Writes dovecot-keywords and dovecot-uidlist for the messages added so far. */
  async finish(): Promise<void> {
    await writeFile(join(this.dir, 'dovecot-keywords'), this.keywords.map((k, i) => `${i} ${k}\n`).join(''));
    await writeFile(join(this.dir, 'dovecot-uidlist'), `3 V${this.uidValidity} N${this.uidNext}\n${this.uidLines.join('')}`);
  }

  /** The letter number of a keyword, assigned on first sight; undefined once all 26 are taken. */
  private letterOf(keyword: string): number | undefined {
    const key = keyword.toLowerCase();
    let i = this.keywordIndex.get(key);
    if (i === undefined && this.keywords.length < MAX_KEYWORDS) {
      i = this.keywords.length;
      this.keywords.push(keyword);
      this.keywordIndex.set(key, i);
    }
    return i;
  }
}
