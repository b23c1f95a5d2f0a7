import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccountId, MailboxId, ModSeq } from '../src/ids.js';
import { modseq } from '../src/ids.js';
import { LocalChangeBus, mailboxKey } from '../src/events/local-bus.js';
import type { WatchedMailbox } from '../src/events/local-bus.js';
import { ModSeqPoller } from '../src/events/modseq-poller.js';

const A = 1 as AccountId;
const M = 7 as MailboxId;
const N = 8 as MailboxId;

describe('LocalChangeBus', () => {
  it('delivers to the subscribed mailbox only, and stops after unsubscribe', () => {
    const bus = new LocalChangeBus();
    const got: ModSeq[] = [];
    const other: ModSeq[] = [];
    const off = bus.subscribe(A, M, (m) => got.push(m));
    bus.subscribe(A, N, (m) => other.push(m));
    bus.publish(A, M, modseq(5));
    bus.publish(2 as AccountId, M, modseq(6));
    off();
    bus.publish(A, M, modseq(7));
    assert.deepEqual(got, [5]);
    assert.deepEqual(other, []);
  });

  it('does not leak entries and tolerates double unsubscribe', () => {
    const bus = new LocalChangeBus();
    const listener = () => undefined;
    const offs = Array.from({ length: 1000 }, () => bus.subscribe(A, M, listener));
    assert.equal(bus.listenerCount(A, M), 1000);
    for (const off of offs) {
      off();
      off();
    }
    assert.equal(bus.listenerCount(A, M), 0);
    assert.deepEqual(bus.watched(), []);
  });

  it('calls watch hooks on first subscribe and last unsubscribe', () => {
    const events: string[] = [];
    const bus = new LocalChangeBus({
      onWatch: (a, m) => events.push(`watch ${a}:${m}`),
      onUnwatch: (a, m) => events.push(`unwatch ${a}:${m}`),
    });
    const off1 = bus.subscribe(A, M, () => undefined);
    const off2 = bus.subscribe(A, M, () => undefined);
    off1();
    off2();
    assert.deepEqual(events, ['watch 1:7', 'unwatch 1:7']);
  });

  it('keeps delivering when a listener throws or unsubscribes during delivery', () => {
    const errors: unknown[] = [];
    const bus = new LocalChangeBus({ onListenerError: (e) => errors.push(e) });
    const got: string[] = [];
    const offA = bus.subscribe(A, M, () => {
      got.push('a');
      offA();
    });
    bus.subscribe(A, M, () => {
      throw new Error('boom');
    });
    bus.subscribe(A, M, () => got.push('c'));
    bus.publish(A, M, modseq(1));
    bus.publish(A, M, modseq(2));
    assert.deepEqual(got, ['a', 'c', 'c']);
    assert.equal(errors.length, 2);
  });
});

describe('ModSeqPoller', () => {
  function fakeSource() {
    const state = { version: 1, modseqs: new Map<string, number>(), reads: 0 };
    return {
      state,
      source: {
        dataVersion: () => state.version,
        readModSeqs: (mbs: readonly WatchedMailbox[]) => {
          state.reads++;
          const out = new Map<string, number>();
          for (const m of mbs) {
            const key = mailboxKey(m.accountId, m.mailboxId);
            const v = state.modseqs.get(key);
            if (v !== undefined) out.set(key, v);
          }
          return out;
        },
      },
    };
  }

  it('publishes grown modseqs once per change, only when the data version moved', () => {
    const { state, source } = fakeSource();
    state.modseqs.set('1:7', 10);
    const bus = new LocalChangeBus();
    const poller = new ModSeqPoller(source, bus, (e) => assert.fail(String(e)));
    bus.setHooks({ onWatch: (a, m) => poller.watch(a, m), onUnwatch: (a, m) => poller.unwatch(a, m) });
    const got: number[] = [];
    bus.subscribe(A, M, (m) => got.push(m));
    poller.poll();
    assert.deepEqual(got, [], 'baseline is not announced');
    state.modseqs.set('1:7', 12);
    const readsBefore = state.reads;
    poller.poll();
    assert.equal(state.reads, readsBefore, 'no read while the data version is unchanged');
    state.version = 2;
    poller.poll();
    poller.poll();
    assert.deepEqual(got, [12]);
    // A local publish raises the baseline: not announced again.
    poller.note(A, M, 13);
    state.modseqs.set('1:7', 13);
    state.version = 3;
    poller.poll();
    assert.deepEqual(got, [12]);
  });

  it('announces a watched mailbox that disappeared, once', () => {
    const { state, source } = fakeSource();
    state.modseqs.set('1:7', 4);
    const bus = new LocalChangeBus();
    const poller = new ModSeqPoller(source, bus, () => undefined);
    bus.setHooks({ onWatch: (a, m) => poller.watch(a, m) });
    const got: number[] = [];
    bus.subscribe(A, M, (m) => got.push(m));
    state.modseqs.delete('1:7');
    state.version++;
    poller.poll();
    state.version++;
    poller.poll();
    assert.deepEqual(got, [5]);
  });
});
