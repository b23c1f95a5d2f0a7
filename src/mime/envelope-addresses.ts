/**
 * The From, To, Cc and Bcc addresses of a message, read back from its stored
 * ENVELOPE (MessageAnalysis.envelope, RFC 9051 §7.5.2 syntax). SORT FROM/TO/CC
 * compare the [IMAP] addr-mailbox of the first address (RFC 5256 §3) and
 * DISPLAYFROM/DISPLAYTO its addr-name (RFC 5957 §4); SEARCH FROM/TO/CC/BCC
 * match the envelope's field (RFC 9051 §6.4.4): reading the envelope gives
 * exactly those, with the address parsing done once at ingestion.
 *
 * Invariant: never throws; a malformed envelope yields no addresses. Nesting
 * is bounded by the envelope grammar (three levels).
 */

/** One address structure; raw octets (the name may hold RFC 2047 encoded words), null for NIL. */
export interface EnvelopeAddress {
  name: Buffer | null;
  mailbox: Buffer | null;
  host: Buffer | null;
}

/** The first address of each field SORT looks at; null when the field is NIL or empty. */
export interface FirstAddresses {
  from: EnvelopeAddress | null;
  to: EnvelopeAddress | null;
  cc: EnvelopeAddress | null;
}

/** A parsed envelope value: an nstring or a list. */
type Value = Buffer | null | Value[];

/** Deepest list nesting in an ENVELOPE: envelope → address list → address. */
const MAX_DEPTH = 3;

class Malformed extends Error {}

/** Reads IMAP values (lists, NIL, quoted strings, literals) from a buffer. */
class ValueReader {
  private i = 0;
  constructor(private readonly b: Buffer) {}

  value(depth: number): Value {
    const c = this.b[this.i];
    if (c === 0x28) return this.list(depth + 1);
    if (c === 0x22) return this.quoted();
    if (c === 0x7b) return this.literal();
    if (this.b.toString('latin1', this.i, this.i + 3).toUpperCase() === 'NIL') {
      this.i += 3;
      return null;
    }
    throw new Malformed();
  }

  private list(depth: number): Value[] {
    if (depth > MAX_DEPTH) throw new Malformed();
    this.i++;
    const items: Value[] = [];
    while (this.b[this.i] !== 0x29) {
      if (this.i >= this.b.length) throw new Malformed();
      // Envelope fields are separated by SP; the addresses of a list are not.
      if (items.length > 0 && this.b[this.i] === 0x20) this.i++;
      items.push(this.value(depth));
    }
    this.i++;
    return items;
  }

  private quoted(): Buffer {
    const out: number[] = [];
    for (this.i++; this.i < this.b.length; this.i++) {
      let c = this.b[this.i]!;
      if (c === 0x22) {
        this.i++;
        return Buffer.from(out);
      }
      if (c === 0x5c) c = this.b[++this.i] ?? 0;
      out.push(c);
    }
    throw new Malformed();
  }

  private literal(): Buffer {
    const close = this.b.indexOf('}\r\n', this.i);
    if (close < 0) throw new Malformed();
    const n = Number(this.b.toString('latin1', this.i + 1, close));
    const start = close + 3;
    if (!Number.isSafeInteger(n) || start + n > this.b.length) throw new Malformed();
    this.i = start + n;
    return this.b.subarray(start, this.i);
  }
}

/** The address structures of an address-list value (group markers included, RFC 9051 §7.5.2). */
function listOf(v: Value | undefined): EnvelopeAddress[] {
  if (!Array.isArray(v)) return [];
  const str = (x: Value | undefined): Buffer | null => (Buffer.isBuffer(x) ? x : null);
  return v.filter(Array.isArray).map((a) => ({ name: str(a[0]), mailbox: str(a[2]), host: str(a[3]) }));
}

/** The address fields SEARCH matches, by their ENVELOPE position: date subject from sender reply-to to cc bcc in-reply-to message-id. */
const FIELD_AT = { from: 2, to: 5, cc: 6, bcc: 7 } as const;

/** Every address of each field SEARCH matches; empty when the field is NIL. */
export type AddressLists = Record<keyof typeof FIELD_AT, EnvelopeAddress[]>;

/** The address lists of a pre-encoded ENVELOPE; all empty when it is malformed. */
export function addressLists(envelope: Buffer): AddressLists {
  let env: Value = null;
  try {
    env = new ValueReader(envelope).value(0);
  } catch (e) {
    if (!(e instanceof Malformed)) throw e;
  }
  const field = (at: number): EnvelopeAddress[] => (Array.isArray(env) ? listOf(env[at]) : []);
  return { from: field(FIELD_AT.from), to: field(FIELD_AT.to), cc: field(FIELD_AT.cc), bcc: field(FIELD_AT.bcc) };
}

/** The first From, To and Cc addresses of address lists. */
export function firstOfLists(lists: AddressLists): FirstAddresses {
  return { from: lists.from[0] ?? null, to: lists.to[0] ?? null, cc: lists.cc[0] ?? null };
}
