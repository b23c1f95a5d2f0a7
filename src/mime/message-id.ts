/**
 * Message IDs for THREAD REFERENCES (RFC 5256 §3, REFERENCES): the msg-ids of
 * Message-ID, References and In-Reply-To (RFC 5322 §3.6.4), normalized so
 * that quoting and white space or comments do not make equal IDs differ:
 * <"01KF8JCEOCBS0045PS"@xxx.yyy.com> and <01KF8JCEOCBS0045PS@xxx.yyy.com>
 * are the same ID. Comparison stays case-sensitive.
 *
 * Invariant: one linear pass over the (already bounded) header value.
 */

/** Most references kept from one References field: the last ones, nearest to the message. */
export const MAX_REFERENCES = 256;

const C = { TAB: 0x09, SP: 0x20, DQUOTE: 0x22, LPAREN: 0x28, RPAREN: 0x29, AT: 0x40, LBRACKET: 0x5b, BACKSLASH: 0x5c } as const;

/** Characters that end an unquoted part of an ID. */
const isDelimiter = (c: number): boolean => c === C.SP || c === C.TAB || c === C.AT || c === C.DQUOTE || c === C.LPAREN || c === C.RPAREN || c === C.LBRACKET;

/** Cursor over the text between "<" and ">". */
class IdReader {
  i = 0;
  constructor(private readonly s: string) {}

  get done(): boolean {
    return this.i >= this.s.length;
  }

  peek(): number {
    return this.s.charCodeAt(this.i);
  }

  /** CFWS: white space and (nested) comments. */
  skipCfws(): void {
    let depth = 0;
    while (!this.done) {
      const c = this.peek();
      if (c === C.LPAREN) depth++;
      else if (c === C.RPAREN && depth > 0) depth--;
      else if (c === C.BACKSLASH && depth > 0) this.i++;
      else if (depth === 0 && c !== C.SP && c !== C.TAB) return;
      this.i++;
    }
  }

  /** A quoted-string's content, unescaped; null when unterminated. */
  quoted(): string | null {
    let out = '';
    for (this.i++; !this.done; this.i++) {
      const c = this.peek();
      if (c === C.DQUOTE) {
        this.i++;
        return out;
      }
      if (c === C.BACKSLASH) this.i++;
      out += this.s.charAt(this.i);
    }
    return null;
  }

  /** Unquoted text up to a delimiter. */
  atom(): string {
    const from = this.i;
    while (!this.done && !isDelimiter(this.peek())) this.i++;
    return this.s.slice(from, this.i);
  }

  /** id-left: words (atoms or quoted strings, obs-id-left allows both) up to "@". */
  left(): string | null {
    let out = '';
    while (!this.done && this.peek() !== C.AT) {
      if (this.peek() === C.DQUOTE) {
        const q = this.quoted();
        if (q === null) return null;
        out += q;
      } else {
        const a = this.atom();
        if (a === '') return null;
        out += a;
      }
      // CFWS may follow the last word, not separate two words.
      const before = this.i;
      this.skipCfws();
      if (this.i !== before && !this.done && this.peek() !== C.AT) return null;
    }
    return out;
  }

  /** id-right: a dot-atom or a domain literal, kept with its brackets. */
  right(): string | null {
    if (this.peek() !== C.LBRACKET) return this.atom();
    const close = this.s.indexOf(']', this.i);
    if (close < 0) return null;
    const lit = this.s.slice(this.i, close + 1);
    this.i = close + 1;
    return lit;
  }
}

/** The normalized form "left@right" of the text inside "<" ">", or null when it is not a msg-id. */
function normalizeId(inner: string): string | null {
  const r = new IdReader(inner);
  r.skipCfws();
  const left = r.left();
  if (!left || r.done) return null;
  r.i++; // "@"
  r.skipCfws();
  const right = r.right();
  if (!right) return null;
  r.skipCfws();
  return r.done ? `${left}@${right}` : null;
}

/** Calls `take` with each msg-id of a header value in order until it returns false; one forward pass. */
function scanIds(value: string, take: (id: string) => boolean): void {
  let open = -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // The innermost "<" before ">", so "<<a@b>" and stray "<" in text still find <a@b>.
    if (c === 0x3c) open = i;
    else if (c === 0x3e && open >= 0) {
      const id = normalizeId(value.slice(open + 1, i));
      open = -1;
      if (id !== null && !take(id)) return;
    }
  }
}

/** The normalized msg-ids of a header value, in order; at most the last `keep`. */
export function parseMsgIds(value: string, keep = MAX_REFERENCES): string[] {
  const out: string[] = [];
  scanIds(value, (id) => {
    out.push(id);
    // Trim now and then, so memory stays bounded by `keep`, not by the field.
    if (out.length >= 2 * keep) out.splice(0, out.length - keep);
    return true;
  });
  return out.length > keep ? out.slice(out.length - keep) : out;
}

/** The first valid msg-id of a header value (Message-ID, In-Reply-To), or null. */
export function firstMsgId(value: string): string | null {
  let first: string | null = null;
  scanIds(value, (id) => {
    first = id;
    return false;
  });
  return first;
}
