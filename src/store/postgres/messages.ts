/**
 * The PostgreSQL store's messages: APPEND, summaries and records,
 * analyses and header facts, changes since a modseq, STORE, COPY/MOVE,
 * REPLACE, EXPUNGE and \\Recent.
 */
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { AccountId, MailboxId, ModSeq, Uid } from '../../ids.js';
import type { MessageAnalysis } from '../../mime/types.js';
import type { ChangeNote } from '../../events/pg-bus.js';
import { composedAnalysis } from '../composite-analysis.js';
import { decodeAnalysis } from '../shared/analysis-codec.js';
import { DELETED, flagList, keywordsToText, parseFlags, SEEN } from '../shared/flags.js';
import { changesInPages, type ChangeCursor } from '../shared/changes-pages.js';
import { RECORD_COLUMNS, toRecord, toSummary, type FlagRow } from '../shared/rows.js';
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
import type { RecordRow } from './rows.js';
import {
  defineKeywords,
  enforceQuota,
  insertRows,
  lockMailbox,
  lockPair,
  lockQuota,
  recordsOf,
  removeMessages,
  requireMailbox,
  transfer,
} from './mailbox-tx.js';
import { firstOf, rowsOf, SCOPE } from './sql.js';
import { keywordKeys, planFlagChange } from '../shared/rules.js';
import type { PgBase } from './core.js';

/** Adds the MessageStore role to the PostgreSQL store. */
export function withMessages<B extends PgBase>(Base: B) {
  return class PgMessages extends Base implements MessageStore {
    async appendMessages(accountId: AccountId, id: MailboxId, messages: NewMessage[]): Promise<{ uidValidity: number; uids: Uid[]; modseq: ModSeq }> {
      // Validate and encode before taking any lock.
      const incoming = this.incoming(messages);
      return this.write(async (c) => {
        if (messages.length === 0) {
          const mb = await requireMailbox(c, accountId, id);
          return [{ uidValidity: mb.uid_validity, uids: [], modseq: toModSeq(mb.highest_modseq) }, []];
        }
        const limits = await lockQuota(c, accountId);
        await enforceQuota(
          c,
          accountId,
          limits,
          messages.length,
          messages.reduce((sum, m) => sum + m.blob.size, 0),
        );
        const { mb, uids } = await insertRows(
          c,
          accountId,
          id,
          incoming.map((m) => m.row),
          this.limits,
          0,
        );
        await this.referenceNew(c, incoming);
        const modseq = mb.highest_modseq;
        return [{ uidValidity: mb.uid_validity, uids: uids.map(toUid), modseq: toModSeq(modseq) }, [{ accountId, mailboxId: id, modseq }]];
      });
    }

    async listSummaries(accountId: AccountId, id: MailboxId): Promise<MessageSummary[]> {
      // One statement: the mailbox row tells "missing" (no row) from "empty" (a row of NULLs).
      const res = await this.pool.query<[number | null, number, number, string, number]>({
        text: `SELECT m.uid, m.modseq, m.system_flags, m.keywords, m.size
               FROM mailboxes b LEFT JOIN messages m ON m.account_id = b.account_id AND m.mailbox_id = b.mailbox_id
               WHERE b.account_id = $1 AND b.mailbox_id = $2 ORDER BY m.uid`,
        values: [accountId, id],
        rowMode: 'array',
      });
      if (res.rows.length === 0) throw new StoreError('NONEXISTENT', 'no such mailbox');
      // Most messages share a few flag combinations: build each list once, copy per row.
      const lists = new Map<string, string[]>();
      const out: MessageSummary[] = [];
      for (const [uid, modseq, system, keywords, size] of res.rows) {
        if (uid === null) continue;
        const key = keywords === '' ? String(system) : `${system} ${keywords}`;
        let flags = lists.get(key);
        if (!flags) lists.set(key, (flags = flagList(system, keywords)));
        out.push({ uid: uid as Uid, modseq: modseq as ModSeq, flags: flags.slice(), size });
      }
      return out;
    }

    async getRecords(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<MessageRecord[]> {
      if (uids.length === 0) return [];
      // One statement, one snapshot: live messages and (RFC 2180 §4.1) expunged ones not yet released.
      // A UID is never both live and a tombstone.
      const rows = await rowsOf<RecordRow>(
        this.pool,
        `SELECT ${RECORD_COLUMNS} FROM messages WHERE ${SCOPE} AND uid = ANY($3::bigint[])
         UNION ALL
         SELECT ${RECORD_COLUMNS} FROM expunged WHERE ${SCOPE} AND blob_id IS NOT NULL AND uid = ANY($3::bigint[])
         ORDER BY uid`,
        [accountId, id, uids],
      );
      return rows.map(toRecord);
    }

    async getBlobIds(accountId: AccountId, id: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>> {
      if (uids.length === 0) return new Map();
      // As getRecords: one snapshot of live messages and (RFC 2180 §4.1) held tombstones.
      const res = await this.pool.query<[number, string]>({
        text: `SELECT uid, blob_id FROM messages WHERE ${SCOPE} AND uid = ANY($3::bigint[])
               UNION ALL
               SELECT uid, blob_id FROM expunged WHERE ${SCOPE} AND blob_id IS NOT NULL AND uid = ANY($3::bigint[])`,
        values: [accountId, id, uids],
        rowMode: 'array',
      });
      return new Map(res.rows.map(([uid, blobId]) => [Number(uid) as Uid, blobId]));
    }

    async getHeaderFacts(blobIds: readonly string[]): Promise<Map<string, string>> {
      if (blobIds.length === 0) return new Map();
      const res = await this.pool.query<[blobId: string, facts: string]>({
        // A composite that replaced its base's header (base_from > 0) has facts of its own only.
        text: `SELECT b.blob_id, coalesce(b.header_facts, base.header_facts)
               FROM blobs b LEFT JOIN blobs base ON base.blob_id = b.base_id AND b.base_from = 0
               WHERE b.blob_id = ANY($1::text[]) AND coalesce(b.header_facts, base.header_facts) IS NOT NULL`,
        values: [blobIds],
        rowMode: 'array',
      });
      return new Map(res.rows);
    }

    async saveHeaderFacts(facts: ReadonlyMap<string, string>, version: number): Promise<void> {
      if (facts.size === 0) return;
      // A composite's facts are its base's unless it replaced the base's header (getHeaderFacts); a blob gone meanwhile joins nothing.
      // The stored version is read off the text's start (encodeHeaderFacts writes `{"v":N,` first):
      // a cast of malformed text to jsonb would fail the whole statement.
      await this.pool.query(
        `UPDATE blobs b SET header_facts = f.facts
         FROM (SELECT CASE WHEN c.base_from = 0 THEN coalesce(c.base_id, c.blob_id) ELSE c.blob_id END AS target, f.facts
               FROM unnest($1::text[], $2::text[]) AS f(blob_id, facts) JOIN blobs c ON c.blob_id = f.blob_id) f
         WHERE b.blob_id = f.target AND coalesce(substring(b.header_facts from '^\\{"v":(\\d{1,9})[,}]')::int, 0) < $3`,
        [[...facts.keys()], [...facts.values()], version],
      );
    }

    async getAnalysis(blobId: string, options: { bodyText?: boolean } = {}): Promise<MessageAnalysis | null> {
      // The cache drops long body text: a caller that needs none must say so, or every such message misses.
      const cached = this.analysisCache.get(blobId, options.bodyText ?? true);
      if (cached) return cached;
      const row = await firstOf<{ analysis: Buffer | null; prefix: Buffer | null; base_from: number; base_analysis: Buffer | null }>(
        this.pool,
        `SELECT b.analysis, b.prefix, b.base_from::integer, base.analysis AS base_analysis
         FROM blobs b LEFT JOIN blobs base ON base.blob_id = b.base_id WHERE b.blob_id = $1`,
        [blobId],
      );
      // A composite's analysis is derived from its base's (store/composite-analysis.ts).
      const stored = row?.prefix ? row.base_analysis : row?.analysis;
      if (!row || !stored) return null;
      const decoded = decodeAnalysis(stored.toString('utf8'));
      const analysis = row.prefix ? composedAnalysis(decoded, row.prefix, row.base_from) : decoded;
      this.analysisCache.set(blobId, analysis);
      return analysis;
    }

    /** In pages, the event loop running between them (shared/changes-pages.ts); one statement, one snapshot per page. */
    async changesSince(accountId: AccountId, id: MailboxId, since: ModSeq): Promise<MailboxChanges> {
      return changesInPages(since, async (changedAfter, expungedAfter, limit) => {
        // The mailbox row (kind 0), a page of changed messages (1) and one of tombstones (2), each (modseq, uid) ascending.
        // `modseq >= $n` beside the row comparison lets the planner use the modseq indexes.
        const res = await this.pool.query<[number, number, number | null, number | null, number | null, string | null, number | null]>({
          text: `SELECT 0 AS kind, uid_validity, uid_next, highest_modseq, NULL::smallint, NULL::text, NULL::bigint
                   FROM mailboxes WHERE ${SCOPE}
                 UNION ALL
                 (SELECT 1, uid, modseq, NULL, system_flags, keywords, size FROM messages
                   WHERE ${SCOPE} AND modseq >= $3 AND (modseq, uid) > ($3, $4) ORDER BY modseq, uid LIMIT $7)
                 UNION ALL
                 (SELECT 2, uid, modseq, NULL, NULL, NULL, NULL FROM expunged
                   WHERE ${SCOPE} AND modseq >= $5 AND (modseq, uid) > ($5, $6) ORDER BY modseq, uid LIMIT $7)
                 ORDER BY 1, 3, 2`,
          values: [accountId, id, changedAfter.modseq, changedAfter.uid, expungedAfter.modseq, expungedAfter.uid, limit],
          rowMode: 'array',
        });
        const [head, ...rest] = res.rows;
        if (head?.[0] !== 0) throw new StoreError('NONEXISTENT', 'no such mailbox');
        const changed: FlagRow[] = [];
        const expunged: ChangeCursor[] = [];
        for (const [kind, uid, modseq, , system, keywords, size] of rest) {
          if (kind === 2) expunged.push({ uid, modseq: modseq ?? 0 });
          else changed.push({ uid, modseq: modseq ?? 0, system_flags: system ?? 0, keywords: keywords ?? '', size: size ?? 0 });
        }
        return { changed, expunged, mailbox: { uidValidity: head[1], uidNext: head[2] ?? 0, highestModSeq: head[3] ?? 0 } };
      });
    }

    async storeFlags(accountId: AccountId, id: MailboxId, uids: readonly Uid[], request: FlagChange): Promise<FlagChangeResult> {
      const { op, unchangedSince } = request;
      const change = parseFlags(request.flags);
      return this.write(async (c): Promise<[FlagChangeResult, ChangeNote[]]> => {
        const mb = await lockMailbox(c, accountId, id);
        const next = mb.highest_modseq + 1;
        const rows = uids.length === 0 ? [] : await recordsOf(c, accountId, id, uids);
        const { before, after, conflicts } = planFlagChange(rows, op, change, next, unchangedSince);
        if (after.length === 0) return [{ modseq: toModSeq(mb.highest_modseq), changed: [], conflicts }, []];
        if (op !== 'remove') await defineKeywords(c, accountId, id, keywordKeys([keywordsToText(change.keywords)]), this.limits);
        let unseen = 0;
        let deleted = 0;
        after.forEach((row, i) => {
          const was = before[i]!.system_flags;
          unseen += Number((row.system_flags & SEEN) === 0) - Number((was & SEEN) === 0);
          deleted += Number((row.system_flags & DELETED) !== 0) - Number((was & DELETED) !== 0);
        });
        await c.query(
          `UPDATE messages m SET system_flags = u.system_flags, keywords = u.keywords, modseq = $3
           FROM unnest($4::bigint[], $5::smallint[], $6::text[]) AS u (uid, system_flags, keywords)
           WHERE m.account_id = $1 AND m.mailbox_id = $2 AND m.uid = u.uid`,
          [accountId, id, next, after.map((u) => u.uid), after.map((u) => u.system_flags), after.map((u) => u.keywords)],
        );
        await c.query(`UPDATE mailboxes SET highest_modseq = $3, unseen_count = unseen_count + $4, deleted_count = deleted_count + $5 WHERE ${SCOPE}`, [
          accountId,
          id,
          next,
          unseen,
          deleted,
        ]);
        const changed = after.map(toSummary);
        return [{ modseq: toModSeq(next), changed, conflicts }, [{ accountId, mailboxId: id, modseq: next }]];
      });
    }

    async copyMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult> {
      return (await this.write((c) => transfer(c, accountId, from, uids, to, false, this.limits))).result;
    }

    async moveMessages(accountId: AccountId, from: MailboxId, uids: readonly Uid[], to: MailboxId): Promise<CopyResult & { modseq: ModSeq }> {
      const { result, sourceModseq } = await this.write((c) => transfer(c, accountId, from, uids, to, true, this.limits));
      return { ...result, modseq: toModSeq(sourceModseq) };
    }

    async replaceMessage(accountId: AccountId, from: MailboxId, uid: Uid, to: MailboxId, message: NewMessage): Promise<ReplaceResult> {
      const incoming = this.incoming([message]);
      return this.write(async (c): Promise<[ReplaceResult, ChangeNote[]]> => {
        const limits = await lockQuota(c, accountId);
        const { src } = await lockPair(c, accountId, from, to);
        const [old] = await recordsOf(c, accountId, from, [uid]);
        if (!old) throw new StoreError('NONEXISTENT', 'the message to replace no longer exists');
        // RFC 8508 §3.4: only the net consumption counts against the quota.
        await enforceQuota(c, accountId, limits, 0, message.blob.size - old.size);
        const added = await insertRows(
          c,
          accountId,
          to,
          incoming.map((m) => m.row),
          this.limits,
          // RFC 8508: REPLACE within one mailbox leaves its count as it was.
          from === to ? 1 : 0,
        );
        // When source and target are one mailbox, the insert raised its modseq.
        const current = from === to ? added.mb : src;
        const removed = await removeMessages(c, accountId, current, [uid], false);
        await this.referenceNew(c, incoming);
        return [
          { uidValidity: added.mb.uid_validity, uid: toUid(added.uids[0]!), modseq: toModSeq(removed.modseq) },
          [
            { accountId, mailboxId: to, modseq: added.mb.highest_modseq },
            { accountId, mailboxId: from, modseq: removed.modseq },
          ],
        ];
      });
    }

    async expunge(accountId: AccountId, id: MailboxId, uids?: readonly Uid[]): Promise<{ expunged: Uid[]; modseq: ModSeq }> {
      return this.write(async (c): Promise<[{ expunged: Uid[]; modseq: ModSeq }, ChangeNote[]]> => {
        const mb = await lockMailbox(c, accountId, id);
        // RFC 9051 §6.4.3 EXPUNGE; RFC 4315 §2.1 UID EXPUNGE limits it to the given UIDs.
        if (mb.deleted_count === 0 || uids?.length === 0) return [{ expunged: [], modseq: toModSeq(mb.highest_modseq) }, []];
        const removed = await removeMessages(c, accountId, mb, uids ?? null, true);
        if (removed.uids.length === 0) return [{ expunged: [], modseq: toModSeq(mb.highest_modseq) }, []];
        // No GC here: the tombstones hold the blobs (releaseExpunged).
        return [{ expunged: removed.uids.map(toUid), modseq: toModSeq(removed.modseq) }, [{ accountId, mailboxId: id, modseq: removed.modseq }]];
      });
    }

    async claimRecent(accountId: AccountId, id: MailboxId): Promise<Uid> {
      // Nothing arrived since the last claim: no write transaction (a later arrival is the next claim's).
      const seen = await firstOf<{ first_recent_uid: number; uid_next: number }>(this.pool, `SELECT first_recent_uid, uid_next FROM mailboxes WHERE ${SCOPE}`, [
        accountId,
        id,
      ]);
      if (seen && seen.first_recent_uid === seen.uid_next) return toUid(seen.first_recent_uid);
      return this.write(async (c) => {
        const mb = await lockMailbox(c, accountId, id);
        if (mb.first_recent_uid !== mb.uid_next) {
          await c.query(`UPDATE mailboxes SET first_recent_uid = uid_next, recent_count = 0 WHERE ${SCOPE}`, [accountId, id]);
        }
        return [toUid(mb.first_recent_uid), []];
      });
    }

    async firstRecentUid(accountId: AccountId, id: MailboxId): Promise<Uid> {
      return toUid((await requireMailbox(this.pool, accountId, id)).first_recent_uid);
    }
  };
}
