/**
 * The actions a run returns for mail/deliver to carry out, and the rules
 * that keep the list consistent (RFC 5228 §2.10: implicit keep, duplicate
 * keep/fileinto/redirect are done once; RFC 5429 §2.4 reject is
 * incompatible with vacation and with delivering actions; RFC 5230 §4.7 at
 * most one vacation).
 */
import { SieveRuntimeError } from './match.js';

/**
 * What the delivery layer must do with the message. `header`, set when
 * editheader changed the header, is the new header block with its ending
 * blank line: it replaces the original bytes up to and including the first
 * empty line (the body that follows is unchanged).
 */
export type SieveAction =
  | { type: 'keep'; implicit: boolean; flags: string[]; header?: Buffer }
  /** `specialUse` (RFC 8579 §4): file into the mailbox with this special-use attribute when there is one, else into `mailbox`. */
  | { type: 'fileinto'; mailbox: string; flags: string[]; copy: boolean; create: boolean; specialUse?: string; header?: Buffer }
  | { type: 'redirect'; address: string; copy: boolean; header?: Buffer }
  | { type: 'reject'; reason: string; extended: boolean }
  /** Informational: the script discarded, so no implicit keep (RFC 5228 §4.4). */
  | { type: 'discard' }
  | VacationAction
  | { type: 'track-duplicate'; id: string; handle: string; seconds: number };

/** RFC 5230 vacation with the decision already taken: `respond` false says why in `skipped`. */
export interface VacationAction {
  type: 'vacation';
  respond: boolean;
  skipped?: string;
  /** Recipient of the reply: the envelope sender. */
  to: string;
  from: string | null;
  subject: string;
  reason: string;
  mime: boolean;
  handle: string;
  seconds: number;
}

const delivers = (a: SieveAction): boolean => a.type === 'keep' || a.type === 'fileinto' || a.type === 'redirect';

/** Accumulates the actions of one run and checks each against the ones before it. */
export class ActionList {
  readonly list: SieveAction[] = [];
  /** False once an action cancels the implicit keep (RFC 5228 §2.10.2). */
  implicitKeep = true;
  private redirects = 0;

  constructor(
    private readonly maxActions: number,
    private readonly maxRedirects: number,
  ) {}

  /** Adds an action, merging duplicates and refusing conflicts and overruns with a runtime error. */
  add(a: SieveAction): void {
    if (a.type === 'keep' || a.type === 'fileinto') {
      const mailbox = a.type === 'keep' ? 'INBOX' : a.mailbox;
      const specialUse = a.type === 'fileinto' ? a.specialUse : undefined;
      const same = this.list.find(
        (x) =>
          (x.type === 'keep' && mailbox === 'INBOX' && specialUse === undefined) ||
          (x.type === 'fileinto' && x.mailbox === mailbox && x.specialUse === specialUse),
      );
      if (same !== undefined && (same.type === 'keep' || same.type === 'fileinto')) {
        // RFC 5228 §4.1: a second fileinto (or keep) into the same mailbox is done once; its flags join
        for (const f of a.flags) if (!same.flags.some((g) => g.toLowerCase() === f.toLowerCase())) same.flags.push(f);
        if (a.type === 'keep' || !a.copy) this.implicitKeep = false;
        return;
      }
    }
    if (a.type === 'redirect' && this.list.some((x) => x.type === 'redirect' && x.address.toLowerCase() === a.address.toLowerCase())) {
      if (!a.copy) this.implicitKeep = false; // RFC 5228 §4.2: the same address twice is one redirect
      return;
    }
    const reject = this.list.find((x) => x.type === 'reject');
    if (a.type === 'reject') {
      if (reject !== undefined) throw new SieveRuntimeError('more than one reject (RFC 5429 §2.4)');
      const other = this.list.find((x) => delivers(x) || x.type === 'vacation');
      if (other !== undefined) throw new SieveRuntimeError(`reject conflicts with the earlier ${other.type} action (RFC 5429 §2.4)`);
    } else if (reject !== undefined && (delivers(a) || a.type === 'vacation'))
      throw new SieveRuntimeError(`${a.type} conflicts with the earlier reject action (RFC 5429 §2.4)`);
    if (a.type === 'vacation' && this.list.some((x) => x.type === 'vacation')) throw new SieveRuntimeError('more than one vacation action (RFC 5230 §4.7)');
    if (a.type === 'redirect' && ++this.redirects > this.maxRedirects) throw new SieveRuntimeError(`more than ${this.maxRedirects} redirects`);
    if (this.list.length >= this.maxActions) throw new SieveRuntimeError(`more than ${this.maxActions} actions`);
    if (a.type === 'keep' || a.type === 'discard' || a.type === 'reject' || ((a.type === 'fileinto' || a.type === 'redirect') && !a.copy))
      this.implicitKeep = false;
    this.list.push(a);
  }
}
