import { no } from '../errors.js';
import type { ArgReader } from '../wire/reader.js';
import { formatNumbers, type SequenceSet } from '../../search/sequence-set.js';
import { readMailbox, requireTarget } from './mailboxes.js';
import { resolveSet, selectedView } from './message-set.js';
import { command, type Invocation } from './spec.js';

interface CopyArgs {
  set: SequenceSet;
  mailbox: string;
}

function parseCopy(r: ArgReader, inv: Invocation): CopyArgs {
  r.sp();
  const set = r.sequenceSet();
  return { set, mailbox: readMailbox(r, inv) };
}

async function transfer(inv: Invocation, { set, mailbox }: CopyArgs, move: boolean): Promise<{ code?: string; text?: string }> {
  const session = inv.session;
  const { view, readOnly, accountId } = selectedView(session);
  if (move && readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
  const uids = resolveSet(session, view, set, inv.uid)
    .map((i) => view.messages[i]!.uid)
    .filter((uid) => !view.isExpunged(uid));
  const target = await requireTarget(session, mailbox);
  if (uids.length === 0) return {};
  const res = move
    ? await session.store.moveMessages(accountId, view.mailboxId, uids, target.id)
    : await session.store.copyMessages(accountId, view.mailboxId, uids, target.id);
  if (res.sourceUids.length === 0) return {};
  session.notifier.ownCommit(target.id, res.destUids);
  const code = `COPYUID ${res.uidValidity} ${formatNumbers(res.sourceUids)} ${formatNumbers(res.destUids)}`;
  if (!move) return { code };
  // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
  session.untagged(`OK [${code}] Moved`);
  return {};
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
