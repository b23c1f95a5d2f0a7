/**
 * A raw ManageSieve client for transcript tests (RFC 5804): sends exact
 * bytes and collects response lines, literals inlined, up to the
 * completion (OK, NO or BYE).
 */
import { RawClient } from './raw-client.js';

/** One response: the lines before the completion, and the completion. */
export interface SieveReply {
  lines: string[];
  status: string;
}

/** A ManageSieve client over a real socket. */
export class SieveClient {
  private constructor(readonly raw: RawClient) {}

  /** Connects and reads the greeting (capabilities, then OK). */
  static async connect(port: number): Promise<{ client: SieveClient; greeting: SieveReply }> {
    const { client: raw, greeting } = await RawClient.connect(port);
    const client = new SieveClient(raw);
    const rest = await client.read();
    return { client, greeting: { lines: [greeting, ...rest.lines], status: rest.status } };
  }

  /** Connects, upgrades with STARTTLS and authenticates with PLAIN; throws when refused. */
  static async login(port: number, user: string, password: string): Promise<SieveClient> {
    const { client } = await SieveClient.connect(port);
    await client.startTls();
    const r = await client.command(`AUTHENTICATE "PLAIN" "${Buffer.from(`\0${user}\0${password}`).toString('base64')}"`, 30_000);
    if (!r.status.startsWith('OK')) throw new Error(`AUTHENTICATE ${user}: ${r.status}`);
    return client;
  }

  /** Reads lines until a completion line. */
  async read(timeoutMs = 5000): Promise<SieveReply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.raw.readLine(timeoutMs);
      if (/^(OK|NO|BYE)( |$)/.test(line)) return { lines, status: line };
      lines.push(line);
    }
  }

  /** Sends `command` and CRLF, and reads the response. */
  async command(command: string | Buffer, timeoutMs = 5000): Promise<SieveReply> {
    this.raw.send(Buffer.concat([typeof command === 'string' ? Buffer.from(command) : command, Buffer.from('\r\n')]));
    return this.read(timeoutMs);
  }

  /** STARTTLS, the handshake, and the capabilities sent after it (RFC 5804 §2.2). */
  async startTls(): Promise<SieveReply> {
    const r = await this.command('STARTTLS');
    if (!r.status.startsWith('OK')) throw new Error(`STARTTLS: ${r.status}`);
    await this.raw.startTls();
    return this.read();
  }

  close(): void {
    this.raw.close();
  }
}

/** A literal-c2s (RFC 5804 §4) carrying `text` (sent as UTF-8). */
export function literal(text: string): string {
  return `{${Buffer.byteLength(text)}+}\r\n${text}`;
}
