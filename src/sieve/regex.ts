/**
 * The regex match type (draft-ietf-sieve-regex-01, POSIX extended regular
 * expressions) run on V8's linear-time engine (the `l` flag, switched on
 * here with --enable-experimental-regexp-engine): no backtracking, so no
 * pattern can blow up; time is O(pattern × subject). The pattern length is
 * capped and the subject cut to `maxMatchSubject` characters. That engine
 * has no `i` flag, so case-insensitive matching (i;ascii-casemap) is done by
 * writing each ASCII letter as both cases. POSIX bracket classes ([:alpha:]…)
 * are translated; backreferences are refused (POSIX ERE has none either).
 */
import { setFlagsFromString } from 'node:v8';
import type { SieveLimits } from './limits.js';

setFlagsFromString('--enable-experimental-regexp-engine');

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\r\\n\\v\\f',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  cntrl: '\\x00-\\x1f\\x7f',
  print: ' -~',
  graph: '!-~',
};

const isLetter = (c: string): boolean => /^[A-Za-z]$/.test(c);
const swap = (c: string): string => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
const escapeInClass = (c: string): string => (/[\\\]^-]/.test(c) ? `\\${c}` : c);

/** The members of a bracket expression's content with the other case of every letter and letter range added. */
function foldClass(items: string[]): string {
  const extra: string[] = [];
  for (const it of items) {
    if (it.length === 1 && isLetter(it)) extra.push(swap(it));
    const m = /^([A-Za-z])-([A-Za-z])$/.exec(it);
    if (m) extra.push(`${swap(m[1] as string)}-${swap(m[2] as string)}`);
  }
  return items.join('') + extra.join('');
}

/** Translates POSIX ERE to JS source; throws with a reason when it cannot. */
function translate(pattern: string, fold: boolean): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) throw new Error('trailing backslash');
      if (n >= '1' && n <= '9') throw new Error('backreferences are not supported');
      // ERE: "\x" is a literal x; letters must not become JS escapes like \d
      out += isLetter(n) ? (fold ? `[${n}${swap(n)}]` : n) : `\\${n}`;
      i++;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      let negate = '';
      if (pattern[j] === '^') {
        negate = '^';
        j++;
      }
      const items: string[] = [];
      if (pattern[j] === ']') {
        items.push('\\]');
        j++;
      }
      for (; j < pattern.length && pattern[j] !== ']'; j++) {
        const cls = /^\[:([a-z]+):\]/.exec(pattern.slice(j, j + 10));
        if (cls) {
          const v = CLASSES[cls[1] as string];
          if (v === undefined) throw new Error(`unknown character class [:${cls[1]}:]`);
          items.push(v);
          j += cls[0].length - 1;
          continue;
        }
        const a = pattern[j] as string;
        const b = pattern[j + 2];
        if (pattern[j + 1] === '-' && b !== undefined && b !== ']') {
          items.push(`${escapeInClass(a)}-${escapeInClass(b)}`);
          j += 2;
        } else items.push(escapeInClass(a));
      }
      if (j >= pattern.length) throw new Error('unterminated bracket expression');
      out += `[${negate}${fold ? foldClass(items) : items.join('')}]`;
      i = j;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') throw new Error('"(?" constructs are not POSIX ERE');
    if (c === '{') {
      const m = /^\{(\d{1,3})(,(\d{0,3}))?\}/.exec(pattern.slice(i));
      if (!m) throw new Error('bad interval expression');
      out += m[0];
      i += m[0].length - 1;
      continue;
    }
    out += fold && isLetter(c) ? `[${c}${swap(c)}]` : c;
  }
  return out;
}

/** Compiled patterns kept at most: a script's constant keys are compiled once per process, not once per message. */
const CACHE_SIZE = 1000;
/** By case sensitivity and pattern; the RegExps have no g or y flag, so no lastIndex state is shared between uses. */
const compiled = new Map<string, RegExp | string>();

/** Compiles a pattern (ASCII case-insensitive unless the comparator is i;octet); an error text when refused. */
export function compileRegex(pattern: string, caseSensitive: boolean, limits: SieveLimits): RegExp | string {
  if (pattern.length > limits.maxRegexPattern) return `pattern longer than ${limits.maxRegexPattern} characters`;
  const key = `${caseSensitive ? 's' : 'i'}${pattern}`;
  let re = compiled.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(translate(pattern, !caseSensitive), 'sl');
    } catch (e) {
      re = (e as Error).message;
    }
    if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
    compiled.set(key, re);
  }
  return re;
}
