/**
 * The commands and tests mailkeep's Sieve knows, with the extension each
 * needs, their tagged arguments and their positional signatures. The
 * validator checks every script against this table (RFC 5228 §2.6, §3.2);
 * the runner can then trust the shape of what it executes.
 */

/** Every capability `require` accepts. */
export const EXTENSIONS: ReadonlySet<string> = new Set([
  'fileinto',
  'envelope',
  'encoded-character',
  'reject',
  'ereject',
  'imap4flags',
  'copy',
  'body',
  'variables',
  'relational',
  'subaddress',
  'date',
  'index',
  'mailbox',
  'mboxmetadata',
  'servermetadata',
  'special-use',
  'vacation',
  'vacation-seconds',
  'include',
  'editheader',
  'duplicate',
  'spamtest',
  'spamtestplus',
  'virustest',
  'comparator-i;ascii-numeric',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
  'regex',
  'environment',
]);

/** Capabilities another one brings along (RFC 6131 §2, RFC 5235 §3.2). */
export const IMPLIED: Readonly<Record<string, readonly string[]>> = {
  'vacation-seconds': ['vacation'],
  spamtestplus: ['spamtest'],
};

/** Type of a positional argument. */
export type ArgType = 'string' | 'list' | 'number';

/** A tagged argument: its parameter, the group of tags it excludes, the extension it needs. */
export interface TagSpec {
  param?: ArgType;
  group?: string;
  ext?: string;
}

/** One command or test. `sigs` lists the accepted positional signatures. */
export interface Spec {
  ext?: string;
  tags: Readonly<Record<string, TagSpec>>;
  sigs: readonly (readonly ArgType[])[];
  tests?: 'one' | 'list';
  block?: boolean;
}

const COMPARATOR: Record<string, TagSpec> = { comparator: { param: 'string', group: 'comparator' } };
const MATCH: Record<string, TagSpec> = {
  is: { group: 'match' },
  contains: { group: 'match' },
  matches: { group: 'match' },
  regex: { group: 'match', ext: 'regex' },
  value: { group: 'match', param: 'string', ext: 'relational' },
  count: { group: 'match', param: 'string', ext: 'relational' },
};
const ADDRESS_PART: Record<string, TagSpec> = {
  all: { group: 'address-part' },
  localpart: { group: 'address-part' },
  domain: { group: 'address-part' },
  user: { group: 'address-part', ext: 'subaddress' },
  detail: { group: 'address-part', ext: 'subaddress' },
};
// RFC 5260 §6: :index and :last
const INDEX: Record<string, TagSpec> = { index: { param: 'number', ext: 'index' }, last: { ext: 'index' } };
const ZONE: Record<string, TagSpec> = { zone: { param: 'string', group: 'zone' }, originalzone: { group: 'zone' } };
const MATCHING = { ...COMPARATOR, ...MATCH };

/** Commands (RFC 5228 §3, §4 and the extensions). */
export const COMMANDS: Readonly<Record<string, Spec>> = {
  require: { tags: {}, sigs: [['list']] },
  if: { tags: {}, sigs: [[]], tests: 'one', block: true },
  elsif: { tags: {}, sigs: [[]], tests: 'one', block: true },
  else: { tags: {}, sigs: [[]], block: true },
  stop: { tags: {}, sigs: [[]] },
  keep: { tags: { flags: { param: 'list', ext: 'imap4flags' } }, sigs: [[]] },
  discard: { tags: {}, sigs: [[]] },
  redirect: { tags: { copy: { ext: 'copy' } }, sigs: [['string']] },
  fileinto: {
    ext: 'fileinto',
    tags: {
      copy: { ext: 'copy' },
      flags: { param: 'list', ext: 'imap4flags' },
      create: { ext: 'mailbox' },
      specialuse: { param: 'string', ext: 'special-use' },
    },
    sigs: [['string']],
  },
  reject: { ext: 'reject', tags: {}, sigs: [['string']] },
  ereject: { ext: 'ereject', tags: {}, sigs: [['string']] },
  setflag: { ext: 'imap4flags', tags: {}, sigs: [['list'], ['string', 'list']] },
  addflag: { ext: 'imap4flags', tags: {}, sigs: [['list'], ['string', 'list']] },
  removeflag: { ext: 'imap4flags', tags: {}, sigs: [['list'], ['string', 'list']] },
  set: {
    ext: 'variables',
    tags: {
      lower: { group: 'case' },
      upper: { group: 'case' },
      lowerfirst: { group: 'first' },
      upperfirst: { group: 'first' },
      quotewildcard: {},
      length: {},
    },
    sigs: [['string', 'string']],
  },
  vacation: {
    ext: 'vacation',
    tags: {
      days: { param: 'number', group: 'period' },
      seconds: { param: 'number', group: 'period', ext: 'vacation-seconds' },
      subject: { param: 'string' },
      from: { param: 'string' },
      addresses: { param: 'list' },
      mime: {},
      handle: { param: 'string' },
    },
    sigs: [['string']],
  },
  include: {
    ext: 'include',
    tags: { personal: { group: 'location' }, global: { group: 'location' }, once: {}, optional: {} },
    sigs: [['string']],
  },
  return: { ext: 'include', tags: {}, sigs: [[]] },
  global: { ext: 'include', tags: {}, sigs: [['list']] },
  addheader: { ext: 'editheader', tags: { last: {} }, sigs: [['string', 'string']] },
  deleteheader: { ext: 'editheader', tags: { ...MATCHING, ...INDEX }, sigs: [['string'], ['string', 'list']] },
};

/** Tests (RFC 5228 §5 and the extensions). */
export const TESTS: Readonly<Record<string, Spec>> = {
  address: { tags: { ...MATCHING, ...ADDRESS_PART, ...INDEX }, sigs: [['list', 'list']] },
  envelope: { ext: 'envelope', tags: { ...MATCHING, ...ADDRESS_PART }, sigs: [['list', 'list']] },
  header: { tags: { ...MATCHING, ...INDEX }, sigs: [['list', 'list']] },
  exists: { tags: {}, sigs: [['list']] },
  size: { tags: { over: { group: 'size' }, under: { group: 'size' } }, sigs: [['number']] },
  true: { tags: {}, sigs: [[]] },
  false: { tags: {}, sigs: [[]] },
  not: { tags: {}, sigs: [[]], tests: 'one' },
  allof: { tags: {}, sigs: [[]], tests: 'list' },
  anyof: { tags: {}, sigs: [[]], tests: 'list' },
  body: {
    ext: 'body',
    tags: { ...MATCHING, raw: { group: 'transform' }, content: { param: 'list', group: 'transform' }, text: { group: 'transform' } },
    sigs: [['list']],
  },
  string: { ext: 'variables', tags: MATCHING, sigs: [['list', 'list']] },
  date: { ext: 'date', tags: { ...MATCHING, ...ZONE, ...INDEX }, sigs: [['string', 'string', 'list']] },
  currentdate: { ext: 'date', tags: { ...MATCHING, zone: { param: 'string' } }, sigs: [['string', 'list']] },
  mailboxexists: { ext: 'mailbox', tags: {}, sigs: [['list']] },
  // RFC 5490 §3.3-§4.2
  metadata: { ext: 'mboxmetadata', tags: MATCHING, sigs: [['string', 'string', 'list']] },
  metadataexists: { ext: 'mboxmetadata', tags: {}, sigs: [['string', 'list']] },
  servermetadata: { ext: 'servermetadata', tags: MATCHING, sigs: [['string', 'list']] },
  servermetadataexists: { ext: 'servermetadata', tags: {}, sigs: [['list']] },
  // RFC 8579 §3
  specialuse_exists: { ext: 'special-use', tags: {}, sigs: [['list'], ['string', 'list']] },
  hasflag: { ext: 'imap4flags', tags: MATCHING, sigs: [['list'], ['list', 'list']] },
  duplicate: {
    ext: 'duplicate',
    tags: {
      handle: { param: 'string' },
      header: { param: 'string', group: 'id' },
      uniqueid: { param: 'string', group: 'id' },
      seconds: { param: 'number' },
      last: {},
    },
    sigs: [[]],
  },
  spamtest: { ext: 'spamtest', tags: { ...MATCHING, percent: { ext: 'spamtestplus' } }, sigs: [['string']] },
  virustest: { ext: 'virustest', tags: MATCHING, sigs: [['string']] },
  environment: { ext: 'environment', tags: MATCHING, sigs: [['string', 'list']] },
};

/** RFC 6154 §6 use-attr: a backslash and an atom (RFC 3501 ATOM-CHAR). */
export function isSpecialUse(s: string): boolean {
  return /^\\[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/.test(s);
}

/** Comparator names and the capability each needs (RFC 5228 §2.7.3; i;octet and i;ascii-casemap are always there). */
export const COMPARATORS: Readonly<Record<string, string | null>> = {
  'i;octet': null,
  'i;ascii-casemap': null,
  'i;ascii-numeric': 'comparator-i;ascii-numeric',
};

/** Relational operators (RFC 5231 §4). */
export const RELATIONS: ReadonlySet<string> = new Set(['gt', 'ge', 'lt', 'le', 'eq', 'ne']);

/** Date parts (RFC 5260 §4.2). */
export const DATE_PARTS: ReadonlySet<string> = new Set([
  'year',
  'month',
  'day',
  'date',
  'julian',
  'hour',
  'minute',
  'second',
  'time',
  'iso8601',
  'std11',
  'zone',
  'weekday',
]);
