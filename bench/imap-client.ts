/**
 * A small, fast IMAP client for the benchmark: raw TCP, pipelining, and a
 * literal-aware streaming response reader that never copies literal contents
 * (it only counts them), so the time measured is the server's, not ours.
 *
 * Each response is reduced to its head (its first bytes outside literals, up
 * to `headMax`) and its total byte count; that is all the workload needs (tags,
 * statuses, `* n EXISTS`, `* n FETCH`, `* SEARCH …` hit counts).
 */
import net from 'node:net';

/** Default bytes of a response kept as its head; longer lines are truncated (tagged lines are short). */
const HEAD_MAX = 512;
/** Bytes of a line's end kept to recognise a literal announcement `{n}` across chunks. */
const TAIL_MAX = 24;
/** Upper bound on one literal the server may announce (sanity, not a protocol limit). */
const MAX_LITERAL = 1 << 30;

/** One complete server response (a line plus any literals it carries). */
export interface Response {
  /** The start of the response outside its literals, without the final CRLF, latin1. */
  head: string;
  /** Total bytes of the response, literals included. */
  bytes: number;
}

/** The tagged completion of a command. */
export interface Completion {
  status: 'OK' | 'NO' | 'BAD';
  /** The rest of the tagged line after the status. */
  text: string;
}

interface Pending {
  resolve: (c: Completion) => void;
  reject: (e: Error) => void;
}

/** One connection to an IMAP server on loopback. */
export class ImapClient {
  /** Called for every untagged (`* …`) response. */
  onUntagged: ((r: Response) => void) | null = null;
  /** Bytes of each response kept in its head; raise it to read long `* SEARCH` lines. */
  headMax = HEAD_MAX;
  private readonly pending = new Map<string, Pending>();
  private readonly continuationWaiters: Array<(r: Response) => void> = [];
  private nextTag = 1;
  private closed: Error | null = null;
  // reader state
  private literalLeft = 0;
  private headParts: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer = Buffer.alloc(0);
  private respBytes = 0;
  private greeting: ((r: Response) => void) | null = null;

  private constructor(private readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error): void => {
      this.closed ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed')));
  }

  /** Connects and waits for the greeting. */
  static async connect(port: number, host = '127.0.0.1'): Promise<ImapClient> {
    const sock = net.connect({ port, host });
    const client = new ImapClient(sock);
    await new Promise<void>((resolve, reject) => {
      client.greeting = (r) => (r.head.startsWith('* OK') || r.head.startsWith('* PREAUTH') ? resolve() : reject(new Error(`greeting: ${r.head}`)));
      sock.once('error', reject);
      sock.once('close', () => reject(new Error('connection closed before the greeting')));
    });
    return client;
  }

  /** Connects, logs in and checks the result. */
  static async login(port: number, user: string, password: string): Promise<ImapClient> {
    const c = await ImapClient.connect(port);
    await c.ok(`LOGIN ${user} ${password}`);
    return c;
  }

  /**
   * Sends one command (the parts are concatenated after `<tag> ` and before
   * CRLF; literals must be LITERAL+ so nothing waits for `+`). Resolves at the
   * tagged response. Returns as soon as written; `drained()` gives backpressure.
   */
  send(...parts: Array<string | Buffer>): Promise<Completion> {
    if (this.closed) return Promise.reject(this.closed);
    const tag = `b${this.nextTag++}`;
    const done = new Promise<Completion>((resolve, reject) => this.pending.set(tag, { resolve, reject }));
    this.sock.cork();
    this.sock.write(`${tag} `);
    for (const p of parts) this.sock.write(p);
    this.sock.write('\r\n');
    this.sock.uncork();
    return done;
  }

  /** Sends a command and throws unless it completes with OK. */
  async ok(...parts: Array<string | Buffer>): Promise<Completion> {
    const c = await this.send(...parts);
    if (c.status !== 'OK') throw new Error(`${String(parts[0]).slice(0, 60)}: ${c.status} ${c.text}`);
    return c;
  }

  /** True when the socket's write buffer is above its high-water mark. */
  get congested(): boolean {
    return this.sock.writableNeedDrain;
  }

  /** Resolves once the socket's write buffer has drained. */
  drained(): Promise<void> {
    return this.sock.writableNeedDrain ? new Promise((r) => this.sock.once('drain', () => r())) : Promise.resolve();
  }

  /** Number of commands sent and not yet completed. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * AUTHENTICATE with SASL-IR (RFC 4959): `initial` goes with the command,
   * then `respond` turns each challenge (decoded) into the next response
   * (encoded here), until the tagged completion.
   */
  async authenticate(mechanism: string, initial: string, respond: (challenge: string) => string): Promise<Completion> {
    const completion = this.send(`AUTHENTICATE ${mechanism} ${Buffer.from(initial).toString('base64')}`);
    // A SASL exchange takes a few steps; more means a server that never ends it.
    for (let step = 0; step < 8; step++) {
      let waiter: ((r: Response) => void) | null = null;
      const cont = new Promise<Response>((r) => this.continuationWaiters.push((waiter = r)));
      const next = await Promise.race([cont, completion]);
      if ('status' in next) {
        // No continuation came: the waiter must not take a later command's.
        this.continuationWaiters.splice(this.continuationWaiters.indexOf(waiter!), 1);
        return next;
      }
      const challenge = Buffer.from(next.head.slice(2), 'base64').toString();
      this.sock.write(`${Buffer.from(respond(challenge)).toString('base64')}\r\n`);
    }
    throw new Error(`AUTHENTICATE ${mechanism}: too many steps`);
  }

  /** Starts IDLE (RFC 2177); resolves at the server's continuation request with the command's completion. */
  async idle(): Promise<{ completion: Promise<Completion> }> {
    const cont = new Promise<Response>((r) => this.continuationWaiters.push(r));
    const completion = this.send('IDLE');
    await Promise.race([cont, completion.then((c) => Promise.reject(new Error(`IDLE: ${c.status} ${c.text}`)))]);
    return { completion };
  }

  /** Ends IDLE with DONE. */
  done(): void {
    this.sock.write('DONE\r\n');
  }

  /** Sends LOGOUT and closes, ignoring errors (the server may close first). */
  async logout(): Promise<void> {
    try {
      await this.send('LOGOUT');
    } catch {
      // closed before the tagged reply: fine
    }
    this.sock.destroy();
  }

  /** Closes the socket at once. */
  destroy(): void {
    this.sock.destroy();
  }

  private onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, chunk.length - pos);
        this.literalLeft -= take;
        this.respBytes += take;
        pos += take;
        continue;
      }
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) {
        this.addLine(chunk, pos, chunk.length);
        this.tail = Buffer.from(Buffer.concat([this.tail, chunk.subarray(pos)]).subarray(-TAIL_MAX)); // copied: don't pin the chunk
        break;
      }
      const end = nl + 1;
      let literal: number;
      if (this.respBytes === 0 && this.tail.length === 0) {
        // Fast path: a whole response line inside this chunk (most FETCH lines).
        literal = literalAnnounced(chunk, pos, end);
        if (literal < 0) {
          this.respBytes = end - pos;
          const head = chunk.toString('latin1', pos, Math.min(chunk[nl - 1] === 13 ? nl - 1 : nl, pos + this.headMax));
          pos = end;
          this.complete(head);
          continue;
        }
        this.addLine(chunk, pos, end);
      } else {
        this.addLine(chunk, pos, end);
        const tail = Buffer.concat([this.tail, chunk.subarray(Math.max(pos, end - TAIL_MAX), end)]);
        this.tail = Buffer.alloc(0);
        literal = literalAnnounced(tail, 0, tail.length);
      }
      pos = end;
      if (literal >= 0) {
        this.literalLeft = literal; // the response goes on after the literal
        continue;
      }
      let head = (this.headParts.length === 1 ? this.headParts[0]! : Buffer.concat(this.headParts)).toString('latin1');
      if (head.endsWith('\r\n')) head = head.slice(0, -2);
      this.complete(head);
    }
  }

  /** Accounts for bytes [from, to) of a response line and keeps them in the head while it is short. */
  private addLine(chunk: Buffer, from: number, to: number): void {
    this.respBytes += to - from;
    if (this.headLen < this.headMax) {
      const part = chunk.subarray(from, Math.min(to, from + this.headMax - this.headLen));
      this.headParts.push(part);
      this.headLen += part.length;
    }
  }

  private complete(head: string): void {
    const r: Response = { head, bytes: this.respBytes };
    this.headParts = [];
    this.headLen = 0;
    this.respBytes = 0;
    if (this.greeting) {
      const g = this.greeting;
      this.greeting = null;
      g(r);
      return;
    }
    if (head.startsWith('* ')) {
      this.onUntagged?.(r);
      return;
    }
    if (head.startsWith('+')) {
      this.continuationWaiters.shift()?.(r);
      return;
    }
    const sp = head.indexOf(' ');
    const tag = head.slice(0, sp);
    const p = this.pending.get(tag);
    if (!p) throw new Error(`unexpected response: ${head.slice(0, 100)}`);
    this.pending.delete(tag);
    const rest = head.slice(sp + 1);
    const statusEnd = rest.indexOf(' ');
    const status = statusEnd < 0 ? rest : rest.slice(0, statusEnd);
    if (status !== 'OK' && status !== 'NO' && status !== 'BAD') {
      p.reject(new Error(`bad tagged response: ${head.slice(0, 100)}`));
      return;
    }
    p.resolve({ status, text: rest.slice(status.length + 1) });
  }
}

/**
 * Runs `trigger` (an APPEND, say) and returns the delays in ms from its start
 * to the untagged response `want` at each client that saw it within
 * `timeoutMs` (fewer delays than clients: some missed it). Clears the
 * clients' onUntagged afterwards.
 */
export async function delaysUntil(clients: readonly ImapClient[], want: string, trigger: () => Promise<unknown>, timeoutMs: number): Promise<number[]> {
  const delays: number[] = [];
  let t0 = 0;
  const all = new Promise<void>((resolve) => {
    for (const c of clients) {
      c.onUntagged = (r) => {
        if (r.head !== want) return;
        delays.push(performance.now() - t0);
        if (delays.length === clients.length) resolve();
      };
    }
  });
  t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await trigger();
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  } finally {
    clearTimeout(timer);
    for (const c of clients) c.onUntagged = null;
  }
  return delays.slice();
}

/** The size of a literal announced at the end of the line buf[start, end) (`{n}\r\n`, `~{n}\r\n`), or -1. */
function literalAnnounced(buf: Buffer, start: number, end: number): number {
  let i = end - 1;
  if (buf[i] === 10) i--;
  if (i >= start && buf[i] === 13) i--;
  if (i < start || buf[i] !== 0x7d) return -1; // }
  i--;
  if (i >= start && buf[i] === 0x2b) i--; // + (only clients send it, but harmless)
  let n = 0;
  let mult = 1;
  let digits = 0;
  while (i >= start && buf[i]! >= 0x30 && buf[i]! <= 0x39) {
    n += (buf[i]! - 0x30) * mult;
    mult *= 10;
    digits++;
    i--;
  }
  if (digits === 0 || i < start || buf[i] !== 0x7b) return -1; // {
  if (n > MAX_LITERAL) throw new Error(`literal of ${n} bytes announced`);
  return n;
}
