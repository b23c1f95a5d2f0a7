/**
 * The SQLite store's messages: APPEND, summaries and
 * records, analyses and header facts, changes since a modseq, STORE,
 * COPY/MOVE, REPLACE, EXPUNGE and \\Recent.
 */
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { AccountId, MailboxId, ModSeq, Uid } from '../../ids.js';
import type { MessageAnalysis } from '../../mime/types.js';
import { StoreError } from '../types.js';
import type {
  CopyResult,
  FlagChange,
  FlagChangeResult,
  MailboxChanges,
  MessageRecord,
  MessageSummary,
  NewMessage,
  ReplaceResult,
  MessageStore,
} from '../types.js';
import { decodeAnalysis } from '../shared/analysis-codec.js';
import { flagList, keywordsToText, parseFlags } from '../shared/flags.js';
import { toRecord, toSummary } from '../shared/rows.js';
import { composedAnalysis } from '../composite-analysis.js';
import { keywordKeys, planFlagChange } from '../shared/rules.js';
import type { SqliteBase, Wake } from './core.js';
import { changesInPages } from '../shared/changes-pages.js';

/** Adds the MessageStore role to the SQLite store. */
export function withMessages<B extends SqliteBase>(Base: B) {
  return class SqliteMessages extends Base implements MessageStore {
    async appendMessages(accountId: AccountId, id: MailboxId, messages: NewMessage[]): Promise<{ uidValidity: number; uids: Uid[]; modseq: ModSeq }> {
      // Validate flags before taking the lock.
      const flagSets = messages.map((m) => parseFlags(m.flags));
      const result = await this.write(() => {
        const mb = this.requireMailbox(accountId, id);
        if (messages.length === 0) return { mb, uids: [], modseq: mb.highest_modseq };
        this.checkQuota(
          accountId,
          messages.length,
          messages.reduce((sum, m) => sum + m.blob.size, 0),
        );
        const now = Date.now();
        const rows = messages.map((m, i) => this.newRow(m, flagSets[i]!, now));
        return { mb, ...this.insertRows(accountId, mb, rows) };
      });
      if (result.uids.length > 0) this.publish(accountId, [[id, result.modseq]]);
      return { uidValidity: result.mb.uid_validity, uids: result.uids.map(toUid), modseq: toModSeq(result.modseq) };
    }

    async listSummaries(accountId: AccountId, id: MailboxId): Promise<MessageSummary[]> {
      return this.read(() => {
        this.requireMailbox(accountId, id);
        // Most messages share a few flag combinations: build each list once, copy per row.
        const lists = new Map<string, string[]>();
        return this.st.summaries.all(accountId, id).map(([uid, modseq, system, keywords, size]) => {
          const key = keywords === '' ? String(system) : `${system} ${keywords}`;
          let flags = lists.get(key);
          if (!flags) lists.set(key, (flags = flagList(system, keywords)));
          return { uid: uid as Uid, modseq: modseq as ModSeq, flags: flags.slice(), size };
        });
      });
    }

    async getRecords(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<MessageRecord[]> {
      if (uids.length === 0) return [];
      const json = JSON.stringify(uids);
      return this.read(() => {
        const live = this.st.records.all(accountId, id, json);
        if (live.length >= new Set(uids).size) return live.map(toRecord);
        // RFC 2180 §4.1: expunged but not yet released. A UID is never both live and a tombstone.
        const held = this.st.heldRecords.all(accountId, id, json);
        return [...live, ...held].sort((a, b) => a.uid - b.uid).map(toRecord);
      });
    }

    async getBlobIds(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>> {
      if (uids.length === 0) return new Map();
      const json = JSON.stringify(uids);
      return this.read(() => {
        const found = new Map<Uid, string>();
        for (const [uid, blobId] of this.st.blobIds.all(accountId, id, json)) found.set(uid as Uid, blobId);
        if (found.size >= new Set(uids).size) return found;
        // RFC 2180 §4.1: expunged but not yet released. A UID is never both live and a tombstone.
        for (const [uid, blobId] of this.st.heldBlobIds.all(accountId, id, json)) found.set(uid as Uid, blobId);
        return found;
      });
    }

    async getHeaderFacts(blobIds: readonly string[]): Promise<Map<string, string>> {
      if (blobIds.length === 0) return new Map();
      const json = JSON.stringify(blobIds);
      return this.read(() => new Map(this.st.headerFacts.all(json)));
    }

    async saveHeaderFacts(facts: ReadonlyMap<string, string>, version: number): Promise<void> {
      if (facts.size === 0) return;
      await this.write(() => {
        for (const [blobId, text] of facts) this.st.saveHeaderFacts.run({ blobId, facts: text, version });
      });
    }

    async getAnalysis(blobId: string, options: { bodyText?: boolean } = {}): Promise<MessageAnalysis | null> {
      const cached = this.analysisCache.get(blobId, options.bodyText ?? true);
      if (cached) return cached;
      const row = this.st.analysisRow.get(blobId);
      if (!row) return null;
      let analysis: MessageAnalysis | null;
      if (row.base_id === null || row.prefix === null) {
        analysis = decodeAnalysis(row.analysis);
      } else {
        // A composite (schema.ts deliverySupport): derived from its base's analysis.
        const base = this.st.analysis.get(row.base_id);
        analysis = base === undefined ? null : composedAnalysis(decodeAnalysis(base), row.prefix, row.base_from);
      }
      if (analysis) this.analysisCache.set(blobId, analysis);
      return analysis;
    }

    /** In pages, the event loop running between them (shared/changes-pages.ts). */
    async changesSince(accountId: AccountId, id: MailboxId, since: ModSeq): Promise<MailboxChanges> {
      return changesInPages(since, (changedAfter, expungedAfter, limit) =>
        this.read(() => {
          const mb = this.requireMailbox(accountId, id);
          return {
            changed: this.st.changedPage.all(accountId, id, changedAfter.modseq, changedAfter.uid, limit),
            expunged: this.st.expungedPage.all(accountId, id, expungedAfter.modseq, expungedAfter.uid, limit),
            mailbox: { uidValidity: mb.uid_validity, uidNext: mb.uid_next, highestModSeq: mb.highest_modseq },
          };
        }),
      );
    }

    async storeFlags(accountId: AccountId, id: MailboxId, uids: readonly Uid[], request: FlagChange): Promise<FlagChangeResult> {
      const { op, unchangedSince } = request;
      const change = parseFlags(request.flags);
      const result = await this.write(() => {
        const mb = this.requireMailbox(accountId, id);
        const next = mb.highest_modseq + 1;
        const rows = uids.length === 0 ? [] : this.st.flagRows.all(accountId, id, JSON.stringify(uids));
        const { after, conflicts } = planFlagChange(rows, op, change, next, unchangedSince);
        if (after.length === 0) return { modseq: mb.highest_modseq, changed: [], conflicts };
        if (op !== 'remove') this.defineKeywords(accountId, id, keywordKeys([keywordsToText(change.keywords)]));
        this.st.updateFlagsMany.run(JSON.stringify(after.map((r) => [r.uid, r.system_flags, r.keywords])), next, accountId, id);
        this.st.setModseq.run(next, accountId, id);
        return { modseq: next, changed: after.map(toSummary), conflicts };
      });
      if (result.changed.length > 0) this.publish(accountId, [[id, result.modseq]]);
      return { ...result, modseq: toModSeq(result.modseq) };
    }

    async copyMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult> {
      const { result, wakes } = await this.write(() => this.transfer(accountId, from, uids, to, false));
      this.publish(accountId, wakes);
      return result;
    }

    async moveMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult & { modseq: ModSeq }> {
      const { result, wakes, sourceModseq } = await this.write(() => this.transfer(accountId, from, uids, to, true));
      this.publish(accountId, wakes);
      return { ...result, modseq: toModSeq(sourceModseq) };
    }

    async replaceMessage(accountId: AccountId, from: MailboxId, uid: Uid, to: MailboxId, message: NewMessage): Promise<ReplaceResult> {
      const flags = parseFlags(message.flags);
      const result = await this.write(() => {
        const dst = this.requireMailbox(accountId, to);
        this.requireMailbox(accountId, from);
        const [old] = this.st.records.all(accountId, from, JSON.stringify([uid]));
        if (!old) throw new StoreError('NONEXISTENT', 'the message to replace no longer exists');
        // RFC 8508 §3.4: only the net consumption counts against the quota.
        this.checkQuota(accountId, 0, message.blob.size - old.size);
        const added = this.insertRows(accountId, dst, [this.newRow(message, flags, Date.now())], [], from === to ? 1 : 0);
        // Re-read: when source and target are one mailbox, the insert raised its modseq.
        const modseq = this.removeMessages(accountId, this.requireMailbox(accountId, from), [uid]);
        return {
          uidValidity: dst.uid_validity,
          uid: added.uids[0]!,
          wakes: [
            [to, added.modseq],
            [from, modseq],
          ] as Wake[],
          modseq,
        };
      });
      this.publish(accountId, result.wakes);
      return { uidValidity: result.uidValidity, uid: toUid(result.uid), modseq: toModSeq(result.modseq) };
    }

    async expunge(accountId: AccountId, id: MailboxId, uids?: readonly Uid[]): Promise<{ expunged: Uid[]; modseq: ModSeq }> {
      const result = await this.write(() => {
        const mb = this.requireMailbox(accountId, id);
        // RFC 9051 §6.4.3 EXPUNGE; RFC 4315 §2.1 UID EXPUNGE limits it to the given UIDs.
        const doomed =
          mb.deleted_count === 0 || uids?.length === 0
            ? []
            : uids
              ? this.st.deletedUidsIn.all(accountId, id, JSON.stringify(uids))
              : this.st.deletedUids.all(accountId, id);
        return { expunged: doomed, modseq: doomed.length === 0 ? mb.highest_modseq : this.removeMessages(accountId, mb, doomed) };
      });
      // No GC here: the tombstones hold the blobs (releaseExpunged).
      if (result.expunged.length > 0) this.publish(accountId, [[id, result.modseq]]);
      return { expunged: result.expunged.map(toUid), modseq: toModSeq(result.modseq) };
    }

    async claimRecent(accountId: AccountId, id: MailboxId): Promise<Uid> {
      // Nothing new since the last claim (the common re-SELECT): no write transaction.
      const seen = this.requireMailbox(accountId, id);
      if (seen.first_recent_uid === seen.uid_next) return toUid(seen.first_recent_uid);
      return this.write(() => {
        const mb = this.requireMailbox(accountId, id);
        if (mb.first_recent_uid !== mb.uid_next) this.st.claimRecent.run(accountId, id);
        return toUid(mb.first_recent_uid);
      });
    }

    async firstRecentUid(accountId: AccountId, id: MailboxId): Promise<Uid> {
      return toUid(this.requireMailbox(accountId, id).first_recent_uid);
    }

    /** COPY (RFC 9051 §6.4.7) or MOVE (RFC 6851): destination UIDs consecutive, in source-UID order. */
    protected transfer(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId, move: boolean) {
      const src = this.requireMailbox(accountId, from);
      const dst = this.requireMailbox(accountId, to);
      const rows = uids.length === 0 ? [] : this.st.records.all(accountId, from, JSON.stringify(uids));
      return this.transferRows(accountId, src, rows, dst, move);
    }
  };
}
