/**
 * A real ACME CA for tests: Pebble (Debian package `pebble`) and its DNS,
 * pebble-challtestsrv, on free loopback ports. Validation is real (no
 * PEBBLE_VA_ALWAYS_VALID): Pebble resolves each name through challtestsrv,
 * which answers only the names added here (127.0.0.1), and connects to the
 * server under test on `httpPort` (http-01) or `tlsPort` (tls-alpn-01).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { freePort } from './server.js';

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The CA of Pebble's own HTTPS (for `acme.ca-file`). */
  caFile: string;
  /** PEM of the root that signs the certificates Pebble issues (its management /roots/0). */
  root: string;
  /** Makes `name` resolve to 127.0.0.1 for Pebble's validation. */
  addName(name: string): Promise<void>;
  /** Makes `name` resolve no more: a validation for it fails. */
  removeName(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** GET over HTTPS trusting `ca`; rejects on a non-2xx status. */
function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode} ${body}`))));
    }).on('error', reject);
  });
}

async function challtestsrv(management: number, path: string, body: object): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${management}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`challtestsrv ${path}: ${res.status}`);
}

function start(command: string, args: string[], env: NodeJS.ProcessEnv, output: string[]): ChildProcess {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer): void => {
    // The last lines only, for a failure message.
    output.push(d.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return child;
}

async function waitFor<T>(what: string, attempt: () => Promise<T>, output: string[]): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not come up: ${(err as Error).message}\n${output.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Starts challtestsrv and Pebble; `httpPort`/`tlsPort` are where Pebble validates (the server under test's http-port/https-port). */
export async function startPebble(ports: { httpPort: number; tlsPort: number }): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'mailkeep-pebble-'));
  // Pebble's own HTTPS certificate, for the directory and management API on 127.0.0.1.
  const tlsPair = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
      { name: 'basicConstraints', cA: true },
    ],
  });
  const caFile = join(dir, 'cert.pem');
  await writeFile(caFile, tlsPair.cert);
  await writeFile(join(dir, 'key.pem'), tlsPair.private);
  const [acmePort, managementPort, dnsPort, challManagement] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: caFile,
      privateKey: join(dir, 'key.pem'),
      httpPort: ports.httpPort,
      tlsPort: ports.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  await writeFile(join(dir, 'pebble.json'), JSON.stringify(config));

  const output: string[] = [];
  // No default answers: only the names added resolve, so a removed name fails validation.
  const dns = start(
    'pebble-challtestsrv',
    [
      '-management',
      `127.0.0.1:${challManagement}`,
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-defaultIPv4',
      '',
      '-defaultIPv6',
      '',
    ],
    process.env,
    output,
  );
  // Real validation every time (no reuse of a valid authorization); no artificial sleeps or nonce rejections, so tests are quick and deterministic.
  const env = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' };
  const pebble = start('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], env, output);
  const stop = async (): Promise<void> => {
    await Promise.all([stopChild(pebble), stopChild(dns)]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const directory = `https://127.0.0.1:${acmePort}/dir`;
    await waitFor('pebble', () => httpsGet(directory, tlsPair.cert), output);
    await waitFor('pebble-challtestsrv', () => challtestsrv(challManagement, '/clear-a', { host: 'ready.test.' }), output);
    const root = await httpsGet(`https://127.0.0.1:${managementPort}/roots/0`, tlsPair.cert);
    return {
      directory,
      caFile,
      root,
      addName: (name) => challtestsrv(challManagement, '/add-a', { host: `${name}.`, addresses: ['127.0.0.1'] }),
      removeName: (name) => challtestsrv(challManagement, '/clear-a', { host: `${name}.` }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
