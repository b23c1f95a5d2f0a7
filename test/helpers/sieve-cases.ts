// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/**
 * The Sieve differential corpus: script × message cases that run both in
 * mailkeep's runner and in Pigeonhole's sieve-test (test/sieve-record.ts
 * records Pigeonhole's answers in test/fixtures/sieve/pigeonhole.json).
 * Messages are hand-written ones (test/fixtures/sieve/messages) and real
 * ones from the MIME corpus (test/fixtures/mime/corpus).
 */
import fs from 'node:fs';
import path from 'node:path';
import { analyzeMessage } from '../../src/mime/index.js';
import type { SieveContext } from '../../src/sieve/index.js';

/** One case: a script, a message file (relative to test/fixtures), the envelope, scripts it includes. */
export interface SieveCase {
  name: string;
  script: string;
  message: string;
  envelope?: { from: string; to: string };
  includes?: { personal?: Record<string, string>; global?: Record<string, string> };
}

/** test/fixtures, from dist/test/helpers. */
export const FIXTURES = path.resolve(import.meta.dirname, '../../../test/fixtures');
/** Mailboxes that exist for both implementations (mailboxexists, fileinto without :create). */
export const EXISTING_MAILBOXES = ['INBOX', 'Work', 'Lists'];
/** The envelope used when a case gives none. */
export const DEFAULT_ENVELOPE = { from: 'alice@example.com', to: 'me@example.net' };
/** The spamtest header both sides read: a score out of 10. */
export const SPAM_HEADER = { header: 'X-Spam-Score', max: 10 };

const M = (n: string): string => `sieve/messages/${n}.eml`;

const cases: SieveCase[] = [];
const add = (name: string, script: string, message = M('plain'), extra: Partial<SieveCase> = {}): void => {
  cases.push({ name, script, message, ...extra });
};

// ---- RFC 5228 base: keep, discard, redirect, stop, tests, match types, comparators
add('empty script: implicit keep', '');
add('explicit keep', 'keep;');
add('discard', 'discard;');
add('redirect', 'redirect "bob@example.org";');
add('redirect twice the same address is once', 'redirect "bob@example.org"; redirect "bob@example.org";');
add('two redirects', 'redirect "bob@example.org"; redirect "carol@example.org";');
add('stop before discard', 'stop; discard;');
add('header :contains', 'if header :contains "subject" "world" { discard; }');
add('header :is case-insensitive', 'if header :is "Subject" "HELLO WORLD" { discard; }');
add('header :is i;octet is case-sensitive', 'if header :is :comparator "i;octet" "subject" "HELLO WORLD" { discard; }');
add('header :matches', 'if header :matches "subject" "h*o w?rld" { discard; }');
add('header :matches no match', 'if header :matches "subject" "*planet*" { discard; }');
add('header list of names', 'if header :contains ["to", "cc"] "carol" { redirect "x@example.org"; }');
add('exists', 'if exists ["x-tag", "x-priority"] { discard; }');
add('exists missing', 'if exists ["x-tag", "x-missing"] { discard; }');
add('size :over', 'if size :over 100 { discard; }');
add('size :under 1K', 'if size :under 1K { redirect "small@example.org"; }');
add('not', 'if not exists "x-missing" { discard; }');
add('allof', 'if allof (header :contains "from" "alice", header :contains "subject" "hello") { discard; }');
add('anyof', 'if anyof (false, header :contains "subject" "nothing", true) { discard; }');
add('elsif else chain', 'if header :is "subject" "a" { discard; } elsif header :contains "subject" "hello" { redirect "b@example.org"; } else { keep; }');
add('else taken', 'if false { discard; } else { redirect "e@example.org"; }');
add('address :all', 'if address :is "from" "alice@example.com" { discard; }');
add('address :localpart', 'if address :localpart :is "to" "bob" { discard; }');
add('address :domain', 'if address :domain :is "to" "example.org" { discard; }');
add('address with display name not compared', 'if address :contains "from" "Example" { discard; }');
add('header sees display name', 'if header :contains "from" "Alice Example" { discard; }');
add('envelope from', 'require "envelope"; if envelope :is "from" "alice@example.com" { discard; }');
add('envelope to :domain', 'require "envelope"; if envelope :domain :is "to" "example.net" { discard; }');
add('encoded-word subject decoded for comparison', 'if header :contains "subject" "Grüße" { discard; }', M('encoded'));
add('encoded display name', 'if header :contains "from" "Müller" { discard; }', M('encoded'));
add('multi-line string', 'if header :contains "subject" text:\nhello\n.\n { discard; }');
add('comments', '# a comment\n/* a bracket\n comment */ keep; # trailing');
add('ascii-numeric equality', 'require "comparator-i;ascii-numeric"; if header :is :comparator "i;ascii-numeric" "x-priority" "02" { discard; }');

// ---- fileinto, copy, mailbox, imap4flags
add('fileinto', 'require "fileinto"; fileinto "Work";');
add('fileinto twice same folder', 'require "fileinto"; fileinto "Work"; fileinto "Work";');
add('fileinto :copy keeps implicit keep', 'require ["fileinto", "copy"]; fileinto :copy "Work";');
add('redirect :copy keeps implicit keep', 'require "copy"; redirect :copy "bob@example.org";');
add('fileinto and keep', 'require "fileinto"; fileinto "Work"; keep;');
add('fileinto INBOX then keep is one store', 'require "fileinto"; fileinto "INBOX"; keep;');
add('mailboxexists true', 'require ["mailbox", "fileinto"]; if mailboxexists "Work" { fileinto "Work"; }');
add('mailboxexists false', 'require ["mailbox", "fileinto"]; if mailboxexists ["Work", "Nope"] { fileinto "Work"; } else { discard; }');
add('fileinto :create', 'require ["mailbox", "fileinto"]; fileinto :create "New/Folder";');
// RFC 8579: no mailbox here has a special-use attribute
add(
  'fileinto :specialuse',
  'require ["special-use", "fileinto", "imap4flags"]; if specialuse_exists "\\\\Junk" { addflag "junk-known"; } fileinto :flags "a" :specialuse "\\\\Junk" "Spam";',
);
add(
  'specialuse_exists on a named mailbox',
  'require ["special-use", "fileinto"]; if specialuse_exists "Work" ["\\\\Junk"] { discard; } else { fileinto "Work"; }',
);
add('fileinto :specialuse with an invalid attribute', 'require ["special-use", "fileinto"]; fileinto :specialuse "Junk" "Spam";');
add('specialuse_exists without require', 'if specialuse_exists "\\\\Junk" { discard; }');
// RFC 5490 §3.3-§4.2: no annotations are set on either side
add('metadataexists: no annotation', 'require ["mboxmetadata", "fileinto"]; if metadataexists "INBOX" "/private/vendor/x" { fileinto "Work"; }');
add(
  'metadata :matches: no annotation',
  'require ["mboxmetadata", "fileinto"]; if metadata :matches "Work" "/private/vendor/x" "*" { discard; } else { fileinto "Work"; }',
);
add('metadata on a missing mailbox is an error', 'require ["mboxmetadata", "fileinto"]; if metadata :is "Nope" "/private/vendor/x" "" { fileinto "Work"; }');
add('servermetadata: no annotation', 'require ["servermetadata", "fileinto"]; if not servermetadata :matches "/private/vendor/x" "*" { fileinto "Work"; }');
add('servermetadataexists: no annotation', 'require ["servermetadata"]; if servermetadataexists ["/shared/comment"] { discard; }');
add('addflag then keep', 'require "imap4flags"; addflag "\\\\Seen"; keep;');
add('addflag implicit keep', 'require "imap4flags"; addflag ["\\\\Flagged", "$Important"];');
add('setflag replaces', 'require "imap4flags"; addflag "a"; setflag "b c"; ');
add('removeflag', 'require "imap4flags"; addflag "a b c"; removeflag "b";');
add('fileinto :flags', 'require ["imap4flags", "fileinto"]; fileinto :flags ["\\\\Seen", "junk"] "Work";');
add('keep :flags overrides internal', 'require "imap4flags"; addflag "x"; keep :flags "y";');
add('hasflag', 'require "imap4flags"; addflag "urgent"; if hasflag :is "urgent" { discard; }');
add('hasflag false', 'require "imap4flags"; if hasflag :contains "urg" { discard; }');
add('flags on fileinto taken at that moment', 'require ["imap4flags", "fileinto"]; addflag "one"; fileinto "Work"; addflag "two";');
add('flags in a variable', 'require ["imap4flags", "variables"]; addflag "myflags" "a b"; addflag "myflags" "c"; keep :flags "${myflags}";');

// ---- reject, conflicts, errors
add('reject', 'require "reject"; reject "go away";');
add('reject after fileinto conflicts', 'require ["reject", "fileinto"]; fileinto "Work"; reject "no";');
add('reject then discard', 'require "reject"; reject "no"; discard;');
add('reject with vacation conflicts', 'require ["reject", "vacation"]; vacation "away"; reject "no";');
add('two vacations are an error', 'require "vacation"; vacation "a"; vacation "b";');
add('too many redirects', 'redirect "a@example.org"; redirect "b@example.org"; redirect "c@example.org"; redirect "d@example.org"; redirect "e@example.org";');

// ---- compile errors (line numbers compared)
add('syntax: missing semicolon', 'keep\ndiscard;');
add('syntax: unterminated block', 'if true {\n  keep;\n');
add('unknown command', 'keep;\nfrobnicate;');
add('unknown extension', 'require "x-nope";');
add('fileinto without require', 'fileinto "Work";');
add('bad tag', 'if header :frob "subject" "x" { keep; }');
add('unknown comparator', 'if header :comparator "i;nope" :is "subject" "x" { keep; }');
add('require after command', 'keep;\nrequire "fileinto";');
add('elsif without if', 'keep;\nelsif true { keep; }');
add('wrong argument type', 'redirect 5;');
add('numeric comparator needs require', 'if header :comparator "i;ascii-numeric" :is "x-priority" "2" { keep; }');
add('test missing', 'if { keep; }');
add('string list unterminated', 'require ["fileinto", "reject";');
add('bad regex', 'require "regex";\nif header :regex "subject" "(" { keep; }');

// ---- variables (RFC 5229)
add('set and string test', 'require "variables"; set "a" "hello"; if string :is "${a}" "hello" { discard; }');
add('match variables from :matches', 'require ["variables", "fileinto"]; if header :matches "subject" "[*] *" { fileinto "x-${1}"; }', M('list'));
add('match variable ${0}', 'require ["variables", "fileinto"]; if header :matches "from" "*@*" { fileinto "${2}"; }', M('list'));
add('modifiers :lower :upperfirst', 'require ["variables", "fileinto"]; set :lower :upperfirst "f" "hELLO"; fileinto "${f}";');
add('modifier :length', 'require ["variables", "fileinto"]; set :length "n" "abcdef"; fileinto "len${n}";');
add('modifier :quotewildcard', 'require ["variables"]; set :quotewildcard "q" "a*b?"; if string :matches "a*b?" "${q}" { discard; }');
add('unknown variable is empty', 'require ["variables"]; if string :is "${nope}" "" { discard; }');
add('variables in redirect', 'require "variables"; set "u" "bob"; redirect "${u}@example.org";');
add(
  'string :count',
  'require ["variables", "relational", "comparator-i;ascii-numeric"]; if string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "2" { discard; }',
);
add(
  'match vars kept on failed test',
  'require ["variables", "fileinto"]; if header :matches "subject" "hello *" { } if header :matches "subject" "nomatch*" { } fileinto "${1}";',
);

// ---- relational (RFC 5231)
add('relational :value gt', 'require "relational"; if header :value "gt" :comparator "i;ascii-numeric" "x-priority" "1" { discard; }');
add('relational :value lt fails', 'require "relational"; if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "1" { discard; }');
add(
  'relational :count header',
  'require ["relational", "comparator-i;ascii-numeric"]; if header :count "eq" :comparator "i;ascii-numeric" "x-tag" "3" { discard; }',
);
add(
  'relational :count address',
  'require ["relational", "comparator-i;ascii-numeric"]; if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" { discard; }',
);
add('relational :value string order', 'require "relational"; if header :value "lt" "subject" "zzz" { discard; }');

// ---- subaddress (RFC 5233)
add('subaddress :detail', 'require ["subaddress", "envelope", "fileinto"]; if envelope :detail "to" "sieve" { fileinto "Work"; }', M('encoded'), {
  envelope: { from: 'joerg@example.de', to: 'me+sieve@example.net' },
});
add('subaddress :user', 'require ["subaddress", "fileinto"]; if address :user "to" "me" { fileinto "Work"; }', M('encoded'));
add('subaddress :detail in header', 'require ["subaddress"]; if address :detail "cc" "lists" { discard; }');
add('subaddress :detail absent', 'require ["subaddress"]; if address :detail :matches "from" "*" { discard; }');

// ---- body (RFC 5173)
add('body :text contains', 'require "body"; if body :text :contains "quarterly" { discard; }');
add('body default transform', 'require "body"; if body :contains "Friday" { discard; }');
add('body :raw', 'require "body"; if body :raw :contains "SGFsbG8" { discard; }', M('encoded'));
add('body decoded base64', 'require "body"; if body :contains "Rückmeldung" { discard; }', M('encoded'));
add('body :content text/html', 'require "body"; if body :content "text/html" :contains "später" { discard; }', M('encoded'));
add('body :content text/plain no html', 'require "body"; if body :content "text/plain" :contains "<p>" { discard; }', M('encoded'));
add('body no match', 'require "body"; if body :text :contains "unicorn" { discard; }');

// ---- date / index (RFC 5260)
add('date year', 'require "date"; if date :is "date" "year" "2026" { discard; }');
add('date :originalzone hour', 'require "date"; if date :originalzone :is "date" "hour" "11" { discard; }');
add('date :zone', 'require "date"; if date :zone "+0000" :is "date" "time" "09:22:33" { discard; }');
add('date date part in utc', 'require ["date", "variables", "fileinto"]; if date :zone "+0000" :matches "date" "date" "*" { fileinto "d-${1}"; }', M('list'));
add('date weekday', 'require ["date", "variables", "fileinto"]; if date :originalzone :matches "date" "weekday" "*" { fileinto "w${1}"; }', M('encoded'));
add('date zone part', 'require ["date", "variables", "fileinto"]; if date :originalzone :matches "date" "zone" "*" { fileinto "z${1}"; }', M('encoded'));
add(
  'date :originalzone with a named zone',
  'require ["date", "variables", "fileinto"]; if date :originalzone :matches "date" "std11" "*" { fileinto "${1}"; }',
  'mime/corpus/mimekit/startrek.eml',
);
add('date relational', 'require ["date", "relational"]; if date :value "ge" :originalzone "date" "date" "2026-12-01" { discard; }');
add('currentdate year', 'require ["date", "relational"]; if currentdate :value "ge" "year" "2020" { discard; }');
add('index :index 2', 'require ["index"]; if header :index 2 :is "x-tag" "second" { discard; }');
add('index :last', 'require ["index"]; if header :index 1 :last :is "x-tag" "third" { discard; }');
add('index out of range', 'require ["index"]; if header :index 9 :matches "x-tag" "*" { discard; }');

// ---- regex (draft)
add('regex match', 'require "regex"; if header :regex "subject" "^hel+o w.rld$" { discard; }');
add('regex groups', 'require ["regex", "variables", "fileinto"]; if header :regex "subject" "^\\\\[([a-z-]+)\\\\] (.*)$" { fileinto "${1}"; }', M('list'));
add('regex case-insensitive', 'require "regex"; if header :regex "subject" "HELLO" { discard; }');
add('regex octet case-sensitive', 'require "regex"; if header :regex :comparator "i;octet" "subject" "HELLO" { discard; }');
add('regex posix class', 'require "regex"; if header :regex "x-priority" "^[[:digit:]]+$" { discard; }');

// ---- vacation (RFC 5230, 6131): the reply decision is recorded with sieve-test -e
const own = { from: 'alice@example.com', to: 'me@example.net' };
add('vacation replies', 'require "vacation"; vacation "I am away";', M('plain'), { envelope: own });
add('vacation :days :subject', 'require "vacation"; vacation :days 3 :subject "Away" "I am away";', M('plain'), { envelope: own });
add('vacation :seconds', 'require "vacation-seconds"; vacation :seconds 86400 "I am away";', M('plain'), { envelope: own });
add('vacation not to auto-submitted', 'require "vacation"; vacation "I am away";', M('auto'), {
  envelope: { from: 'noreply@example.com', to: 'me@example.net' },
});
add('vacation not to a list', 'require "vacation"; vacation "I am away";', M('list'), { envelope: { from: 'dave@lists.example.org', to: 'me@example.net' } });
add('vacation not to mailer-daemon', 'require "vacation"; vacation "I am away";', M('bounce'), {
  envelope: { from: 'MAILER-DAEMON@mx.example.net', to: 'me@example.net' },
});
add('vacation not to owner-', 'require "vacation"; vacation "I am away";', M('plain'), { envelope: { from: 'owner-acme@example.com', to: 'me@example.net' } });
add('vacation not to -request', 'require "vacation"; vacation "I am away";', M('plain'), {
  envelope: { from: 'acme-request@example.com', to: 'me@example.net' },
});
add('vacation not when not addressed', 'require "vacation"; vacation "I am away";', M('plain'), {
  envelope: { from: 'alice@example.com', to: 'other@example.net' },
});
add('vacation :addresses makes it addressed', 'require "vacation"; vacation :addresses "bob@example.org" "I am away";', M('plain'), {
  envelope: { from: 'alice@example.com', to: 'other@example.net' },
});
add('vacation with fileinto', 'require ["vacation", "fileinto"]; fileinto "Work"; vacation "I am away";', M('plain'), { envelope: own });
add('vacation not to bulk precedence', 'require "vacation"; vacation "I am away";', M('spam'), {
  envelope: { from: 'offers@spam.example', to: 'me@example.net' },
});
add('vacation to the own address', 'require "vacation"; vacation "I am away";', M('plain'), { envelope: { from: 'me@example.net', to: 'me@example.net' } });

// ---- include (RFC 6609)
add('include personal and global', 'require ["include", "fileinto"]; include :global "flags"; include :personal "work"; keep;', M('plain'), {
  includes: { personal: { work: 'require "fileinto";\nfileinto "Work";\n' }, global: { flags: 'require "imap4flags";\naddflag "glob";\n' } },
});
add('include :optional missing', 'require "include"; include :optional "missing"; discard;');
add('include missing is an error', 'require "include"; include "missing"; discard;');
add('include return', 'require ["include", "fileinto"]; include "ret"; fileinto "Work";', M('plain'), {
  includes: { personal: { ret: 'require ["include", "fileinto"];\nreturn;\nfileinto "Lists";\n' } },
});
add('include stop ends all', 'require ["include", "fileinto"]; include "stopper"; fileinto "Work";', M('plain'), {
  includes: { personal: { stopper: 'stop;\n' } },
});
add('include global variables', 'require ["include", "variables", "fileinto"]; global "box"; set "box" "Work"; include "useglobal";', M('plain'), {
  includes: { personal: { useglobal: 'require ["include", "variables", "fileinto"];\nglobal "box";\nfileinto "${box}";\n' } },
});
add('include :once', 'require ["include"]; include :once "red"; include :once "red";', M('plain'), {
  includes: { personal: { red: 'redirect "r@example.org";\n' } },
});
add('include loop is an error', 'require ["include"]; include "loop";', M('plain'), {
  includes: { personal: { loop: 'require "include";\ninclude "loop";\n' } },
});

// ---- editheader (RFC 5293)
add('addheader then header test', 'require ["editheader"]; addheader "X-Sieve" "yes"; if header :is "x-sieve" "yes" { discard; }');
add('deleteheader then exists', 'require ["editheader"]; deleteheader "x-tag"; if exists "x-tag" { discard; }');
add(
  'deleteheader by value',
  'require ["editheader", "relational", "comparator-i;ascii-numeric"]; deleteheader :is "x-tag" "second"; if header :count "eq" :comparator "i;ascii-numeric" "x-tag" "2" { discard; }',
);
add('deleteheader :index', 'require ["editheader", "index"]; deleteheader :index 1 "x-tag"; if header :index 1 :is "x-tag" "second" { discard; }');
add(
  'addheader :last and index',
  'require ["editheader", "index"]; addheader :last "X-Tag" "fourth"; if header :index 1 :last :is "x-tag" "fourth" { discard; }',
);
add('deleteheader received is refused', 'require ["editheader"]; deleteheader "received"; if exists "received" { discard; }');

// ---- duplicate (RFC 7352)
add('duplicate first time', 'require "duplicate"; if duplicate { discard; }');
add('duplicate :header', 'require "duplicate"; if duplicate :header "subject" :handle "subj" { discard; }');
add('duplicate :uniqueid', 'require ["duplicate", "variables"]; if duplicate :uniqueid "abc" :seconds 60 { discard; }');

// ---- spamtest (RFC 5235)
add(
  'spamtest value',
  'require ["spamtest", "relational", "comparator-i;ascii-numeric"]; if spamtest :value "ge" :comparator "i;ascii-numeric" "8" { discard; }',
  M('auto'),
);
add(
  'spamtest value 7',
  'require ["spamtest", "relational", "comparator-i;ascii-numeric"]; if spamtest :value "eq" :comparator "i;ascii-numeric" "7" { discard; }',
  M('auto'),
);
add(
  'spamtest percent',
  'require ["spamtestplus", "relational", "comparator-i;ascii-numeric"]; if spamtest :percent :value "ge" :comparator "i;ascii-numeric" "75" { discard; }',
  M('auto'),
);
add(
  'spamtest high',
  'require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"]; if spamtest :value "ge" :comparator "i;ascii-numeric" "9" { fileinto "Junk"; }',
  M('spam'),
);
add(
  'spamtest untested',
  'require ["spamtest", "relational", "comparator-i;ascii-numeric"]; if spamtest :value "eq" :comparator "i;ascii-numeric" "0" { discard; }',
);

// ---- environment (RFC 5183), encoded-character
add('environment location', 'require "environment"; if environment :is "location" "MS" { discard; }');
add('environment phase', 'require "environment"; if environment :is "phase" "during" { discard; }');
add('encoded-character', 'require ["encoded-character", "fileinto"]; fileinto "${hex:57 6f 72 6b}";');
add('encoded-character unicode', 'require ["encoded-character"]; if header :contains "subject" "${unicode:47 72 FC}" { discard; }', M('encoded'));

// ---- edge cases of matching and actions
add('empty key :contains matches an existing header', 'if header :contains "subject" "" { discard; }');
add('empty key on a missing header', 'if header :is "x-missing" "" { discard; }');
add('escaped wildcard in :matches', 'if header :matches "subject" "hello\\\\*" { discard; }');
add('question mark needs one character', 'if header :matches "x-priority" "??" { discard; }');
add(
  'ascii-numeric non-digits are equal (infinity)',
  'require "comparator-i;ascii-numeric"; if header :is :comparator "i;ascii-numeric" "subject" "abc" { discard; }',
);
add(
  ':count eq 0 on a missing header',
  'require ["relational", "comparator-i;ascii-numeric"]; if header :count "eq" :comparator "i;ascii-numeric" "x-missing" "0" { discard; }',
);
add('relational ne', 'require "relational"; if header :value "ne" "subject" "hello world" { discard; }');
add('string :matches empty', 'require "variables"; if string :matches "" "*" { discard; }');
add('keep after discard', 'discard; keep;');
add('fileinto :copy and discard', 'require ["fileinto", "copy"]; fileinto :copy "Work"; discard;');
add('size :over 0', 'if size :over 0 { discard; }');
add('date without a date header', 'require "date"; if date :matches "x-missing-date" "year" "*" { discard; }');
add('deleteheader :matches', 'require ["editheader"]; deleteheader :matches "x-tag" "*ir*"; if header :is "x-tag" "first" { discard; }');
add('address :localpart mailer-daemon', 'if address :localpart :is "from" "mailer-daemon" { discard; }', M('bounce'));
add('envelope :user', 'require ["envelope", "subaddress"]; if envelope :user :is "to" "me" { discard; }', M('encoded'), {
  envelope: { from: 'joerg@example.de', to: 'me+sieve@example.net' },
});
add('body :content "" sees every part', 'require "body"; if body :content "" :contains "R=FCckmeldung" { discard; }', M('encoded'));
add('body :content multipart', 'require "body"; if body :content "multipart" :contains "preamble" { discard; }', M('encoded'));
add('body :text of html only message', 'require "body"; if body :text :contains "claim your prize" { discard; }', M('spam'));
add(
  'rfc 5229 example: modifiers',
  'require ["variables", "fileinto"]; set "a" "juMBlEd lETteRS"; set :length "length" "${a}"; set :lower "b" "${a}"; set :upperfirst "c" "${b}"; set :upperfirst :lower "d" "${a}"; fileinto "${length}-${b}-${c}-${d}";',
);
add('match variable beyond ${9} is empty', 'require ["variables", "fileinto"]; if header :matches "subject" "*" { fileinto "x${10}y${1}"; }');
add('setflag with variables', 'require ["imap4flags", "variables"]; set "f" "$Label1"; setflag "${f} \\\\Answered";');
add('removeflag everything', 'require "imap4flags"; addflag "a"; removeflag ["a", "b"];');
add(
  'hasflag :count',
  'require ["imap4flags", "relational", "comparator-i;ascii-numeric"]; addflag "a b c"; if hasflag :count "eq" :comparator "i;ascii-numeric" "3" { discard; }',
);
add('address :all on group syntax', 'if address :all :contains "to" "@" { discard; }', M('spam'));
add('invalid address: :all sees the text', 'if address :all :is "from" "foo" { discard; }', 'mime/corpus/cpython/msg_05.txt');
add('invalid address: :localpart sees nothing', 'if address :localpart :matches "from" "*" { discard; }', 'mime/corpus/cpython/msg_05.txt');
add('exists on bcc', 'if exists "bcc" { discard; }', M('spam'));
add('header :regex alternation', 'require "regex"; if header :regex "subject" "^(hi|hello) (world|planet)$" { discard; }');
add('regex with variables in key', 'require ["regex", "variables"]; set "w" "wor"; if header :regex "subject" "${w}ld$" { discard; }');
add('redirect in angle brackets', 'redirect "<bob@example.org>";');
add('stop inside block keeps implicit keep', 'if true { stop; } discard;');
add('nested ifs', 'require "fileinto"; if exists "subject" { if header :contains "subject" "hello" { if not exists "x-nope" { fileinto "Work"; } } }');
add(
  'fileinto with flags from variable list',
  'require ["imap4flags", "fileinto", "variables"]; set "fl" "\\\\Seen \\\\Flagged"; fileinto :flags "${fl}" "Work";',
);
add(
  'vacation :addresses list and :mime',
  'require "vacation"; vacation :mime :addresses ["x@example.org", "bob@example.org"] text:\nContent-Type: text/plain\n\nAway.\n.\n;',
  M('plain'),
  { envelope: { from: 'alice@example.com', to: 'other@example.net' } },
);
add('vacation :days 0 is raised to the minimum', 'require "vacation"; vacation :days 0 "x";', M('plain'), { envelope: own });
add('vacation :days 100 is lowered to the maximum', 'require "vacation"; vacation :days 100 "x";', M('plain'), { envelope: own });

add('keep then discard keeps', 'keep; discard;');
add('redirect :copy then discard', 'require "copy"; redirect :copy "bob@example.org"; discard;');
add('size :over 1M is false', 'if size :over 1M { discard; }');
add('envelope :all is case-insensitive', 'require "envelope"; if envelope :all :is "to" "ME@EXAMPLE.NET" { discard; }');
add('several names and keys', 'if header :contains ["subject", "from"] ["nothing", "alice"] { discard; }');
add('invalid header name is no error', 'if exists "bad name:" { discard; }');
add('casemap leaves non-ASCII letters', 'if header :contains "subject" "GRÜSSE" { discard; }', M('encoded'));
add('i;octet :matches', 'if header :matches :comparator "i;octet" "subject" "Gr*" { discard; }', M('encoded'));
add('stop inside include block', 'require ["include", "fileinto"]; if true { include "stopper"; } fileinto "Work";', M('plain'), {
  includes: { personal: { stopper: 'if true { stop; }\n' } },
});
add(
  'anyof short-circuits match variables',
  'require ["variables", "fileinto"]; if anyof (header :matches "subject" "hello *", header :matches "subject" "* world") { fileinto "${1}"; }',
);

// ---- one sorting script over real messages from the MIME corpus
const SORTER = `require ["fileinto", "imap4flags", "variables", "relational", "comparator-i;ascii-numeric", "body", "subaddress", "regex", "date"];
if exists "list-id" { fileinto "Lists"; stop; }
if header :contains "subject" ["delivery", "undeliver", "returned"] { addflag "bounce"; }
if address :domain :is "from" ["example.com", "yahoo.com"] { fileinto "Work"; }
if header :regex "content-type" "^multipart/(mixed|related)" { addflag "attachment"; }
if body :content "text/html" :contains "<a " { addflag "links"; }
if header :count "gt" :comparator "i;ascii-numeric" "received" "3" { addflag "hops"; }
if date :originalzone :value "lt" "date" "year" "2005" { addflag "old"; }
if header :matches "subject" "*" { set "s" "\${1}"; }
if string :count "eq" :comparator "i;ascii-numeric" "\${s}" "0" { addflag "nosubject"; }
`;
const CORPUS = [
  'cpython/msg_01.txt',
  'cpython/msg_05.txt',
  'cpython/msg_16.txt',
  'cpython/msg_02.txt',
  'cpython/msg_10.txt',
  'cpython/msg_20.txt',
  'cpython/msg_35.txt',
];
const corpusDir = path.join(FIXTURES, 'mime/corpus');
for (const dir of ['flanker', 'mimekit', 'mailparser']) {
  for (const f of fs.readdirSync(path.join(corpusDir, dir)).sort()) if (f.endsWith('.eml')) CORPUS.push(`${dir}/${f}`);
}
for (const f of CORPUS.slice(0, 60)) add(`sorter on ${f}`, SORTER, `mime/corpus/${f}`);

// ---- the body test's transforms over real MIME structures (RFC 5173 §5)
const BODY = `require ["body", "imap4flags"];
if body :content "multipart" :contains "MIME" { addflag "prologue"; }
if body :content "message/rfc822" :contains "Subject" { addflag "nested"; }
if body :content "text/plain" :contains "the" { addflag "plain-the"; }
if body :content "image" :contains "" { addflag "image"; }
if body :content "application" :contains "" { addflag "application"; }
if body :raw :contains "base64" { addflag "raw-base64"; }
if body :text :contains "http" { addflag "http"; }
`;
for (const f of CORPUS.filter((_, i) => i % 2 === 0).slice(0, 40)) add(`body transforms on ${f}`, BODY, `mime/corpus/${f}`);

// ---- address parsing and match values over real headers (RFC 5228 §5.1, RFC 5229 §3.2)
const ADDRESSES = `require ["fileinto", "variables", "relational", "comparator-i;ascii-numeric", "imap4flags"];
if address :localpart :matches "from" "*" { set "l" "\${1}"; }
if address :domain :matches "from" "*" { set "d" "\${1}"; }
if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "2" { addflag "many"; }
if header :matches "from" "*<*>*" { addflag "angle"; }
fileinto "from-\${l}-at-\${d}";
`;
for (const f of CORPUS.filter((_, i) => i % 2 === 1).slice(0, 40)) add(`addresses on ${f}`, ADDRESSES, `mime/corpus/${f}`);

/** Every case, in a stable order; names are unique. */
export const SIEVE_CASES: readonly SieveCase[] = cases;

/** The context a case runs in on mailkeep's side, as delivery gives it (the part tree handed over); `envelope` replaces the case's. */
export function caseContext(c: SieveCase, message: Buffer, envelope = c.envelope ?? DEFAULT_ENVELOPE): SieveContext {
  return {
    parts: analyzeMessage(message).root,
    envelope,
    userAddresses: [],
    mailboxExists: (name) => EXISTING_MAILBOXES.includes(name),
    duplicateSeen: () => false,
    vacationAlreadySent: () => false,
    includeScript: (name, location) => c.includes?.[location]?.[name] ?? null,
    scores: { spam: SPAM_HEADER },
    zoneMinutes: 0,
  };
}
