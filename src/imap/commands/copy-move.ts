import { no } from '../errors.js';
import type { ArgReader } from '../wire/reader.js';
import { formatNumbers, type SequenceSet } from '../../search/sequence-set.js';
import { readMailbox, requireTarget } from './mailboxes.js';
import { resolveSet, selectedView } from './message-set.js';
import { command, type Invocation } from './spec.js';
import type { AccountId, MailboxId, Uid } from '../../ids.js';
import type { CopyResult } from '../../store/types.js';
import type { ImapSession } from '../session/session.js';
import { SliceSize } from '../session/slices.js';

interface CopyArgs {
  set: SequenceSet;
  mailbox: string;
}

function parseCopy(r: ArgReader, inv: Invocation): CopyArgs {
  r.sp();
  const set = r.sequenceSet();
  return { set, mailbox: readMailbox(r, inv) };
}

/** Slice sizes learned per kind of work in this process (session/slices.ts). */
const copySlices = new SliceSize();
const moveSlices = new SliceSize();
const undoSlices = new SliceSize();

async function transfer(inv: Invocation, { set, mailbox }: CopyArgs, move: boolean): Promise<{ code?: string; text?: string }> {
  const session = inv.session;
  const { view, readOnly, accountId } = selectedView(session);
  if (move && readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
  const uids = resolveSet(session, view, set, inv.uid)
    .map((i) => view.messages[i]!.uid)
    .filter((uid) => !view.isExpunged(uid));
  const target = await requireTarget(session, mailbox);
  if (uids.length === 0) return {};
  const done: CopyResult = { uidValidity: 0, sourceUids: [], destUids: [] };
  try {
    await (move ? moveSlices : copySlices).inSlices(uids, session.config.limits.messagesPerTransaction, async (slice) => {
      const res = move
        ? await session.store.moveMessages(accountId, view.mailboxId, slice, target.id)
        : await session.store.copyMessages(accountId, view.mailboxId, slice, target.id);
      done.uidValidity = res.uidValidity;
      for (const u of res.sourceUids) done.sourceUids.push(u);
      for (const u of res.destUids) done.destUids.push(u);
      if (res.destUids.length > 0) session.notifier.ownCommit(target.id, res.destUids);
    });
  } catch (err) {
    // RFC 9051 §6.4.7: a failed COPY leaves the destination as it was. RFC 6851 §3.3: a message
    // MOVE moved stays moved (in exactly one mailbox), and the client learns where it went.
    if (!move) await undoCopy(session, accountId, target.id, done.destUids);
    else if (done.sourceUids.length > 0) session.untagged(`OK [${copyUid(done)}] Moved`);
    throw err;
  }
  if (done.sourceUids.length === 0) return {};
  if (!move) return { code: copyUid(done) };
  // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
  session.untagged(`OK [${copyUid(done)}] Moved`);
  return {};
}

/** RFC 4315 §3 — the COPYUID response code. */
const copyUid = (r: CopyResult): string => `COPYUID ${r.uidValidity} ${formatNumbers(r.sourceUids)} ${formatNumbers(r.destUids)}`;

/** Removes the copies a COPY made before it failed, in slices like the COPY itself. */
async function undoCopy(session: ImapSession, accountId: AccountId, target: MailboxId, copies: readonly Uid[]): Promise<void> {
  await undoSlices.inSlices(copies, session.config.limits.messagesPerTransaction, async (slice) => {
    await session.store.storeFlags(accountId, target, slice, { op: 'add', flags: ['\\Deleted'] });
    await session.store.expunge(accountId, target, slice);
  });
}

/** RFC 9051 §6.4.7 — COPY. */
export const copy = command({
  name: 'COPY',
  states: ['selected'],
  uidForm: true,
  parse: parseCopy,
  run: (inv, args) => transfer(inv, args, false),
});

/** RFC 6851 §3.1 — MOVE. */
export const move = command({
  name: 'MOVE',
  states: ['selected'],
  uidForm: true,
  parse: parseCopy,
  run: (inv, args) => transfer(inv, args, true),
});
