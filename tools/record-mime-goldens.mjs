#!/usr/bin/env node
/**
 * Records the golden MIME fixtures from a throwaway Dovecot (our reference
 * implementation): for every `.eml`/`.txt`/… message under test/fixtures/mime/
 * it APPENDs the exact bytes, FETCHes ENVELOPE, BODY, BODYSTRUCTURE, the
 * BODY[section] ranges of every part and BINARY[part] of every leaf, and writes
 * `<message>.golden.json` beside it.
 *
 * Usage (as root, Dovecot 2.3 installed: `apt-get install -y dovecot-imapd`),
 * after `npx tsc -p .` (Dovecot comes from the benchmark's launcher,
 * dist/bench/dovecot.js):
 *   node tools/record-mime-goldens.mjs            # re-record every fixture
 *   node tools/record-mime-goldens.mjs FILE...    # record only these
 *   node tools/record-mime-goldens.mjs --print FILE...  # print, write nothing
 *
 * Dovecot runs from a config in a fresh temp dir, listening only on
 * 127.0.0.1 at a free high port; /etc/dovecot and the system service are never
 * touched, and only the PID this script started is stopped.
 *
 * Golden format: protocol strings (envelope/body/bodystructure) are the exact
 * bytes Dovecot sent, stored as latin1 strings (one char per byte). Section
 * contents are stored as length + sha256 + a short head/tail. A hand-written
 * `expectDiff` field in an existing golden is kept on re-recording.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { dovecotVersion, startDovecot } = await import(path.join(ROOT, 'dist/bench/dovecot.js'));
const FIXTURES = path.join(ROOT, 'test/fixtures/mime');
const MESSAGE_EXT = /\.(eml|txt|msg|ntx)$/;
const MAX_PATHS = 300; // keep one FETCH command reasonably small

// ------------------------------------------------------------ IMAP client --

/** Splits the byte stream into complete responses (a line plus its literals). */
class ImapClient {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.responses = [];
    this.tag = 0;
    sock.on('data', (d) => {
      if (process.env.IMAP_DEBUG) process.stderr.write(`S: ${d.toString('latin1')}`);
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
  }

  static async connect(port) {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const c = new ImapClient(sock);
    await c.next(); // greeting
    return c;
  }

  drain() {
    for (;;) {
      let pos = 0;
      let complete = null;
      for (;;) {
        const eol = this.buf.indexOf('\r\n', pos);
        if (eol < 0) break;
        const m = /\{(\d+)\+?\}$/.exec(this.buf.subarray(pos, eol).toString('latin1'));
        if (!m) {
          complete = eol + 2;
          break;
        }
        const end = eol + 2 + Number(m[1]);
        if (this.buf.length < end) break;
        pos = end;
      }
      if (complete === null) return;
      this.responses.push(this.buf.subarray(0, complete));
      this.buf = this.buf.subarray(complete);
      const w = this.waiters.shift();
      if (w) w();
    }
  }

  async next() {
    while (this.responses.length === 0) await new Promise((r) => this.waiters.push(r));
    return this.responses.shift();
  }

  /** Sends a command (Buffer or string, literals as LITERAL+) and collects untagged responses until the tagged one. */
  async run(cmd) {
    const tag = `A${++this.tag}`;
    if (process.env.IMAP_DEBUG) process.stderr.write(`C: ${tag} ${cmd.toString('latin1').slice(0, 300)}\n`);
    this.sock.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(cmd) ? cmd : Buffer.from(cmd), Buffer.from('\r\n')]));
    const untagged = [];
    for (;;) {
      const r = await this.next();
      if (r.subarray(0, tag.length + 1).toString() === `${tag} `) {
        return { untagged, status: r.subarray(tag.length + 1, r.length - 2).toString('latin1') };
      }
      // Dovecot answers some internal errors with BYE and closes the connection
      if (r.subarray(0, 6).toString() === '* BYE ') {
        return { untagged, status: r.subarray(2, r.length - 2).toString('latin1'), bye: true };
      }
      untagged.push(r);
    }
  }
}

// ------------------------------------------------- response value parsing --

/**
 * Parses one IMAP value at `pos` of `buf`. Returns {value, end, raw} where
 * value is: null (NIL), {atom}, Buffer (string), or an array (list).
 */
function parseValue(buf, pos) {
  const start = pos;
  const c = buf[pos];
  if (c === 0x28) {
    // (
    const items = [];
    pos++;
    for (;;) {
      while (buf[pos] === 0x20) pos++;
      if (buf[pos] === 0x29) {
        pos++;
        break;
      }
      const v = parseValue(buf, pos);
      items.push(v.value);
      pos = v.end;
    }
    return { value: items, end: pos, raw: buf.subarray(start, pos) };
  }
  if (c === 0x22) {
    // "
    const out = [];
    pos++;
    while (buf[pos] !== 0x22) {
      if (buf[pos] === 0x5c) pos++;
      out.push(buf[pos++]);
    }
    pos++;
    return { value: Buffer.from(out), end: pos, raw: buf.subarray(start, pos) };
  }
  if (c === 0x7b || (c === 0x7e && buf[pos + 1] === 0x7b)) {
    // {n} or ~{n}
    const close = buf.indexOf('}', pos);
    const n = Number(buf.subarray(buf.indexOf('{', pos) + 1, close).toString());
    const dataStart = close + 3;
    return { value: buf.subarray(dataStart, dataStart + n), end: dataStart + n, raw: buf.subarray(start, dataStart + n) };
  }
  let end = pos;
  // an atom, possibly with [section]<partial> as in BODY[1.MIME]
  let depth = 0;
  while (end < buf.length) {
    const ch = buf[end];
    if (ch === 0x5b) depth++;
    else if (ch === 0x5d) depth--;
    else if (depth === 0 && (ch === 0x20 || ch === 0x29 || ch === 0x28 || ch === 0x0d)) break;
    end++;
  }
  const atom = buf.subarray(pos, end).toString('latin1');
  return { value: atom === 'NIL' ? null : { atom }, end, raw: buf.subarray(start, end) };
}

/** Parses `* n FETCH (...)` into a map item-name → {value, raw}. */
function parseFetch(resp) {
  const open = resp.indexOf('(');
  const items = new Map();
  let pos = open + 1;
  while (resp[pos] !== 0x29) {
    while (resp[pos] === 0x20) pos++;
    const name = parseValue(resp, pos);
    pos = name.end + 1;
    const v = parseValue(resp, pos);
    items.set(name.value.atom.toUpperCase(), v);
    pos = v.end;
  }
  return items;
}

/** Section paths of a BODYSTRUCTURE (RFC 9051 §6.4.5 numbering), with their kind. */
function partPaths(bs) {
  const out = [];
  const walk = (node, prefix, isRoot) => {
    if (Array.isArray(node[0])) {
      // multipart
      let i = 0;
      for (const child of node) {
        if (!Array.isArray(child)) break;
        i++;
        const p = prefix ? `${prefix}.${i}` : `${i}`;
        out.push({ path: p, kind: Array.isArray(child[0]) ? 'multipart' : kindOf(child) });
        walk(child, p, false);
      }
      return;
    }
    if (isRoot) out.push({ path: '1', kind: kindOf(node) });
    if (kindOf(node) === 'message') {
      const inner = node[8];
      const p = isRoot ? '1' : prefix;
      // numbering descends into the encapsulated message's body parts
      if (Array.isArray(inner[0])) walk(inner, p, false);
      else {
        out.push({ path: `${p}.1`, kind: kindOf(inner) });
        if (kindOf(inner) === 'message') walk(inner, `${p}.1`, false);
      }
    }
  };
  walk(bs, '', true);
  return out;
}

function kindOf(node) {
  const t = node[0]?.toString?.().toLowerCase();
  const s = node[1]?.toString?.().toLowerCase();
  return t === 'message' && (s === 'rfc822' || s === 'global') && Array.isArray(node[7]) ? 'message' : 'leaf';
}

/** A response text without its timing and timestamp, so re-recording is reproducible. */
function stableStatus(status) {
  return status.replace(/ \(\d+\.\d+ \+ \d+\.\d+[^)]*secs\)\.?/, '').replace(/ \[\d{4}-\d\d-\d\d [^\]]*\]$/, '');
}

function digest(buf) {
  if (buf === null) return null;
  return {
    len: buf.length,
    sha256: createHash('sha256').update(buf).digest('hex'),
    head: buf.subarray(0, 60).toString('latin1'),
    tail: buf.length > 60 ? buf.subarray(Math.max(60, buf.length - 60)).toString('latin1') : '',
  };
}

// ------------------------------------------------------------- recording --

/** A logged-in session on INBOX that reconnects after Dovecot said BYE. */
class Session {
  constructor(port) {
    this.port = port;
    this.client = null;
  }
  async run(cmd) {
    if (!this.client) {
      this.client = await ImapClient.connect(this.port);
      const login = await this.client.run('LOGIN golden golden');
      if (!login.status.startsWith('OK')) throw new Error(`LOGIN: ${login.status}`);
      await this.client.run('SELECT INBOX');
    }
    const r = await this.client.run(cmd);
    if (r.bye) {
      this.client.sock.destroy();
      this.client = null;
    }
    return r;
  }
}

async function record(client, version, file) {
  const bytes = fs.readFileSync(file);
  const app = await client.run(Buffer.concat([Buffer.from(`APPEND INBOX {${bytes.length}+}\r\n`), bytes]));
  const m = /APPENDUID \d+ (\d+)/.exec(app.status);
  // Dovecot refuses some messages (e.g. zero bytes): the golden records that
  if (!m) return { file: path.relative(FIXTURES, file), dovecot: version, appendRefused: stableStatus(app.status) };
  const uid = m[1];
  const meta = await client.run(`UID FETCH ${uid} (RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)`);
  const items = parseFetch(meta.untagged.find((r) => / FETCH /.test(r.subarray(0, 40).toString('latin1'))));
  const bs = items.get('BODYSTRUCTURE').value;
  const paths = partPaths(bs).slice(0, MAX_PATHS);

  const names = ['HEADER', 'TEXT', ''];
  for (const p of paths) {
    names.push(p.path, `${p.path}.MIME`);
    if (p.kind === 'message') names.push(`${p.path}.HEADER`, `${p.path}.TEXT`);
  }
  const fetch = await client.run(`UID FETCH ${uid} (${names.map((n) => `BODY.PEEK[${n}]`).join(' ')})`);
  if (!fetch.status.startsWith('OK')) throw new Error(`${file}: FETCH failed: ${fetch.status}`);
  const got = new Map();
  for (const r of fetch.untagged) {
    if (!/ FETCH /.test(r.subarray(0, 40).toString('latin1'))) continue;
    for (const [k, v] of parseFetch(r)) got.set(k, v.value);
  }
  const sections = {};
  for (const n of names) {
    const v = got.get(`BODY[${n}]`);
    if (v === undefined) throw new Error(`${file}: no BODY[${n}] in response`);
    sections[n] = digest(v);
  }

  // RFC 3516 BINARY: one command per leaf so an UNKNOWN-CTE stays local
  const binary = {};
  for (const p of paths.filter((x) => x.kind === 'leaf')) {
    const r = await client.run(`UID FETCH ${uid} (BINARY.PEEK[${p.path}])`);
    if (!r.status.startsWith('OK')) {
      binary[p.path] = { error: stableStatus(r.status) };
      continue;
    }
    const f = r.untagged.map((x) => (/ FETCH /.test(x.subarray(0, 40).toString('latin1')) ? parseFetch(x) : null)).find(Boolean);
    binary[p.path] = digest(f?.get(`BINARY[${p.path}]`)?.value ?? null);
  }

  return {
    file: path.relative(FIXTURES, file),
    dovecot: version,
    size: Number(items.get('RFC822.SIZE').value.atom),
    envelope: items.get('ENVELOPE').raw.toString('latin1'),
    body: items.get('BODY').raw.toString('latin1'),
    bodystructure: items.get('BODYSTRUCTURE').raw.toString('latin1'),
    sections,
    binary,
  };
}

function listMessages(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listMessages(p));
    else if (MESSAGE_EXT.test(e.name)) out.push(p);
  }
  return out.sort();
}

async function main() {
  const args = process.argv.slice(2);
  const print = args[0] === '--print';
  const files = (print ? args.slice(1) : args).map((f) => path.resolve(f));
  const todo = files.length > 0 ? files : listMessages(FIXTURES);
  const version = dovecotVersion(); // the goldens record the bare version
  const dovecot = await startDovecot({ maxConnections: 10, keep: false, users: ['golden'], password: 'golden', tempPrefix: 'mime-goldens' });
  try {
    const client = new Session(dovecot.port);
    for (const file of todo) {
      const golden = await record(client, version, file);
      if (print) {
        console.log(JSON.stringify(golden, null, 2));
        continue;
      }
      const out = `${file}.golden.json`;
      if (fs.existsSync(out)) {
        const old = JSON.parse(fs.readFileSync(out, 'utf8'));
        if (old.expectDiff) golden.expectDiff = old.expectDiff;
      }
      fs.writeFileSync(out, `${JSON.stringify(golden, null, 2)}\n`);
      console.log(`recorded ${path.relative(ROOT, out)}`);
    }
  } catch (err) {
    console.error(dovecot.logTail());
    throw err;
  } finally {
    await dovecot.stop();
  }
}

await main();
