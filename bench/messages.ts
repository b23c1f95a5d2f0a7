/**
 * Deterministic, realistic test messages: message `i` is always the same bytes.
 *
 * "realistic": 1–50 KB (log-uniform), about half text/plain (7bit or
 * quoted-printable), a third multipart/alternative (plain + HTML), the rest
 * multipart/mixed with a base64 attachment; RFC 2047 subjects, replies with
 * In-Reply-To/References, Received headers. "compact": 1–4 KB, no attachments,
 * for filling the 100,000-message mailbox quickly.
 *
 * Every SUBJECT_EVERY-th message has SUBJECT_WORD in its subject and every
 * BODY_EVERY-th has BODY_WORD in its text, so SEARCH hit counts are known.
 */

/** Word in the Subject of messages with i % SUBJECT_EVERY === 7. */
export const SUBJECT_WORD = 'invoice';
/** Word in the body text of messages with i % BODY_EVERY === 3. */
export const BODY_WORD = 'kumquat';
const SUBJECT_EVERY = 20;
const BODY_EVERY = 50;

/** One message to APPEND. */
export interface BenchMessage {
  bytes: Buffer;
  flags: string[];
  /** INTERNALDATE for APPEND, in RFC 9051 date-time syntax. */
  internalDate: string;
}

/** Size profile of a corpus. */
export type Profile = 'realistic' | 'compact';

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no will can more other about many then them ' +
  'these some what out up time could into only new year just like over also back after use two how our work first ' +
  'well way even because any people day most us meeting project budget schedule review draft update team customer ' +
  'release deadline contract proposal report quarter figures attached please thanks regards agenda minutes call ' +
  'notes follow question answer server database backup storage network office travel hotel flight lunch dinner ' +
  'weekend holiday family photos garden recipe kitchen bicycle train coffee morning evening tomorrow yesterday'
).split(' ');
const ACCENTED = ['café', 'naïve', 'résumé', 'Zürich', 'Málaga', 'Ångström', 'façade', 'jalapeño'];
const FIRST = [
  'Alice',
  'Bob',
  'Carol',
  'David',
  'Erin',
  'Frank',
  'Grace',
  'Heidi',
  'Ivan',
  'Judy',
  'Mallory',
  'Niaj',
  'Olivia',
  'Peggy',
  'Rupert',
  'Sybil',
  'Trent',
  'Victor',
  'Walter',
  'Zoë',
];
const LAST = ['Smith', 'Jones', 'Müller', 'García', 'Rossi', 'Dubois', 'Nowak', 'Svensson', 'Tanaka', 'Okafor', 'Kowalski', 'Novak'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'corp.example.org'];
const ATTACHMENTS = [
  { type: 'application/pdf', ext: 'pdf' },
  { type: 'image/jpeg', ext: 'jpg' },
  { type: 'image/png', ext: 'png' },
  { type: 'application/zip', ext: 'zip' },
  { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ext: 'xlsx' },
];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ZONES = [0, 60, 120, -300, -480, 330, 540];
const EPOCH = Date.UTC(2023, 0, 2, 8, 0, 0);

/** mulberry32: a tiny seeded PRNG, good enough for test data (and for repeatable workloads). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const pad2 = (n: number): string => String(n).padStart(2, '0');

function person(r: Rand): { display: string; addr: string } {
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const addr = `${first}.${last}@${pick(r, DOMAINS)}`
    .toLowerCase()
    .normalize('NFD')
    .replace(/[^\x20-\x7e]/g, '');
  const ascii = /^[\x20-\x7e]*$/.test(`${first} ${last}`);
  const display = ascii ? `${first} ${last}` : encodedWord(`${first} ${last}`);
  return { display: `${display} <${addr}>`, addr };
}

/** RFC 2047 B-encoded word. */
function encodedWord(text: string): string {
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

/** RFC 5322 §3.3 date-time and the RFC 9051 INTERNALDATE of the same instant. */
function dates(i: number, r: Rand): { header: string; internal: string } {
  const t = EPOCH + i * 7 * 60_000 + Math.floor(r() * 60_000);
  const zone = pick(r, ZONES);
  const d = new Date(t + zone * 60_000); // wall-clock time in that zone, read with getUTC*
  const sign = zone < 0 ? '-' : '+';
  const tz = `${sign}${pad2(Math.floor(Math.abs(zone) / 60))}${pad2(Math.abs(zone) % 60)}`;
  const hms = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  return {
    header: `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${hms} ${tz}`,
    internal: `${String(d.getUTCDate()).padStart(2, ' ')}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${hms} ${tz}`,
  };
}

function sentence(r: Rand, accents: boolean): string {
  const n = 6 + Math.floor(r() * 14);
  const words: string[] = [];
  for (let k = 0; k < n; k++) words.push(accents && r() < 0.05 ? pick(r, ACCENTED) : pick(r, WORDS));
  const s = words.join(' ');
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

/** Paragraphs of about `budget` characters; the body word goes into the first one. */
function paragraphs(r: Rand, budget: number, accents: boolean, bodyWord: boolean): string[] {
  const out: string[] = [];
  let total = 0;
  while (total < budget) {
    const sentences: string[] = [];
    const n = 2 + Math.floor(r() * 5);
    for (let k = 0; k < n; k++) sentences.push(sentence(r, accents));
    if (bodyWord && out.length === 0) sentences.splice(1, 0, `The ${BODY_WORD} shipment is late.`);
    const p = sentences.join(' ');
    out.push(p);
    total += p.length + 2;
  }
  return out;
}

/** Wraps text at word boundaries to lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line !== '' && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line === '' ? w : `${line} ${w}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** RFC 2045 §6.7 quoted-printable of UTF-8 text lines, with soft breaks at 76. */
function quotedPrintable(lines: string[]): string {
  const out: string[] = [];
  for (const line of lines) {
    let cur = '';
    for (const byte of Buffer.from(line, 'utf8')) {
      const enc = byte === 0x3d || byte > 0x7e ? `=${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
      if (cur.length + enc.length > 75) {
        out.push(`${cur}=`);
        cur = '';
      }
      cur += enc;
    }
    out.push(cur);
  }
  return out.join('\r\n');
}

function textPart(paras: string[], qp: boolean): { headers: string; body: string } {
  const lines: string[] = [];
  for (const p of paras) lines.push(...wrap(p, 72), '');
  return qp
    ? { headers: 'Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable', body: quotedPrintable(lines) }
    : { headers: 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit', body: lines.join('\r\n') };
}

function htmlPart(paras: string[]): { headers: string; body: string } {
  const lines = ['<html><head><meta charset="utf-8"></head><body>'];
  for (const p of paras) lines.push(...wrap(`<p>${p}</p>`, 72));
  lines.push('</body></html>');
  return { headers: 'Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable', body: quotedPrintable(lines) };
}

function base64Lines(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  const lines: string[] = [];
  for (let k = 0; k < b64.length; k += 76) lines.push(b64.slice(k, k + 76));
  return lines.join('\r\n');
}

function multipart(subtype: string, boundary: string, parts: Array<{ headers: string; body: string }>): { headers: string; body: string } {
  const body = `${parts.map((p) => `--${boundary}\r\n${p.headers}\r\n\r\n${p.body}\r\n`).join('')}--${boundary}--\r\n`;
  return { headers: `Content-Type: multipart/${subtype}; boundary="${boundary}"`, body: `This is a multi-part message in MIME format.\r\n\r\n${body}` };
}

/** Message number `i` (0-based) of a corpus with the given profile. */
export function generateMessage(i: number, profile: Profile = 'realistic'): BenchMessage {
  const r = rng(i * 2654435761 + (profile === 'compact' ? 17 : 0));
  const from = person(r);
  const to = [person(r)];
  if (r() < 0.3) to.push(person(r));
  const cc = r() < 0.2 ? [person(r)] : [];
  const date = dates(i, r);
  const host = pick(r, DOMAINS);
  const id = `${i.toString(36)}.${Math.floor(r() * 1e9).toString(36)}@${host}`;
  const accents = r() < 0.15;
  const bodyWord = i % BODY_EVERY === 3;

  const subjectWords: string[] = [];
  for (let k = 3 + Math.floor(r() * 6); k > 0; k--) subjectWords.push(pick(r, WORDS));
  if (i % SUBJECT_EVERY === 7) subjectWords.splice(1, 0, SUBJECT_WORD);
  let subject = subjectWords.join(' ');
  subject = `${subject[0]!.toUpperCase()}${subject.slice(1)}`;
  if (accents && i % SUBJECT_EVERY !== 7) subject = encodedWord(`${subject} ${pick(r, ACCENTED)}`);
  const reply = r() < 0.25;
  if (reply) subject = `Re: ${subject}`;
  else if (r() < 0.05) subject = `Fwd: ${subject}`;

  // log-uniform total size: 1–50 KB, or 1–4 KB compact
  const target = Math.floor(1024 * (profile === 'compact' ? 4 : 50) ** r());
  const kindRoll = r();
  const kind = profile === 'compact' ? (kindRoll < 0.6 ? 'plain' : 'alternative') : kindRoll < 0.5 ? 'plain' : kindRoll < 0.85 ? 'alternative' : 'mixed';
  const attachBytes = kind === 'mixed' ? Math.floor(target * (0.5 + r() * 0.3) * 0.75) : 0; // base64 grows by 4/3
  const textBudget = Math.max(400, (target - 800 - (attachBytes * 4) / 3) / (kind === 'plain' ? 1 : 2.6));
  const paras = paragraphs(r, textBudget, accents, bodyWord);
  const plain = textPart(paras, accents);
  let content: { headers: string; body: string };
  if (kind === 'plain') content = plain;
  else {
    const alt = multipart('alternative', `alt-${i.toString(36)}-${Math.floor(r() * 1e6)}`, [plain, htmlPart(paras)]);
    if (kind === 'alternative') content = alt;
    else {
      const a = pick(r, ATTACHMENTS);
      const data = Buffer.alloc(attachBytes);
      for (let k = 0; k < attachBytes; k += 4) data.writeUInt32LE(Math.floor(r() * 4294967296), Math.min(k, attachBytes - 4));
      const name = `${pick(r, WORDS)}-${i}.${a.ext}`;
      content = multipart('mixed', `mix-${i.toString(36)}-${Math.floor(r() * 1e6)}`, [
        alt,
        {
          headers: `Content-Type: ${a.type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64`,
          body: base64Lines(data),
        },
      ]);
    }
  }

  const h: string[] = [
    `Return-Path: <${from.addr}>`,
    `Received: from ${pick(r, DOMAINS)} (${pick(r, DOMAINS)} [192.0.2.${1 + Math.floor(r() * 250)}])\r\n\tby mx.${host} with ESMTPS id ${Math.floor(r() * 1e12).toString(36)}\r\n\tfor <${to[0]!.addr}>; ${date.header}`,
    `Received: from localhost by ${pick(r, DOMAINS)} with ESMTPSA; ${date.header}`,
    `Message-ID: <${id}>`,
    `Date: ${date.header}`,
    `From: ${from.display}`,
    `To: ${to.map((p) => p.display).join(',\r\n ')}`,
  ];
  if (cc.length > 0) h.push(`Cc: ${cc.map((p) => p.display).join(', ')}`);
  h.push(`Subject: ${subject}`);
  if (reply) {
    const parent = `<${(i + 1000).toString(36)}.parent@${host}>`;
    h.push(`In-Reply-To: ${parent}`, `References: <${(i + 2000).toString(36)}.root@${host}>\r\n ${parent}`);
  }
  if (r() < 0.5) h.push(`X-Mailer: ${pick(r, ['Thunderbird 115.6', 'Apple Mail (2.3731)', 'Microsoft Outlook 16.0', 'K-9 Mail 6.7'])}`);
  h.push('MIME-Version: 1.0', content.headers);

  const flags: string[] = [];
  const fr = r();
  if (fr < 0.7) flags.push('\\Seen');
  if (fr < 0.1) flags.push('\\Answered');
  return { bytes: Buffer.from(`${h.join('\r\n')}\r\n\r\n${content.body}\r\n`, 'utf8'), flags, internalDate: date.internal };
}

/** How many of the first `n` messages contain SUBJECT_WORD and BODY_WORD. */
export function expectedHits(n: number): { subject: number; body: number } {
  const count = (every: number, rem: number): number => (n > rem ? Math.floor((n - 1 - rem) / every) + 1 : 0);
  return { subject: count(SUBJECT_EVERY, 7), body: count(BODY_EVERY, 3) };
}

/** The APPEND arguments of one message after the mailbox name: flags, date and a LITERAL+ header. */
export function appendArgs(m: BenchMessage): string {
  const flags = m.flags.length > 0 ? `(${m.flags.join(' ')}) ` : '';
  return `${flags}"${m.internalDate}" {${m.bytes.length}+}\r\n`;
}
