/**
 * Commands valid in any state (RFC 9051 §6.1) plus ENABLE (RFC 5161) and ID
 * (RFC 2971).
 */
import { encodeList, encodeNString, encodeString } from '../../syntax/imap-string.js';
import { ParseError } from '../wire/reader.js';
import { command } from './spec.js';
import { workerSlot } from '../../config/load.js';

const ANY = ['not-authenticated', 'authenticated', 'selected'] as const;
/** What ENABLE may turn on: only extensions implemented end to end. */
const ENABLEABLE = ['IMAP4REV2', 'UTF8=ACCEPT', 'CONDSTORE', 'QRESYNC', 'UIDONLY'] as const;
const VERSION = '0.1.0';
/** RFC 2971 §3.3: at most 30 field-value pairs. */
const MAX_ID_PAIRS = 30;

/** RFC 9051 §6.1.1 — CAPABILITY. */
export const capability = command({
  name: 'CAPABILITY',
  states: ANY,
  parse: () => undefined,
  async run(inv) {
    inv.session.untagged(`CAPABILITY ${inv.session.capabilities().join(' ')}`);
  },
});

/** RFC 9051 §6.1.2 — NOOP: the sync step after it reports changes. */
export const noop = command({
  name: 'NOOP',
  states: ANY,
  parse: () => undefined,
  async run() {},
});

/** RFC 9051 §6.1.3 — LOGOUT. */
export const logout = command({
  name: 'LOGOUT',
  states: ANY,
  sync: 'none',
  parse: () => undefined,
  async run(inv) {
    inv.session.untagged('BYE mailkeep logging out');
    inv.session.state = { kind: 'logout' };
  },
});

/** RFC 5161 §3.1 — ENABLE: only extensions we implement fully are turned on. */
export const enable = command({
  name: 'ENABLE',
  states: ['authenticated'],
  parse(r) {
    const caps: string[] = [];
    do {
      r.sp();
      caps.push(r.astringAtom().toUpperCase());
      if (caps.length > 32) throw new ParseError('Too many capabilities');
    } while (!r.atEnd());
    return caps;
  },
  async run(inv, caps) {
    const turnedOn: string[] = [];
    for (const cap of caps) {
      const name = ENABLEABLE.find((c) => c === cap);
      if (!name || inv.session.enabled.has(name)) continue;
      // RFC 7162 §3.2.3: enabling QRESYNC implies CONDSTORE.
      if (name === 'QRESYNC' && !inv.session.enabled.has('CONDSTORE')) {
        inv.session.enabled.add('CONDSTORE');
        turnedOn.push('CONDSTORE');
      }
      inv.session.enabled.add(name);
      turnedOn.push(name === 'IMAP4REV2' ? 'IMAP4rev2' : name);
    }
    inv.session.untagged(`ENABLED${turnedOn.map((c) => ` ${c}`).join('')}`);
  },
});

/** RFC 2971 §3.1 — ID: we log the client's identity and tell ours. */
export const id = command({
  name: 'ID',
  states: ANY,
  parse(r) {
    r.sp();
    if (r.peekByte() !== 0x28) {
      r.nstring();
      return null;
    }
    const items = r.list(() => r.nstring());
    if (items.length % 2 !== 0 || items.length / 2 > MAX_ID_PAIRS) throw new ParseError('ID takes up to 30 field-value pairs');
    const fields: Record<string, string | null> = {};
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (!k) throw new ParseError('ID field name must be a string');
      fields[k.bytes.toString('utf8').slice(0, 30)] = items[i + 1]?.bytes.toString('utf8').slice(0, 1024) ?? null;
    }
    return fields;
  },
  async run(inv, fields) {
    if (fields) inv.session.log.info({ client: fields }, 'client id');
    // RFC 2971 §3.3 allows further fields: under `serve --workers N` the worker that serves this connection (diagnostics, tests).
    const slot = workerSlot();
    const ourFields = ['name', 'mailkeep', 'version', VERSION, 'vendor', 'mailkeep', ...(slot === null ? [] : ['x-worker', String(slot)])];
    const ours = ourFields.map((s) => encodeString(s));
    inv.session.untagged(Buffer.concat([Buffer.from('ID '), encodeList(ours)]));
  },
});

/** RFC 9051 §6.3.10 — NAMESPACE: one personal namespace, "/" separated. */
export const namespace = command({
  name: 'NAMESPACE',
  states: ['authenticated', 'selected'],
  parse: () => undefined,
  async run(inv) {
    inv.session.untagged(Buffer.concat([Buffer.from('NAMESPACE (('), encodeString(''), Buffer.from(' '), encodeNString('/'), Buffer.from(')) NIL NIL')]));
  },
});
