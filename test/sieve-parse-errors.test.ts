// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/**
 * Error locations of the Sieve parser and validator: the line and column
 * that ManageSieve CHECKSCRIPT and `mailkeep sieve check` will show.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSieve } from '../src/sieve/index.js';

/** The first error of a script that must not compile. */
function firstError(script: string): { line: number; column: number; message: string } {
  const r = parseSieve(script);
  assert.equal(r.ok, false, `expected an error in ${JSON.stringify(script)}`);
  if (r.ok) throw new Error('unreachable');
  return r.errors[0] as { line: number; column: number; message: string };
}

const CASES: Array<{ script: string; line: number; column: number; message: RegExp }> = [
  { script: 'keep', line: 1, column: 5, message: /expected ';' after command 'keep'/ },
  { script: 'keep;\n  discard\n', line: 2, column: 10, message: /expected ';'/ },
  { script: 'if true {\n  keep;\n', line: 3, column: 1, message: /expected '}' but found end of script/ },
  { script: 'keep;\n}', line: 2, column: 1, message: /unexpected '}'/ },
  { script: 'redirect "a@b.c\n;', line: 1, column: 10, message: /unterminated quoted string/ },
  { script: 'keep;\n/* never closed', line: 2, column: 1, message: /unterminated bracket comment/ },
  { script: 'require ["fileinto" "copy"];', line: 1, column: 21, message: /expected ',' or '\]'/ },
  { script: 'require ["fileinto",];', line: 1, column: 21, message: /expected a string in the string list/ },
  { script: 'if anyof (true false) { keep; }', line: 1, column: 11, message: /test 'true' takes no test$/ },
  { script: 'if anyof (true, false { keep; }', line: 1, column: 23, message: /expected ',' or '\)'/ },
  { script: 'keep;\n\tfoo @;', line: 2, column: 6, message: /unexpected character '@'/ },
  { script: 'if header : "a" "b" { keep; }', line: 1, column: 11, message: /expected a tag name/ },
  { script: 'redirect text:\nhello\n', line: 1, column: 10, message: /unterminated multi-line string/ },
  { script: 'redirect text: x\n.\n;', line: 1, column: 16, message: /expected end of line after "text:"/ },
  { script: 'if size :over 99999999999999999 { keep; }', line: 1, column: 15, message: /number is too large/ },
  // validation errors carry the node's position
  { script: 'keep;\n  frobnicate;', line: 2, column: 3, message: /unknown command 'frobnicate'/ },
  { script: 'require "x-nope";', line: 1, column: 9, message: /unknown Sieve capability 'x-nope'/ },
  { script: '\n\nfileinto "x";', line: 3, column: 1, message: /requires the "fileinto" extension/ },
  { script: 'if header :frob "s" "x" { keep; }', line: 1, column: 11, message: /unknown tag ':frob'/ },
  { script: 'if header :is :contains "s" "x" { keep; }', line: 1, column: 15, message: /conflicts with ':is'/ },
  { script: 'if exists { keep; }', line: 1, column: 4, message: /takes 1 positional argument/ },
  { script: 'keep;\nrequire "fileinto";', line: 2, column: 1, message: /require must come before/ },
  { script: 'keep;\nelse { keep; }', line: 2, column: 1, message: /else without a preceding if/ },
  { script: 'if true keep;', line: 1, column: 1, message: /needs a block/ },
  { script: 'if header :comparator "i;nope" "s" "x" { keep; }', line: 1, column: 4, message: /unknown comparator 'i;nope'/ },
  { script: 'require "regex";\n\nif header :regex "s" "(a\\\\1)" { keep; }', line: 3, column: 4, message: /backreferences/ },
  { script: 'require "regex";\nif header :regex "s" "[abc" { keep; }', line: 2, column: 4, message: /unterminated bracket/ },
  { script: 'require "relational";\nif header :value "xx" "s" "1" { keep; }', line: 2, column: 4, message: /unknown relational operator/ },
  { script: 'require "variables";\nset "1bad" "x";', line: 2, column: 1, message: /invalid variable name/ },
  { script: 'require "date";\nif date "date" "fortnight" "1" { keep; }', line: 2, column: 4, message: /unknown date part/ },
  { script: 'if address :is "subject" "x" { keep; }', line: 1, column: 4, message: /holds no addresses/ },
  {
    script: 'require ["comparator-i;ascii-numeric"];\nif header :contains :comparator "i;ascii-numeric" "s" "1" { keep; }',
    line: 2,
    column: 4,
    message: /does not support substring/,
  },
  { script: 'require "include";\nglobal "x";', line: 2, column: 1, message: /requires the "variables" extension/ },
  { script: 'require "vacation";\nvacation :seconds 5 "x";', line: 2, column: 10, message: /requires the "vacation-seconds" extension/ },
  { script: 'redirect "not an address";', line: 1, column: 1, message: /invalid address/ },
  { script: 'keep\n\n;\nstop 1;', line: 4, column: 1, message: /takes 0 positional/ },
];

for (const c of CASES) {
  test(`error at ${c.line}:${c.column} for ${JSON.stringify(c.script).slice(0, 60)}`, () => {
    const e = firstError(c.script);
    assert.match(e.message, c.message);
    assert.deepEqual({ line: e.line, column: e.column }, { line: c.line, column: c.column }, e.message);
  });
}

test('columns count characters, not bytes', () => {
  const e = firstError('if header :contains "subject" "Grüße" { keep; } @');
  assert.equal(e.column, 49);
});

test('a character outside the BMP is one column', () => {
  const e = firstError('redirect "😀@example.org" @');
  assert.equal(e.column, 26);
});

test('CRLF line ends count one line each', () => {
  const e = firstError('keep;\r\nkeep;\r\n  bogus;\r\n');
  assert.deepEqual([e.line, e.column], [3, 3]);
});

test('valid scripts compile', () => {
  for (const s of [
    '',
    'keep;',
    'require ["fileinto"]; if header :contains "subject" "x" { fileinto "A"; } else { stop; }',
    'if anyof(true, not false) { discard; }',
    'require "encoded-character"; redirect "${hex:61}@b.c";',
  ])
    assert.equal(parseSieve(s).ok, true, s);
});
