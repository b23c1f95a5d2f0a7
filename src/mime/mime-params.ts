/**
 * Content-Type / Content-Disposition parameter lists (RFC 2045 §5.1) with
 * RFC 2231 continuations merged the way Dovecot 2.3 reports them in
 * BODYSTRUCTURE: `name*0*=…; name*1=…` becomes one `name*` parameter whose
 * value keeps the charset'language' prefix and %-encoding (RFC 2231 §4);
 * nothing is decoded. Plain parameters come first in header order, merged
 * ones after them, sorted by name.
 */
import { ByteBuilder } from './byte-builder.js';
import type { Rfc822Lexer } from './rfc822-lexer.js';

/** One parameter as reported: attribute and value bytes. */
export interface MimeParam {
  name: Buffer;
  value: Buffer;
}

interface Section {
  key: Buffer;
  value: Buffer;
  idx: number;
  extended: boolean;
}

const STAR = 0x2a;

function compareSections(a: Section, b: Section): number {
  return Buffer.compare(a.key, b.key) || a.idx - b.idx;
}

/**
 * Splits `name*<n>[*]` / `name*`; null when the attribute is not RFC 2231
 * shaped. `state.idx` carries the section number between calls: like
 * Dovecot, a bare `name*` reuses the number last parsed (so it can show up
 * as an unmerged `name*<n>*`), keeping BODYSTRUCTURE identical.
 */
function section(key: Buffer, value: Buffer, state: { idx: number }): Section | null {
  const star = key.indexOf(STAR);
  if (star < 0) return null;
  let p = star;
  if (p + 1 < key.length) {
    p++;
    state.idx = 0;
    while (p < key.length && (key[p] ?? 0) >= 0x30 && (key[p] ?? 0) <= 0x39) {
      state.idx = Math.min(state.idx * 10 + ((key[p] ?? 0) - 0x30), 0xffffffff);
      p++;
    }
  }
  let extended = false;
  if (key[p] === STAR) {
    extended = true;
    p++;
  }
  if (p !== key.length) return null;
  return { key: key.subarray(0, star), value, idx: state.idx, extended };
}

const lowerEq = (a: Buffer, b: Buffer): boolean => a.length === b.length && a.toString('latin1').toLowerCase() === b.toString('latin1').toLowerCase();

/** Parses `*(";" parameter)` from the lexer position (RFC 2045 §5.1, RFC 2231 §3). */
export function parseParams(lex: Rfc822Lexer, maxParams: number): MimeParam[] {
  const plain: MimeParam[] = [];
  const sections: Section[] = [];
  const key = new ByteBuilder();
  const value = new ByteBuilder();
  const state = { idx: 0 };
  while (plain.length + sections.length < maxParams) {
    const ret = lex.contentParam(key, value);
    if (ret === 0) break;
    if (ret < 0) {
      // skip one octet and try again, as Dovecot does with broken lists
      if (lex.atEnd()) break;
      lex.pos++;
      continue;
    }
    const k = key.toBuffer();
    const v = value.toBuffer();
    const s = section(k, v, state);
    if (s) sections.push(s);
    else plain.push({ name: k, value: v });
  }
  if (sections.length === 0) return plain;

  sections.sort(compareSections);
  for (let i = 0; i < sections.length; ) {
    const first = sections[i] as Section;
    let j = i;
    let complete = true;
    let anyExtended = false;
    for (let next = 0; j < sections.length; j++, next++) {
      const s = sections[j] as Section;
      if (!lowerEq(first.key, s.key)) break;
      if (s.idx !== next) complete = false;
      if (s.extended) anyExtended = true;
    }
    const group = sections.slice(i, j);
    i = j;
    if (!complete) {
      // a gap in the numbering: report the pieces unmerged (RFC 2231 §3)
      for (const s of group) {
        plain.push({ name: Buffer.from(`${s.key.toString('latin1')}*${s.idx}${s.extended ? '*' : ''}`, 'latin1'), value: s.value });
      }
      continue;
    }
    const out = new ByteBuilder();
    if (!first.extended && anyExtended) out.append(Buffer.from("''"));
    for (const s of group) {
      if (!s.extended && anyExtended) {
        // a plain piece inside an encoded value: make its "%" literal
        for (const c of s.value) {
          if (c === 0x25) out.append(Buffer.from('%25'));
          else out.appendByte(c);
        }
      } else {
        out.append(s.value);
      }
    }
    plain.push({ name: anyExtended ? Buffer.concat([first.key, Buffer.from('*')]) : first.key, value: out.toBuffer() });
  }
  return plain;
}
