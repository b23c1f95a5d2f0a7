/**
 * The SEARCH command (src/imap/commands/search.ts) on a session double that
 * records what it writes: the rev1 SEARCH and ESEARCH response shapes
 * (RFC 4731, RFC 9051 §6.4.4), SAVE (RFC 5182), BADCHARSET, MODSEQ response
 * data (RFC 7162 §3.1.6) and piecewise output of long results.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { modseq, uid, type MailboxId, type Uid } from '../src/ids.js';
import { search } from '../src/imap/commands/search.js';
import type { Invocation } from '../src/imap/commands/spec.js';
import { ImapError } from '../src/imap/errors.js';
import { MailboxView } from '../src/imap/session/mailbox-view.js';
import type { ImapSession } from '../src/imap/session/session.js';
import { ArgReader, ParseError } from '../src/imap/wire/reader.js';
import type { MessageAnalysis } from '../src/mime/types.js';
import { frameOne } from './helpers/wire-harness.js';

/** A session double: the members SEARCH uses, with its output captured. */
class SessionDouble {
  out: Buffer[] = [];
  flushes = 0;
  savedSearch: Uid[] | null = null;
  state: unknown;
  readonly enabled = new Set<string>();
  readonly encodeMode = { utf8: false };
  constructor(
    readonly view: MailboxView,
    readonly rev2 = false,
    subjects: Map<number, string> = new Map(),
  ) {
    this.state = { kind: 'selected', account: { id: 1 }, view, readOnly: false };
    this.store = {
      getRecords: async (_a: unknown, _m: unknown, uids: readonly Uid[]) =>
        uids.map((u) => ({ uid: u, internalDate: new Date('2024-05-01T12:00:00Z'), blobId: `b${u}` })),
      getAnalysis: async (blobId: string): Promise<MessageAnalysis> => ({
        root: { hs: 0, bs: 0, be: 0, type: 'text', subtype: 'plain', encoding: '7bit' },
        envelope: Buffer.alloc(0),
        bodyStructure: Buffer.alloc(0),
        body: Buffer.alloc(0),
        sentDate: null,
        headers: [['subject', subjects.get(Number(blobId.slice(1))) ?? '']],
        bodyText: '',
      }),
      // As if every blob predated stored header facts: SEARCH derives them from the analyses.
      getHeaderFacts: async () => new Map<string, string>(),
      saveHeaderFacts: async () => undefined,
    };
  }
  readonly store: object;
  write(b: Buffer): void {
    this.out.push(b);
  }
  async flush(): Promise<void> {
    this.flushes++;
  }
  async backpressure(): Promise<void> {
    this.flushes++;
  }
  untagged(line: string): void {
    this.write(Buffer.from(`* ${line}\r\n`));
  }
  /** Everything written, as lines. */
  lines(): string[] {
    return Buffer.concat(this.out)
      .toString('latin1')
      .split('\r\n')
      .filter((l) => l !== '');
  }
}

/** uids 10, 20, …; flags from the map; modseq = uid. */
function view(n: number, flags: (i: number) => string[] = () => []): MailboxView {
  return new MailboxView(
    1 as MailboxId,
    'INBOX',
    1,
    uid(10 * n + 10),
    modseq(10 * n),
    Array.from({ length: n }, (_, i) => ({ uid: uid(10 * (i + 1)), modseq: modseq(10 * (i + 1)), flags: flags(i), size: 100 })),
    [],
  );
}

/** Runs `[UID] SEARCH args` on the double; returns the written lines. */
async function run(s: SessionDouble, args: string | Buffer, opts: { uid?: boolean; tag?: string } = {}): Promise<string[]> {
  const inv: Invocation = { tag: opts.tag ?? 'a1', name: 'SEARCH', uid: opts.uid ?? false, session: s as unknown as ImapSession };
  const r = new ArgReader(frameOne(Buffer.concat([Buffer.from(' '), Buffer.from(args), Buffer.from('\r\n')])));
  const parsed = search.parse(r, inv);
  r.end();
  s.out = [];
  await search.run(inv, parsed);
  return s.lines();
}

// seq 1..5 = uid 10..50; \Seen on seq 2, 3, 5.
const seenAt = (i: number): string[] => ([1, 2, 4].includes(i) ? ['\\Seen'] : []);

describe('responses', () => {
  test('rev1: plain SEARCH with sequence numbers, UID SEARCH with UIDs', async () => {
    const s = new SessionDouble(view(5, seenAt));
    assert.deepEqual(await run(s, 'SEEN'), ['* SEARCH 2 3 5']);
    assert.deepEqual(await run(s, 'SEEN', { uid: true }), ['* SEARCH 20 30 50']);
    assert.deepEqual(await run(s, 'DELETED'), ['* SEARCH']);
  });

  test('ESEARCH with MIN MAX COUNT ALL, compact ALL, UID indicator, TAG correlator', async () => {
    const s = new SessionDouble(view(5, seenAt));
    assert.deepEqual(await run(s, 'RETURN (MIN MAX COUNT ALL) SEEN'), ['* ESEARCH (TAG "a1") MIN 2 MAX 5 COUNT 3 ALL 2:3,5']);
    assert.deepEqual(await run(s, 'RETURN (ALL MIN) SEEN', { uid: true, tag: 'x.7' }), ['* ESEARCH (TAG "x.7") UID MIN 20 ALL 20,30,50']);
    assert.deepEqual(await run(s, 'RETURN () UNSEEN'), ['* ESEARCH (TAG "a1") ALL 1,4']);
    assert.deepEqual(await run(s, 'RETURN (COUNT) ALL'), ['* ESEARCH (TAG "a1") COUNT 5']);
  });

  test('no match: MIN, MAX and ALL left out, COUNT kept, the response still sent', async () => {
    const s = new SessionDouble(view(5, seenAt));
    assert.deepEqual(await run(s, 'RETURN (MIN MAX COUNT ALL) DELETED'), ['* ESEARCH (TAG "a1") COUNT 0']);
    assert.deepEqual(await run(s, 'RETURN (MIN) DELETED', { uid: true }), ['* ESEARCH (TAG "a1") UID']);
  });

  test('rev2: SEARCH always answers ESEARCH', async () => {
    const s = new SessionDouble(view(5, seenAt), true);
    assert.deepEqual(await run(s, 'SEEN'), ['* ESEARCH (TAG "a1") ALL 2:3,5']);
    assert.deepEqual(await run(s, 'DELETED', { uid: true }), ['* ESEARCH (TAG "a1") UID']);
    assert.deepEqual(await run(s, 'RETURN (COUNT) SEEN'), ['* ESEARCH (TAG "a1") COUNT 3']);
  });

  test('MODSEQ key adds the highest modseq (RFC 7162 §3.1.6, RFC 4731 §3.2)', async () => {
    const s = new SessionDouble(view(5, seenAt));
    // The first CONDSTORE-enabling command also reports HIGHESTMODSEQ (RFC 7162 §3.1).
    assert.deepEqual(await run(s, 'MODSEQ 20 UNSEEN'), ['* OK [HIGHESTMODSEQ 50] Highest', '* SEARCH 4 (MODSEQ 40)']);
    assert.deepEqual(await run(s, 'MODSEQ 20 SEEN'), ['* SEARCH 2 3 5 (MODSEQ 50)']);
    assert.deepEqual(await run(s, 'MODSEQ 60'), ['* SEARCH']);
    assert.deepEqual(await run(s, 'RETURN (MIN) MODSEQ 20 SEEN'), ['* ESEARCH (TAG "a1") MIN 2 MODSEQ 20']);
    assert.deepEqual(await run(s, 'RETURN (MIN MAX) MODSEQ 0 SEEN'), ['* ESEARCH (TAG "a1") MIN 2 MAX 5 MODSEQ 50']);
    assert.deepEqual(await run(s, 'RETURN (MIN COUNT) MODSEQ 0 UNSEEN'), ['* ESEARCH (TAG "a1") MIN 1 COUNT 2 MODSEQ 40']);
    assert.deepEqual(await run(s, 'RETURN (COUNT) MODSEQ 60'), ['* ESEARCH (TAG "a1") COUNT 0']);
  });
});

describe('SAVE (RFC 5182)', () => {
  test('SAVE alone answers nothing and saves UIDs; `$` then reads them', async () => {
    const s = new SessionDouble(view(5, seenAt));
    assert.deepEqual(await run(s, 'RETURN (SAVE) SEEN'), []);
    assert.deepEqual(s.savedSearch, [20, 30, 50]);
    assert.deepEqual(await run(s, '$ NOT 3'), ['* SEARCH 2 5']);
    assert.deepEqual(await run(s, 'UID $', { uid: true }), ['* SEARCH 20 30 50']);
  });

  test('SAVE with MIN/MAX saves just those; with ALL or COUNT, everything', async () => {
    const s = new SessionDouble(view(5, seenAt));
    assert.deepEqual(await run(s, 'RETURN (SAVE MIN) SEEN'), ['* ESEARCH (TAG "a1") MIN 2']);
    assert.deepEqual(s.savedSearch, [20]);
    await run(s, 'RETURN (MAX SAVE) SEEN');
    assert.deepEqual(s.savedSearch, [50]);
    await run(s, 'RETURN (MAX SAVE MIN) SEEN');
    assert.deepEqual(s.savedSearch, [20, 50]);
    await run(s, 'RETURN (MAX SAVE MIN) 2');
    assert.deepEqual(s.savedSearch, [20]);
    await run(s, 'RETURN (SAVE MIN COUNT) SEEN');
    assert.deepEqual(s.savedSearch, [20, 30, 50]);
    await run(s, 'RETURN (SAVE) DELETED');
    assert.deepEqual(s.savedSearch, []);
  });

  test('a SEARCH with SAVE that fails with NO empties `$`; without SAVE it is kept', async () => {
    const s = new SessionDouble(view(5, seenAt));
    await run(s, 'RETURN (SAVE) SEEN');
    await assert.rejects(run(s, 'CHARSET X-NONE SEEN'), (e: unknown) => e instanceof ImapError && e.status === 'NO');
    assert.deepEqual(s.savedSearch, [20, 30, 50]);
    await assert.rejects(run(s, 'RETURN (SAVE) CHARSET KOI8-X (OR $ 1) TEXT {4}\r\nXXXX'), (e: unknown) => {
      assert.ok(e instanceof ImapError);
      assert.equal(e.status, 'NO');
      assert.equal(e.code, 'BADCHARSET (UTF-8 US-ASCII)');
      return true;
    });
    assert.deepEqual(s.savedSearch, []);
  });

  test('a SEARCH that is BAD leaves `$` alone (RFC 9051 §6.4.4.1)', async () => {
    const s = new SessionDouble(view(5, seenAt));
    await run(s, 'RETURN (SAVE) SEEN');
    await assert.rejects(run(s, 'RETURN (SAVE) NOSUCHKEY'), ParseError);
    assert.deepEqual(s.savedSearch, [20, 30, 50]);
  });
});

describe('CHARSET and content', () => {
  test('rev2 refuses charsets other than UTF-8 and US-ASCII; rev1 decodes ISO-8859-1', async () => {
    const subjects = new Map([
      [10, 'Grüße'],
      [20, 'plain'],
    ]);
    const rev1 = new SessionDouble(view(2), false, subjects);
    const latin1 = Buffer.concat([Buffer.from('CHARSET ISO-8859-1 SUBJECT {3}\r\n'), Buffer.from([0x47, 0x52, 0xdc])]);
    assert.deepEqual(await run(rev1, latin1), ['* SEARCH 1']);
    const rev2 = new SessionDouble(view(2), true, subjects);
    await assert.rejects(run(rev2, latin1), (e: unknown) => e instanceof ImapError && e.code === 'BADCHARSET (UTF-8 US-ASCII)');
    assert.deepEqual(await run(rev2, 'CHARSET UTF-8 SUBJECT "grü"'), ['* ESEARCH (TAG "a1") ALL 1']);
  });
});

describe('long results', () => {
  test('100,000 numbers go out in bounded pieces with flushes in between', async () => {
    const n = 100_000;
    const s = new SessionDouble(view(n, (i) => (i % 2 ? [] : ['\\Seen'])));
    const plain = await run(s, 'SEEN');
    assert.equal(plain.length, 1);
    assert.deepEqual(
      plain[0]!.split(' ').slice(2).map(Number),
      Array.from({ length: n / 2 }, (_, k) => 2 * k + 1),
    );
    assert.ok(s.out.length > 10, `written in ${s.out.length} pieces`);
    assert.ok(
      s.out.every((b) => b.length <= 32 * 1024),
      'no piece is huge',
    );
    assert.ok(s.flushes >= s.out.length - 1);

    const e = await run(s, 'RETURN (ALL) UNSEEN', { uid: true });
    assert.equal(e.length, 1);
    const all = e[0]!.replace('* ESEARCH (TAG "a1") UID ALL ', '').split(',').map(Number);
    assert.deepEqual(
      all,
      Array.from({ length: n / 2 }, (_, k) => 20 * (k + 1)),
    );
    assert.ok(s.out.length > 10 && s.out.every((b) => b.length <= 32 * 1024));
  });
});
