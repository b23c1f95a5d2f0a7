/**
 * ManageSieve benchmark (mailkeep only): how fast scripts go in and out over
 * one connection on 127.0.0.1, printed as a Markdown table of medians.
 *
 *   node dist/bench/managesieve.js [--scripts 300] [--runs 3]
 *
 * Rows: (a) PUTSCRIPT of a small script, one after another (each a checked
 * parse and a durable commit); (b) GETSCRIPT of it; (c) PUTSCRIPT of a
 * 50-rule script; (d) CHECKSCRIPT of a script near the 1 MiB default size
 * limit (parse and validation only). The client logs in with AUTHENTICATE
 * PLAIN from a trusted network (no TLS, so the row measures the server).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startMailkeep } from './mailkeep.js';
import { median } from './stats.js';

const { values } = parseArgs({ options: { scripts: { type: 'string', default: '300' }, runs: { type: 'string', default: '3' } } });
const SCRIPTS = Math.min(10_000, Math.max(1, Number(values.scripts)));
const RUNS = Math.min(20, Math.max(1, Number(values.runs)));

/** A script of `rules` fileinto rules on distinct headers. */
function rulesScript(rules: number): string {
  let text = 'require ["fileinto", "imap4flags"];\r\n';
  for (let i = 0; i < rules; i++) text += `if header :contains "x-rule-${i}" "value ${i}" { addflag "$R${i}"; fileinto "Folder${i}"; }\r\n`;
  return text;
}

/** One ManageSieve connection that sends a command and waits for its OK/NO line (literals skipped). */
class Connection {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
  }

  static async open(port: number): Promise<Connection> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new Connection(socket);
    await c.status();
    return c;
  }

  /** Reads up to the next completion line, skipping literals; throws on NO/BYE. */
  async status(): Promise<void> {
    for (;;) {
      const m = /(^|\r\n)(OK|NO|BYE)[^\r\n]*\r\n/.exec(this.buf.toString('latin1'));
      const literal = /\{(\d+)\}\r\n/.exec(this.buf.toString('latin1'));
      if (literal && (!m || literal.index < m.index)) {
        const end = literal.index + literal[0].length + Number(literal[1]);
        if (this.buf.length >= end) {
          this.buf = this.buf.subarray(end);
          continue;
        }
      } else if (m) {
        this.buf = this.buf.subarray(m.index + m[0].length);
        if (m[2] !== 'OK') throw new Error(`server said ${m[0].trim()}`);
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async command(text: string): Promise<void> {
    this.socket.write(`${text}\r\n`);
    await this.status();
  }

  close(): void {
    this.socket.destroy();
  }
}

const literal = (text: string): string => `{${Buffer.byteLength(text)}+}\r\n${text}`;

/** Milliseconds per operation over `count` operations. */
async function timed(count: number, op: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await op(i);
  return (performance.now() - start) / count;
}

const server = await startMailkeep({ maxConnections: 10, keep: false, managesieve: true, quiet: true });
try {
  const c = await Connection.open(server.managesievePort!);
  await c.command(`AUTHENTICATE "PLAIN" "${Buffer.from(`\0${server.user}\0${server.password}`).toString('base64')}"`);
  const small = 'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "X"; }\r\n';
  const fifty = rulesScript(50);
  let big = rulesScript(1);
  while (Buffer.byteLength(big) < 1000 * 1024) big += `# ${'padding '.repeat(12)}\r\nif header :is "x-big" "${big.length}" { keep; }\r\n`;
  const rows: Record<string, number[]> = { put: [], get: [], fifty: [], check: [] };
  for (let run = 0; run < RUNS; run++) {
    rows.put!.push(await timed(SCRIPTS, (i) => c.command(`PUTSCRIPT "s${i % 50}" ${literal(small)}`)));
    rows.get!.push(await timed(SCRIPTS, (i) => c.command(`GETSCRIPT "s${i % 50}"`)));
    rows.fifty!.push(await timed(Math.ceil(SCRIPTS / 3), () => c.command(`PUTSCRIPT "fifty" ${literal(fifty)}`)));
    rows.check!.push(await timed(5, () => c.command(`CHECKSCRIPT ${literal(big)}`)));
  }
  c.close();
  console.log(`ManageSieve, one connection, ${server.version}; medians of ${RUNS} runs\n`);
  console.log('| operation | ms per operation |\n|---|---|');
  console.log(`| (a) PUTSCRIPT small script | ${median(rows.put!).toFixed(2)} |`);
  console.log(`| (b) GETSCRIPT small script | ${median(rows.get!).toFixed(2)} |`);
  console.log(`| (c) PUTSCRIPT 50-rule script (${Buffer.byteLength(fifty)} bytes) | ${median(rows.fifty!).toFixed(2)} |`);
  console.log(`| (d) CHECKSCRIPT ${(Buffer.byteLength(big) / 1024).toFixed(0)} KiB script | ${median(rows.check!).toFixed(1)} |`);
} finally {
  await server.stop();
}
