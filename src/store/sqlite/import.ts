/**
 * The SQLite store's import records: what `mailkeep import` and `migrate`
 * brought in, their sync states and adopted UIDVALIDITYs.
 */
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { AccountId, MailboxId, Uid } from '../../ids.js';
import type { ImportedMessage, ImportResult, ImportStore } from '../types.js';
import { parseFlags } from '../shared/flags.js';
import { checkSourceKey } from '../shared/names.js';
import type { SqliteBase } from './core.js';
import { checkUidValidity, freshImports } from '../shared/rules.js';

/** Adds the ImportStore role to the SQLite store. */
export function withImport<B extends SqliteBase>(Base: B) {
  return class SqliteImport extends Base implements ImportStore {
    async importMessages(accountId: AccountId, id: MailboxId, messages: ImportedMessage[]): Promise<ImportResult> {
      // Validate before taking the lock.
      const flagSets = messages.map((m) => parseFlags(m.flags));
      for (const m of messages) checkSourceKey(m.sourceKey);
      const result = await this.write(() => {
        const mb = this.requireMailbox(accountId, id);
        const uids: Array<number | null> = messages.map(() => null);
        const fresh = freshImports(messages, (key) => this.st.importedUid.get(accountId, id, key) !== undefined);
        if (fresh.length === 0) return { mb, uids, modseq: mb.highest_modseq };
        this.checkQuota(
          accountId,
          fresh.length,
          fresh.reduce((sum, i) => sum + messages[i]!.blob.size, 0),
        );
        const now = Date.now();
        const rows = fresh.map((i) => this.newRow(messages[i]!, flagSets[i]!, now));
        const inserted = this.insertRows(
          accountId,
          mb,
          rows,
          fresh.map((i) => messages[i]!.uid),
        );
        fresh.forEach((i, k) => {
          const u = inserted.uids[k]!;
          uids[i] = u;
          this.st.insertImportRecord.run(accountId, id, messages[i]!.sourceKey, u);
        });
        return { mb, uids, modseq: inserted.modseq };
      });
      if (result.modseq !== result.mb.highest_modseq) this.publish(accountId, [[id, result.modseq]]);
      return {
        uidValidity: result.mb.uid_validity,
        uids: result.uids.map((u) => (u === null ? null : toUid(u))),
        modseq: toModSeq(result.modseq),
      };
    }

    async findImported(accountId: AccountId, id: MailboxId, sourceKeys: readonly string[]): Promise<Map<string, Uid>> {
      const out = new Map<string, Uid>();
      if (sourceKeys.length === 0) return out;
      for (const row of this.st.importedUids.all(accountId, id, JSON.stringify(sourceKeys))) out.set(row.source_key, toUid(row.uid));
      return out;
    }

    async adoptUidValidity(accountId: AccountId, id: MailboxId, uidValidity: number): Promise<boolean> {
      checkUidValidity(uidValidity);
      return this.write(() => {
        const mb = this.requireMailbox(accountId, id);
        if (mb.uid_validity === uidValidity) return true;
        // Only a mailbox that never held a message: no client can have cached a UID of it.
        if (mb.uid_next !== 1) return false;
        this.st.setUidValidity.run(uidValidity, accountId, id);
        // Mailboxes created later (this name again included) get larger values (RFC 9051 §2.3.1.1).
        this.st.nextCounter.get({ name: 'uid_validity', floor: uidValidity });
        return true;
      });
    }

    async getSyncState(accountId: AccountId, id: MailboxId, source: string): Promise<string | null> {
      return this.st.syncState.get(accountId, id, source) ?? null;
    }

    async setSyncState(accountId: AccountId, id: MailboxId, source: string, state: string): Promise<void> {
      await this.write(() => {
        this.requireMailbox(accountId, id);
        this.st.setSyncState.run(accountId, id, source, state);
      });
    }
  };
}
