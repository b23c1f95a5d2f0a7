/**
 * Import throughput: `mailkeep import` of generated mail (bench/messages.ts,
 * realistic profile) into a fresh data dir, as messages/s and MiB/s, for an
 * mbox file and for a Maildir (LF line ends, as Dovecot writes them). Runs
 * in-process through importPath, the code the CLI runs, with the default
 * batch (200 messages per transaction) and full durability (every blob and
 * every commit fsynced). Not part of CI or `npm test`.
 *
 *   npx tsc -p . && node dist/bench/import-throughput.js [--messages 5000] [--runs 3]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { importPath } from '../src/mail/import/import-path.js';
import { NO_PROGRESS } from '../src/mail/import/types.js';
import { asctime } from '../src/mail/export/mbox-writer.js';
import { openStore } from '../src/store/open.js';
import { makeTempDir } from './bench-server.js';
import { generateMessage } from './messages.js';
import { median } from './stats.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '5000' }, runs: { type: 'string', default: '3' } } });
const count = Number(values.messages);
const runs = Number(values.runs);
if (!(Number.isInteger(count) && count > 0 && Number.isInteger(runs) && runs > 0)) throw new Error('--messages and --runs must be positive integers');

const log = (msg: string): void => void process.stderr.write(`[import-bench] ${msg}\n`);

/** Writes the corpus once as an mboxrd file and as a Maildir; returns their paths and the total message bytes. */
function writeCorpus(dir: string): { mbox: string; maildir: string; bytes: number } {
  const mbox = path.join(dir, 'corpus.mbox');
  const maildir = path.join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const fd = fs.openSync(mbox, 'w');
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const m = generateMessage(i, 'realistic');
    const lf = Buffer.from(m.bytes.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    bytes += m.bytes.length;
    const date = new Date(Date.parse(m.internalDate.replace(/^(\d+)-(\w+)-(\d+) /, '$2 $1 $3 ')));
    const quoted = lf.toString('latin1').replace(/(^|\n)(>*From )/g, '$1>$2');
    fs.writeSync(fd, `From bench@example.org ${asctime(date)}\n${quoted}${quoted.endsWith('\n') ? '' : '\n'}\n`, null, 'latin1');
    const name = path.join(maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.bench,S=${lf.length}:2,${m.flags.includes('\\Seen') ? 'S' : ''}`);
    fs.writeFileSync(name, lf);
    fs.utimesSync(name, date, date);
  }
  fs.closeSync(fd);
  return { mbox, maildir, bytes };
}

async function timeImport(source: string, dataDir: string): Promise<number> {
  const store = await openStore({ dataDir });
  try {
    const account = await store.createAccount('bench', 'x');
    const start = process.hrtime.bigint();
    const summary = await importPath(store, account.id, source, {
      format: 'auto',
      mailbox: 'INBOX',
      mboxFormat: 'mboxrd',
      maxMessageSize: 50 * 1024 * 1024,
      progress: NO_PROGRESS,
      warn: (m) => log(`warning: ${m}`),
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (summary.messages !== count) throw new Error(`imported ${summary.messages} of ${count} messages`);
    return ms;
  } finally {
    await store.close();
  }
}

const dir = makeTempDir('bench-import');
try {
  log(`writing ${count} messages as mbox and Maildir`);
  const corpus = writeCorpus(dir);
  const rows: string[] = ['| source | messages | median time | messages/s | MiB/s |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const [label, source] of [
    ['mbox', corpus.mbox],
    ['Maildir', corpus.maildir],
  ] as const) {
    const samples: number[] = [];
    for (let r = 0; r < runs; r++) {
      const dataDir = path.join(dir, `data-${label}-${r}`);
      samples.push(await timeImport(source, dataDir));
      fs.rmSync(dataDir, { recursive: true, force: true });
      log(`${label} run ${r + 1}: ${samples[r]!.toFixed(0)} ms`);
    }
    const ms = median(samples);
    rows.push(
      `| ${label} | ${count} | ${(ms / 1000).toFixed(2)} s | ${Math.round(count / (ms / 1000))} | ${(corpus.bytes / 2 ** 20 / (ms / 1000)).toFixed(1)} |`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
