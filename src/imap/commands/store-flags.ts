/**
 * STORE and UID STORE (RFC 9051 §6.4.6; UNCHANGEDSINCE from RFC 7162 §3.1.3).
 * Each +FLAGS/-FLAGS is one atomic store operation, so concurrent sessions
 * never lose each other's flags.
 */
import { modseq } from '../../ids.js';
import type { FlagOp } from '../../store/types.js';
import { enableCondstore } from '../condstore.js';
import { no } from '../errors.js';
import { canonicalFlags, isStoreOutcome } from '../flags.js';
import { formatNumbers, type SequenceSet } from '../../search/sequence-set.js';
import { eachStep, runSliced } from '../../store/shared/background.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import { resolveSet, selectedView } from './message-set.js';
import { command, PRESYNC_BY_UID } from './spec.js';

interface StoreArgs {
  set: SequenceSet;
  unchangedSince: number | null;
  op: FlagOp;
  silent: boolean;
  flags: string[];
}

const OPS: Record<string, FlagOp> = { FLAGS: 'set', '+FLAGS': 'add', '-FLAGS': 'remove' };

/** RFC 9051 §6.4.6 — STORE. */
export const store = command({
  name: 'STORE',
  states: ['selected'],
  uidForm: true,
  sync: 'no-expunge',
  presync: PRESYNC_BY_UID,
  parse(r): StoreArgs {
    r.sp();
    const set = r.sequenceSet();
    r.sp();
    let unchangedSince: number | null = null;
    if (r.peekByte() === 0x28) {
      // store-modifiers (RFC 4466 §2.5); UNCHANGEDSINCE is the one we know.
      r.list(() => {
        const name = r.atom().toUpperCase();
        if (name !== 'UNCHANGEDSINCE') throw new ParseError(`Unknown STORE modifier ${name}`);
        r.sp();
        unchangedSince = r.number64();
      }, false);
      r.sp();
    }
    const word = r.atom().toUpperCase();
    const silent = word.endsWith('.SILENT');
    const op = OPS[silent ? word.slice(0, -'.SILENT'.length) : word];
    if (!op) throw new ParseError(`Unknown STORE item ${word}`);
    r.sp();
    const flags = r.peekByte() === 0x28 ? r.flagList() : spaceSeparatedFlags(r);
    return { set, unchangedSince, op, silent, flags: canonicalFlags(flags) };
  },
  async run(inv, args) {
    const session = inv.session;
    const { view, readOnly, accountId } = selectedView(session);
    if (readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
    if (args.unchangedSince !== null) enableCondstore(session);
    const indices = resolveSet(session, view, args.set, inv.uid);
    const uids = indices.map((i) => view.messages[i]!.uid).filter((uid) => !view.isExpunged(uid));
    const res = await session.indexCache.storeFlags(accountId, view.mailboxId, uids, {
      op: args.op,
      flags: args.flags,
      unchangedSince: args.unchangedSince === null ? undefined : modseq(args.unchangedSince),
    });
    // The sync step after the command reports these (and any other session's changes) from the store.
    // RFC 9051 §6.4.6: without .SILENT, the flags of every message in the set (but those that failed
    // UNCHANGEDSINCE); RFC 7162 §3.1.3: with UNCHANGEDSINCE, every changed message's MODSEQ even with .SILENT.
    if (!args.silent) {
      const conflicts = new Set<number>(res.conflicts);
      view.owe(uids.filter((uid) => !conflicts.has(uid)));
    } else if (args.unchangedSince !== null) {
      view.owe(res.changed.map((s) => s.uid));
    } else {
      // .SILENT: the client knows the outcome unless another change slipped in before this one.
      // In steps: a STORE 1:* of 100,000 messages must not stall other sessions (issue 18, finding 10).
      await runSliced(
        eachStep(res.changed, (s) => {
          const before = view.messages[view.indexOfUid(s.uid)];
          if (before && isStoreOutcome(before.flags, args.op, args.flags, s.flags)) view.silence(s.uid, s.modseq);
        }),
      );
    }
    if (res.conflicts.length > 0) {
      const names = inv.uid ? res.conflicts : res.conflicts.map((u) => view.seqOf(u)).sort((a, b) => a - b);
      return { code: `MODIFIED ${formatNumbers(names)}`, text: 'Conditional STORE failed for some messages' };
    }
  },
});

/** `flag *(SP flag)` without parentheses (RFC 9051 §9 store-att-flags). */
function spaceSeparatedFlags(r: ArgReader): string[] {
  const flags = [r.flag()];
  while (!r.atEnd()) {
    r.sp();
    flags.push(r.flag());
  }
  return flags;
}
