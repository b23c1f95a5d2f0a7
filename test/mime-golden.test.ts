/**
 * Golden MIME fixtures: every test/fixtures/mime/**\/<msg>.golden.json holds
 * what Dovecot 2.3 answered for <msg> (recorded by
 * tools/record-mime-goldens.mjs). Our analyzer must produce the same
 * ENVELOPE, BODY and BODYSTRUCTURE values, the same BODY[section] bytes and
 * the same BINARY[part] bytes. Dovecot presents bare-LF messages with CRLF
 * line ends, so those are compared in CRLF form (we serve the stored bytes
 * as they are, so for bare LF our sizes count the stored octets instead).
 *
 * Protocol values are compared as parsed IMAP data, so a quoted string and
 * a literal with the same content are equal. Deliberate differences are
 * listed in the golden's "expectDiff" (field → why, and our expected value).
 * A mismatch writes <msg>.actual.json beside the fixture for diffing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { analyzeMessage } from '../src/mime/analyze.js';
import { findPart, sectionRange, type SectionText } from '../src/mime/section.js';
import { decodeTransferEncoding } from '../src/mime/transfer-encoding.js';
import type { PartIndex } from '../src/mime/types.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/mime');

interface Digest {
  len: number;
  sha256: string;
  head: string;
  tail: string;
}
interface Golden {
  file: string;
  size?: number;
  appendRefused?: string;
  envelope?: string;
  body?: string;
  bodystructure?: string;
  sections?: Record<string, Digest | null>;
  binary?: Record<string, Digest | { error: string } | null>;
  expectDiff?: Record<string, { why: string; ours?: string | Digest | null }>;
}

type ImapValue = null | string | { atom: string } | ImapValue[];

/** Parses one IMAP value (as latin1 text) into comparable data. */
function parseImap(text: string): ImapValue {
  let pos = 0;
  const value = (): ImapValue => {
    const c = text[pos];
    if (c === '(') {
      pos++;
      const items: ImapValue[] = [];
      while (text[pos] !== ')') {
        if (pos >= text.length) throw new Error(`unterminated list in ${text}`);
        if (text[pos] === ' ') {
          pos++;
          continue;
        }
        items.push(value());
      }
      pos++;
      return items;
    }
    if (c === '"') {
      let s = '';
      pos++;
      while (text[pos] !== '"') {
        if (text[pos] === '\\') pos++;
        s += text[pos++];
      }
      pos++;
      return s;
    }
    if (c === '{') {
      const close = text.indexOf('}', pos);
      const n = Number(text.slice(pos + 1, close));
      const start = close + 3;
      pos = start + n;
      return text.slice(start, pos);
    }
    const m = /^[^\s()]+/.exec(text.slice(pos));
    if (!m) throw new Error(`bad IMAP value at ${pos} in ${text}`);
    pos += m[0].length;
    return m[0] === 'NIL' ? null : { atom: m[0] };
  };
  const v = value();
  assert.equal(pos, text.length, `trailing data after IMAP value: ${text.slice(pos, pos + 40)}`);
  return v;
}

function digest(buf: Buffer | null): Digest | null {
  if (buf === null) return null;
  return {
    len: buf.length,
    sha256: createHash('sha256').update(buf).digest('hex'),
    head: buf.subarray(0, 60).toString('latin1'),
    tail: buf.length > 60 ? buf.subarray(Math.max(60, buf.length - 60)).toString('latin1') : '',
  };
}

function nulAs80(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  for (let i = 0; i < copy.length; i++) if (copy[i] === 0) copy[i] = 0x80;
  return copy;
}

/** Bare LF → CRLF, which is how Dovecot presents such messages over IMAP. */
function toCrlf(bytes: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (c === 0x0a && (i === 0 || bytes[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(c);
  }
  return Buffer.from(out);
}

/** "2.1.MIME" → path [2, 1] and specifier MIME. */
function parseSection(name: string): { path: number[]; spec?: SectionText } {
  const parts = name === '' ? [] : name.split('.');
  const last = parts[parts.length - 1];
  const spec = last === 'HEADER' || last === 'TEXT' || last === 'MIME' ? (last as SectionText) : undefined;
  if (spec !== undefined) parts.pop();
  return spec === undefined ? { path: parts.map(Number) } : { path: parts.map(Number), spec };
}

function listGoldens(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listGoldens(p));
    else if (e.name.endsWith('.golden.json')) out.push(p);
  }
  return out.sort();
}

const goldens = listGoldens(FIXTURES);

test('golden fixtures are present (hand-made and corpus)', () => {
  assert.ok(goldens.filter((g) => g.includes(`${path.sep}hand${path.sep}`)).length >= 40);
  assert.ok(goldens.filter((g) => g.includes(`${path.sep}corpus${path.sep}`)).length >= 145);
});

for (const goldenPath of goldens) {
  const golden = JSON.parse(fs.readFileSync(goldenPath, 'utf8')) as Golden;
  test(`golden ${golden.file}`, () => {
    const emlPath = goldenPath.slice(0, -'.golden.json'.length);
    const raw = fs.readFileSync(emlPath);
    const bytes = toCrlf(raw);
    const a = analyzeMessage(bytes);
    const expectDiff = golden.expectDiff ?? {};
    const mismatches: string[] = [];
    const actual: Record<string, unknown> = { file: golden.file, sections: {}, binary: {} };

    const check = (field: string, ours: string | Digest | null, theirs: string | Digest | null | undefined, asImap: boolean): void => {
      const diff = expectDiff[field];
      const want = diff !== undefined ? diff.ours : theirs;
      if (diff !== undefined && !('ours' in diff)) return; // a documented difference without a fixed expectation
      const same =
        asImap && typeof ours === 'string' && typeof want === 'string'
          ? JSON.stringify(parseImap(ours)) === JSON.stringify(parseImap(want))
          : JSON.stringify(ours) === JSON.stringify(want ?? null);
      if (!same) mismatches.push(field);
    };

    for (const field of ['envelope', 'body', 'bodystructure'] as const) {
      const ours = (field === 'bodystructure' ? a.bodyStructure : a[field]).toString('latin1');
      actual[field] = ours;
      if (golden.appendRefused !== undefined) check(field, ours, undefined, true);
      else check(field, ours, golden[field], true);
    }
    if (golden.size !== undefined) assert.equal(bytes.length, golden.size, 'RFC822.SIZE: CRLF form has the size Dovecot reports');

    for (const [name, theirs] of Object.entries(golden.sections ?? {})) {
      const { path: p, spec } = parseSection(name);
      const r = sectionRange(a.root, p, spec);
      // Dovecot answers a section that does not exist with an empty string
      // Dovecot sends NUL octets of BODY[] as 0x80 (NUL may not appear in a literal, RFC 9051 §4.3)
      const ours = digest(r === null ? Buffer.alloc(0) : nulAs80(bytes.subarray(r.start, r.end)));
      (actual.sections as Record<string, unknown>)[name] = ours;
      check(`sections.${name}`, ours, theirs, false);
    }

    for (const [name, theirs] of Object.entries(golden.binary ?? {})) {
      // Dovecot's BODYSTRUCTURE shows an empty text/plain part for a multipart without parts; it has no bytes
      const part = findPart(a.root, name.split('.').map(Number));
      const decoded = part === null ? Buffer.alloc(0) : decodeTransferEncoding(part.encoding, bytes.subarray(part.bs, part.be));
      (actual.binary as Record<string, unknown>)[name] = decoded === null ? { error: 'UNKNOWN-CTE' } : digest(decoded);
      if (theirs !== null && 'error' in theirs) {
        // UNKNOWN-CTE must agree; Dovecot's internal errors leave nothing to compare with
        const unknown = decoded === null ? 'UNKNOWN-CTE' : 'decoded';
        if (theirs.error.includes('[UNKNOWN-CTE]')) check(`binary.${name}`, unknown, 'UNKNOWN-CTE', false);
        continue;
      }
      check(`binary.${name}`, decoded === null ? null : digest(decoded), theirs, false);
    }

    if (!raw.equals(bytes)) {
      // the stored (bare LF) form has the same structure, at the corresponding offsets
      const rawRoot = analyzeMessage(raw).root;
      const bareLfBefore: number[] = [0];
      for (let i = 0; i < raw.length; i++) {
        const bare = raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d);
        bareLfBefore.push((bareLfBefore[i] as number) + (bare ? 1 : 0));
      }
      const at = (x: number): number => x + (bareLfBefore[x] as number);
      const mapped = (p: PartIndex): PartIndex => {
        const q: PartIndex = { ...p, hs: at(p.hs), bs: at(p.bs), be: at(p.be) };
        if (p.parts) q.parts = p.parts.map(mapped);
        return q;
      };
      assert.deepEqual(mapped(rawRoot), a.root, 'bare-LF form: same parts at corresponding offsets');
    }

    const actualPath = `${emlPath}.actual.json`;
    if (mismatches.length > 0) {
      fs.writeFileSync(actualPath, `${JSON.stringify({ ...actual, mismatches }, null, 2)}\n`);
      assert.fail(`${golden.file}: ${mismatches.join(', ')} differ from Dovecot; see ${path.relative(process.cwd(), actualPath)}`);
    } else if (fs.existsSync(actualPath)) {
      fs.unlinkSync(actualPath);
    }
  });
}
