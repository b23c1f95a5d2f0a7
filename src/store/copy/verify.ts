/**
 * The check that ends a store copy: through the ordinary MailStore reads, the
 * target must show every account (name, password hash, quota), alias,
 * subscription, Sieve script and mailbox of the source with the same id, UIDVALIDITY,
 * UIDNEXT, HIGHESTMODSEQ and counts. A difference means the source changed
 * during the copy (a server still running on it) or a restore went wrong.
 */
import type { Account, Mailbox, MailStore } from '../types.js';

/** Differences reported at most; one is enough to fail. */
const MAX_PROBLEMS = 5;

const accountState = (a: Account) => JSON.stringify([a.id, a.name, a.passwordHash, a.quotaStorage, a.quotaMessages, a.disabled, a.lastLogin]);
const mailboxState = (m: Mailbox) => JSON.stringify([m.id, m.name, m.uidValidity, m.uidNext, m.highestModSeq, m.specialUse, m.objectId]);

/** Compares target with source; returns the differences found (empty: the copy is faithful). */
export async function verifyCopy(source: MailStore, target: MailStore): Promise<string[]> {
  const problems: string[] = [];
  const differ = (what: string, a: unknown, b: unknown): boolean => {
    if (a === b) return false;
    if (problems.length < MAX_PROBLEMS) problems.push(`${what}: source ${String(a)}, copy ${String(b)}`);
    return true;
  };
  const accounts = await source.listAccounts();
  differ('accounts', accounts.length, (await target.listAccounts()).length);
  differ('aliases', JSON.stringify(await source.listAliases()), JSON.stringify(await target.listAliases()));
  for (const account of accounts) {
    const copy = await target.getAccount(account.id);
    if (differ(`account ${account.name}`, accountState(account), copy ? accountState(copy) : 'missing')) continue;
    differ(
      `subscriptions of ${account.name}`,
      JSON.stringify(await source.listSubscriptions(account.id)),
      JSON.stringify(await target.listSubscriptions(account.id)),
    );
    differ(
      `Sieve scripts of ${account.name}`,
      JSON.stringify(await source.listSieveScripts(account.id)),
      JSON.stringify(await target.listSieveScripts(account.id)),
    );
    const mailboxes = await source.listMailboxes(account.id);
    const copies = new Map((await target.listMailboxes(account.id)).map((m) => [m.id, m]));
    differ(`mailboxes of ${account.name}`, mailboxes.length, copies.size);
    for (const mb of mailboxes) {
      const where = `${account.name} ${mb.name}`;
      const copied = copies.get(mb.id);
      if (differ(where, mailboxState(mb), copied ? mailboxState(copied) : 'missing')) continue;
      const [a, b] = await Promise.all([source.mailboxCounts(account.id, mb.id), target.mailboxCounts(account.id, mb.id)]);
      differ(`${where} counts`, JSON.stringify(a), JSON.stringify(b));
    }
  }
  return problems;
}
