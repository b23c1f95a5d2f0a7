/**
 * QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA. Every mailbox of an
 * account with a limit lies under one quota root, "", with the STORAGE and
 * MESSAGE resources of the account; an account without limits has no quota
 * root at all. Limits are set by the administrator (`mailkeep quota set`); no
 * IMAP user may change them, so QUOTASET is not advertised.
 */
import { no } from '../errors.js';
import type { ImapSession } from '../session/session.js';
import { encodeString } from '../../syntax/imap-string.js';
import { isUndecodable } from '../mailbox-name.js';
import { accountOf, readMailbox } from './mailboxes.js';
import { mailboxWire } from '../responses.js';
import { command } from './spec.js';

const AUTHED = ['authenticated', 'selected'] as const;

/** The one quota root (RFC 9208 §4.2.2 example: `* QUOTAROOT INBOX ""`). */
const QUOTA_ROOT = '';

/** RFC 9208 §5.1: STORAGE counts units of 1024 octets. */
const STORAGE_UNIT = 1024;

/**
 * `QUOTA "" (...)` with usage and limit of each limited resource (RFC 9208
 * §4.2.1), or null when nothing is limited: §7's quota-list needs at least one
 * resource (Thunderbird rejects `()`), so such an account has no quota root.
 */
async function quotaResponse(session: ImapSession): Promise<Buffer | null> {
  const q = await session.store.getQuotaUsage(accountOf(session));
  const triplets: string[] = [];
  // Resources not named are not limited (§4.2.1), so only limited ones are listed.
  if (q.storage !== null) triplets.push(`STORAGE ${Math.floor(q.usedStorage / STORAGE_UNIT)} ${Math.floor(q.storage / STORAGE_UNIT)}`);
  if (q.messages !== null) triplets.push(`MESSAGE ${q.usedMessages} ${q.messages}`);
  if (triplets.length === 0) return null;
  return Buffer.concat([Buffer.from('QUOTA '), encodeString(QUOTA_ROOT), Buffer.from(` (${triplets.join(' ')})`)]);
}

/** RFC 9208 §4.1.1 — GETQUOTA: NO [NONEXISTENT] for a root that does not exist (§4.1.1 "no such quota root"). */
export const getquota = command({
  name: 'GETQUOTA',
  states: AUTHED,
  parse(r) {
    r.sp();
    return r.astring().bytes.toString('utf8');
  },
  async run(inv, root) {
    // An OK must carry a QUOTA response (§4.1.1), and an empty one is not allowed (§7).
    const quota = root === QUOTA_ROOT ? await quotaResponse(inv.session) : null;
    if (!quota) throw no('NONEXISTENT', 'No such quota root');
    inv.session.untagged(quota);
  },
});

/**
 * RFC 9208 §4.1.2 — GETQUOTAROOT: the mailbox need not exist. Without a limit
 * the answer is `* QUOTAROOT name` alone (§4.2.2: zero quota roots) and no QUOTA.
 */
export const getquotaroot = command({
  name: 'GETQUOTAROOT',
  states: AUTHED,
  parse: (r, inv) => readMailbox(r, inv),
  async run(inv, mailbox) {
    const session = inv.session;
    // Not valid modified UTF-7 (RFC 3501 §5.1.3): no mailbox could ever have it, so it has no root.
    if (isUndecodable(mailbox)) throw no('NONEXISTENT', 'No mailbox can have this name');
    const quota = await quotaResponse(session);
    const roots = quota ? [Buffer.from(' '), encodeString(QUOTA_ROOT)] : [];
    session.untagged(Buffer.concat([Buffer.from('QUOTAROOT '), mailboxWire(session, mailbox), ...roots]));
    if (quota) session.untagged(quota);
  },
});

/** RFC 9208 §4.1.3 — SETQUOTA: parsed in full (BAD first), then refused; limits are the administrator's. */
export const setquota = command({
  name: 'SETQUOTA',
  states: AUTHED,
  parse(r) {
    r.sp();
    r.astring();
    r.sp();
    // `setquota-list`; the reader bounds the list's length.
    r.list(() => {
      r.atom();
      r.sp();
      r.number64();
    });
  },
  async run() {
    throw no('NOPERM', 'Quota limits are set by the administrator');
  },
});
