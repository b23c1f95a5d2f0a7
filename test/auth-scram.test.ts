/**
 * SCRAM (RFC 5802, RFC 7677) with channel bindings (RFC 5929, RFC 9266):
 * the RFC example transcripts against the mechanism with a fixed nonce and
 * salt, then over real sockets on IMAP and POP3: advertising, every binding
 * type, binding mismatch, downgrade, malformed messages, wrong password,
 * unknown user (same shape of answer), keys for accounts from before SCRAM,
 * the disabled refusal and the throttle.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Administration } from '../src/auth/administration.js';
import { hashPassword, passwordHashing } from '../src/auth/password.js';
import { SaslFailure } from '../src/auth/sasl.js';
import { SCRAM_MECHANISMS, scramExchange, type ScramOutcome } from '../src/auth/scram.js';
import { deriveScramCredential, deriveScramCredentials } from '../src/auth/scram-keys.js';
import { registry } from '../src/metrics/metrics.js';
import type { ScramCredential } from '../src/store/types.js';
import { eventually } from './helpers/eventually.js';
import { makePair, writePair } from './helpers/certificates.js';
import { Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { LOGIN_TIMEOUT_MS } from './helpers/socket-buffer.js';
import { b64, type Binding, type Hash, ScramClient, tlsExporter, tlsServerEndPoint, tlsUnique, unb64 } from './helpers/scram-client.js';

const ITERATIONS = 4096;

/** Runs the server side of one exchange on fixed inputs; returns each server message and the outcome. */
async function serverRun(
  mechanism: string,
  credential: ScramCredential,
  serverNonce: string,
  clientMessages: string[],
  binding: { offered: boolean; data?: Buffer } = { offered: false },
): Promise<{ messages: string[]; outcome: ScramOutcome }> {
  const exchange = scramExchange(SCRAM_MECHANISMS.get(mechanism)!, {
    bindingOffered: binding.offered,
    channelBinding: (type) => (type === 'tls-exporter' ? (binding.data ?? null) : null),
    credential: async () => credential,
    serverNonce,
  });
  const messages: string[] = [];
  for (const m of clientMessages) {
    const r = await exchange.step(Buffer.from(m, 'utf8'));
    if (typeof r !== 'string') return { messages, outcome: r };
    messages.push(r);
  }
  throw new Error('exchange did not finish');
}

describe('SCRAM mechanism (fixed nonce and salt)', () => {
  test('RFC 7677 §3: the SCRAM-SHA-256 example transcript', async () => {
    const credential = await deriveScramCredential('SHA-256', 'pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    const { messages, outcome } = await serverRun('SCRAM-SHA-256', credential, '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0', [
      'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    ]);
    assert.deepEqual(messages, ['r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096']);
    assert.deepEqual(outcome, { user: 'user', authzid: '', refusal: null, proofValid: true, serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=' });
  });

  test('RFC 5802 §5: the SCRAM-SHA-1 example transcript', async () => {
    const credential = await deriveScramCredential('SHA-1', 'pencil', 4096, Buffer.from('QSXCR+Q6sek8bf92', 'base64'));
    const { messages, outcome } = await serverRun('SCRAM-SHA-1', credential, '3rfcNHYJY1ZVvWVs7j', [
      'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
      'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    ]);
    assert.deepEqual(messages, ['r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096']);
    assert.deepEqual(outcome, { user: 'user', authzid: '', refusal: null, proofValid: true, serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=' });
  });

  test('a wrong proof, a changed nonce, a binding mismatch and a downgrade are refused', async () => {
    const credential = await deriveScramCredential('SHA-256', 'pencil', 4096);
    const run = async (mech: string, hash: Hash, binding: Binding, tamper: (final: string) => string, offered: boolean): Promise<ScramOutcome> => {
      const c = new ScramClient(hash, 'user', 'pencil', binding, 'cnonce');
      const serverFirst = `r=cnoncesnonce,s=${credential.salt.toString('base64')},i=4096`;
      return (await serverRun(mech, credential, 'snonce', [c.clientFirst, tamper(c.final(serverFirst))], { offered, data: Buffer.alloc(32, 7) })).outcome;
    };
    const same = (s: string): string => s;
    const good = await run('SCRAM-SHA-256-PLUS', 'sha256', { flag: 'p', type: 'tls-exporter', data: Buffer.alloc(32, 7) }, same, true);
    assert.equal(good.proofValid, true);
    const wrongData = await run('SCRAM-SHA-256-PLUS', 'sha256', { flag: 'p', type: 'tls-exporter', data: Buffer.alloc(32, 8) }, same, true);
    assert.deepEqual([wrongData.proofValid, wrongData.refusal], [false, 'Channel bindings do not match']);
    const unknownType = await run('SCRAM-SHA-256-PLUS', 'sha256', { flag: 'p', type: 'tls-unique', data: Buffer.alloc(12) }, same, true);
    assert.match(unknownType.refusal ?? '', /Unsupported channel binding type tls-unique/);
    const downgrade = await run('SCRAM-SHA-256', 'sha256', { flag: 'y' }, same, true);
    assert.deepEqual([downgrade.proofValid, downgrade.refusal], [false, 'Channel binding was offered: downgrade refused']);
    assert.equal((await run('SCRAM-SHA-256', 'sha256', { flag: 'y' }, same, false)).proofValid, true, '"y" is fine where no binding is offered');
    const plusWithoutBinding = await run('SCRAM-SHA-256-PLUS', 'sha256', { flag: 'n' }, same, true);
    assert.equal(plusWithoutBinding.proofValid, false);
    const nonce = await run('SCRAM-SHA-256', 'sha256', { flag: 'n' }, (f) => f.replace('r=cnoncesnonce', 'r=cnonceother'), false);
    assert.deepEqual([nonce.proofValid, nonce.refusal], [false, 'SCRAM nonce does not match']);
    const proof = await run('SCRAM-SHA-256', 'sha256', { flag: 'n' }, (f) => f.replace(/p=(.)/, (_, c: string) => `p=${c === 'A' ? 'B' : 'A'}`), false);
    assert.deepEqual([proof.proofValid, proof.refusal], [false, null]);
  });

  test('malformed messages are SASL failures', async () => {
    const credential = await deriveScramCredential('SHA-256', 'pencil', 4096);
    const firsts = [
      '',
      'x,,n=user,r=abc',
      'n,n=user,r=abc',
      'n,b=x,n=user,r=abc',
      'n,,m=ext,n=user,r=abc',
      'n,,n=us=er,r=abc',
      'n,,n=,r=abc',
      'n,,n=user',
      'n,,n=user,r=a,b',
      'n,,n=user,r=',
      'n,,r=abc,n=user',
      `n,,n=user,r=${'x'.repeat(5000)}`,
      'n,,n=user,r=ab\u0000c',
    ];
    for (const first of firsts) {
      await assert.rejects(serverRun('SCRAM-SHA-256', credential, 's', [first, 'c=biws,r=abcs,p=AAAA']), SaslFailure, JSON.stringify(first));
    }
    const finals = [
      'c=biws,r=abcs',
      'r=abcs,c=biws,p=AAAA',
      'c=bi ws,r=abcs,p=AAAA',
      `c=biws,r=abcs,p=${Buffer.alloc(20).toString('base64')}`,
      'c=biws,p=AAAA',
    ];
    for (const final of finals) {
      await assert.rejects(serverRun('SCRAM-SHA-256', credential, 's', ['n,,n=user,r=abc', final]), SaslFailure, final);
    }
    await assert.rejects(
      scramExchange(SCRAM_MECHANISMS.get('SCRAM-SHA-256')!, { bindingOffered: false, channelBinding: () => null, credential: async () => credential }).step(
        Buffer.from([0x6e, 0x2c, 0xff]),
      ),
      SaslFailure,
      'not UTF-8',
    );
    // An authzid naming the user itself is fine (RFC 5802 §5.1), escaped names decode.
    const named = await deriveScramCredential('SHA-256', 'pencil', 4096);
    const c = new ScramClient('sha256', 'a,b=c', 'pencil', { flag: 'n' }, 'n1', 'a,b=c');
    const { outcome } = await serverRun('SCRAM-SHA-256', named, 's', [c.clientFirst, c.final(`r=n1s,s=${named.salt.toString('base64')},i=4096`)]);
    assert.deepEqual([outcome.user, outcome.authzid, outcome.proofValid], ['a,b=c', 'a,b=c', true]);
  });
});

/** The lines an IMAP SCRAM login saw, and its tagged answer. */
interface ImapScramRun {
  serverFirst: string | null;
  serverFinalVerified: boolean;
  tagged: string;
}

/** Logs in over IMAP with a SCRAM client; `ir`: the client-first-message as SASL-IR (RFC 4959). */
async function imapScram(client: RawClient, mechanism: string, sc: ScramClient, ir = true): Promise<ImapScramRun> {
  if (ir) client.send(`a AUTHENTICATE ${mechanism} ${b64(sc.clientFirst)}\r\n`);
  else {
    client.send(`a AUTHENTICATE ${mechanism}\r\n`);
    assert.equal(await client.readLine(), '+ ');
    client.send(`${b64(sc.clientFirst)}\r\n`);
  }
  const run: ImapScramRun = { serverFirst: null, serverFinalVerified: false, tagged: '' };
  let line = await client.readLine(LOGIN_TIMEOUT_MS);
  if (line.startsWith('+ ')) {
    run.serverFirst = unb64(line.slice(2));
    client.send(`${b64(sc.final(run.serverFirst))}\r\n`);
    line = await client.readLine(LOGIN_TIMEOUT_MS);
    if (line.startsWith('+ ')) {
      run.serverFinalVerified = sc.verifies(unb64(line.slice(2)));
      client.send('\r\n');
      line = await client.readLine(LOGIN_TIMEOUT_MS);
    }
  }
  run.tagged = line;
  return run;
}

/** Logs in over POP3 with a SCRAM client (RFC 5034 §4); returns the final status line and whether the server proved itself. */
async function pop3Scram(client: Pop3Client, mechanism: string, sc: ScramClient): Promise<{ status: string; verified: boolean }> {
  let line = await client.command(`AUTH ${mechanism} ${b64(sc.clientFirst)}`, LOGIN_TIMEOUT_MS);
  if (!line.startsWith('+ ')) return { status: line, verified: false };
  line = await client.command(b64(sc.final(unb64(line.slice(2)))), LOGIN_TIMEOUT_MS);
  if (!line.startsWith('+ ')) return { status: line, verified: false };
  const verified = sc.verifies(unb64(line.slice(2)));
  return { status: await client.command('', LOGIN_TIMEOUT_MS), verified };
}

let srv: TestServer;
const logLines: string[] = [];

/** Administration as `mailkeep user add|passwd`, the admin API and the web admin use it. */
const admin = (s: TestServer): Administration => new Administration(s.server.store, { actor: 'cli:test', address: 'local' }, passwordHashing(s.config));

/** Creates an account with its SCRAM keys, as `mailkeep user add` does. */
async function addScramUser(s: TestServer, name: string, password: string): Promise<void> {
  await admin(s).createAccount(name, password);
}

const tlsOf = (c: RawClient | Pop3Client): TLSSocket => c.rawSocket() as TLSSocket;

/** mailkeep_logins_total for successful IMAP SCRAM-SHA-1 logins (the in-process server's registry). */
async function scramLogins(): Promise<number> {
  const metric = await registry.getSingleMetric('mailkeep_logins_total')?.get();
  const l = { protocol: 'imap', mechanism: 'SCRAM-SHA-1', outcome: 'succeeded' };
  return metric?.values.find((v) => Object.entries(l).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

before(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n'));
      done();
    },
  });
  // Refused attempts here are deliberate: no tarpit (the throttle has its own server below).
  srv = await startTestServer({ auth: { scramIterations: ITERATIONS }, authThrottle: { freeFailures: 1000, baseDelayMs: 0 }, log: { level: 'info' } }, sink);
  await addScramUser(srv, 'sam', 'pencil');
});
after(async () => srv.stop());

describe('SCRAM on IMAP', () => {
  test('advertised: SCRAM before TLS beside LOGINDISABLED, -PLUS only on TLS', async () => {
    const plain = await RawClient.connect(srv.imapPort);
    const secure = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      const before = (await plain.client.command('c', 'CAPABILITY')).lines[0]!;
      assert.match(before, / LOGINDISABLED AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1( |$)/);
      assert.doesNotMatch(before, /-PLUS|AUTH=PLAIN/);
      assert.match(
        (await secure.client.command('c', 'CAPABILITY')).lines[0]!,
        / AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1-PLUS AUTH=SCRAM-SHA-1 AUTH=PLAIN AUTH=LOGIN$/,
      );
      assert.match((await plain.client.command('p', 'AUTHENTICATE SCRAM-SHA-256-PLUS')).tagged, /^p NO \[CANNOT\]/);
    } finally {
      plain.client.close();
      secure.client.close();
    }
  });

  test('SCRAM-SHA-256 and SCRAM-SHA-1 log in before TLS, with and without SASL-IR; the server proves itself', async () => {
    for (const [mech, hash, ir] of [
      ['SCRAM-SHA-256', 'sha256', true],
      ['SCRAM-SHA-256', 'sha256', false],
      ['SCRAM-SHA-1', 'sha1', true],
    ] as const) {
      const { client } = await RawClient.connect(srv.imapPort);
      try {
        const run = await imapScram(client, mech, new ScramClient(hash, 'sam', 'pencil', { flag: 'y' }), ir);
        assert.match(run.tagged, /^a OK \[CAPABILITY IMAP4rev1 /, `${mech} ${ir}`);
        assert.ok(run.serverFinalVerified);
        assert.match((await client.command('s', 'SELECT INBOX')).tagged, /^s OK/);
      } finally {
        client.close();
      }
    }
  });

  test('a non-ASCII password that SASLprep maps (RFC 4013): SCRAM-SHA-256 and PLAIN log in with it', async () => {
    // SOFT HYPHEN maps to nothing, EM SPACE to SPACE (RFC 4013 §2.1): prepared, the password is "pencil box".
    const password = 'pen\u00ADcil\u2003box';
    await addScramUser(srv, 'una', password);
    const scram = async (pw: string): Promise<string> => {
      const { client } = await RawClient.connect(srv.imapPort);
      try {
        return (await imapScram(client, 'SCRAM-SHA-256', new ScramClient('sha256', 'una', pw))).tagged;
      } finally {
        client.close();
      }
    };
    // A SCRAM client prepares the password itself (RFC 5802 §5.1): the keys are of the prepared form.
    assert.match(await scram('pencil box'), /^a OK /);
    assert.match(await scram(password), /^a NO \[AUTHENTICATIONFAILED\]/);
    // PLAIN (RFC 4616 §2): the server prepares what it receives; a prohibited character fails like a wrong password.
    for (const [pw, answer] of [
      [password, /^p OK /],
      ['pencil\u00A0box', /^p OK /],
      ['pencil box', /^p OK /],
      ['pencil\u0007box', /^p NO \[AUTHENTICATIONFAILED\]/],
    ] as const) {
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
      try {
        assert.match((await client.command('p', `AUTHENTICATE PLAIN ${b64(`\0una\0${pw}`)}`, LOGIN_TIMEOUT_MS)).tagged, answer, JSON.stringify(pw));
      } finally {
        client.close();
      }
    }
  });

  test('SCRAM-SHA-256-PLUS with tls-exporter (TLS 1.3) and tls-server-end-point; tls-unique on TLS 1.2 only', async () => {
    const cases: Array<[string, (s: TLSSocket) => Buffer, '1.3' | '1.2']> = [
      ['tls-exporter', tlsExporter, '1.3'],
      ['tls-server-end-point', tlsServerEndPoint, '1.3'],
      ['tls-unique', tlsUnique, '1.2'],
      ['tls-server-end-point', tlsServerEndPoint, '1.2'],
    ];
    for (const [type, data, version] of cases) {
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true, tlsOptions: { maxVersion: `TLSv${version}` } });
      try {
        const run = await imapScram(client, 'SCRAM-SHA-256-PLUS', new ScramClient('sha256', 'sam', 'pencil', { flag: 'p', type, data: data(tlsOf(client)) }));
        assert.match(run.tagged, /^a OK /, `${type} on TLS ${version}: ${run.tagged}`);
        assert.ok(run.serverFinalVerified);
      } finally {
        client.close();
      }
    }
    // tls-unique is not defined for TLS 1.3 (RFC 9266 §3), tls-exporter not offered on TLS 1.2.
    for (const [type, version] of [
      ['tls-unique', '1.3'],
      ['tls-exporter', '1.2'],
    ] as const) {
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true, tlsOptions: { maxVersion: `TLSv${version}` } });
      try {
        const run = await imapScram(client, 'SCRAM-SHA-256-PLUS', new ScramClient('sha256', 'sam', 'pencil', { flag: 'p', type, data: Buffer.alloc(32) }));
        assert.match(run.tagged, /^a NO \[AUTHENTICATIONFAILED\] Unsupported channel binding type/);
      } finally {
        client.close();
      }
    }
  });

  test('after STARTTLS the binding is the upgraded connection’s', async () => {
    const { client } = await RawClient.connect(srv.imapPort);
    try {
      assert.match((await client.command('t', 'STARTTLS')).tagged, /^t OK/);
      await client.startTls();
      const run = await imapScram(
        client,
        'SCRAM-SHA-256-PLUS',
        new ScramClient('sha256', 'sam', 'pencil', { flag: 'p', type: 'tls-exporter', data: tlsExporter(tlsOf(client)) }),
      );
      assert.match(run.tagged, /^a OK /);
    } finally {
      client.close();
    }
  });

  test('binding mismatch, downgrade and wrong password are AUTHENTICATIONFAILED and logged', async () => {
    const cases: Array<[string, (s: TLSSocket) => ScramClient, RegExp]> = [
      [
        'SCRAM-SHA-256-PLUS',
        (s) => new ScramClient('sha256', 'sam', 'pencil', { flag: 'p', type: 'tls-exporter', data: Buffer.from(tlsExporter(s)).fill(1, 0, 1) }),
        /^a NO \[AUTHENTICATIONFAILED\] Channel bindings do not match/,
      ],
      [
        'SCRAM-SHA-256',
        () => new ScramClient('sha256', 'sam', 'pencil', { flag: 'y' }),
        /^a NO \[AUTHENTICATIONFAILED\] Channel binding was offered: downgrade refused/,
      ],
      ['SCRAM-SHA-256', () => new ScramClient('sha256', 'sam', 'wrong'), /^a NO \[AUTHENTICATIONFAILED\] Authentication failed/],
    ];
    for (const [mech, make, expected] of cases) {
      const from = logLines.length;
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
      try {
        const run = await imapScram(client, mech, make(tlsOf(client)));
        assert.match(run.tagged, expected);
        assert.equal(run.serverFinalVerified, false);
        assert.ok(
          logLines.slice(from).some((l) => l.includes('"msg":"authentication failed"') && l.includes('"user":"sam"')),
          'the failure is logged like a wrong PLAIN password',
        );
      } finally {
        client.close();
      }
    }
  });

  test('an unknown user gets an answer of the same shape, stable per name, and fails at the proof', async () => {
    const serverFirst = async (user: string): Promise<string> => {
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
      try {
        const run = await imapScram(client, 'SCRAM-SHA-256', new ScramClient('sha256', user, 'not-it', { flag: 'n' }, 'fixednonce'));
        assert.match(run.tagged, /^a NO \[AUTHENTICATIONFAILED\] Authentication failed/);
        return run.serverFirst!.replace(/^r=fixednonce[^,]{24},/, 'r=N,');
      } finally {
        client.close();
      }
    };
    const shape = /^r=N,s=[A-Za-z0-9+/]{22}==,i=4096$/;
    const ghost = await serverFirst('ghost');
    assert.match(ghost, shape);
    assert.equal(await serverFirst('ghost'), ghost, 'the same salt at every attempt');
    assert.notEqual(await serverFirst('phantom'), ghost);
    // A real account, wrong password: the same shape, its own salt.
    const real = await serverFirst('sam');
    assert.match(real, shape);
    // The made-up salts come from the server secret: owner-only, made once.
    assert.equal((await stat(join(srv.dataDir, 'server-secret'))).mode & 0o777, 0o600);
  });

  test('"*" cancels at the server-first-message; a cancelled or malformed exchange answers BAD', async () => {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      client.send(`a AUTHENTICATE SCRAM-SHA-256 ${b64(new ScramClient('sha256', 'sam', 'pencil').clientFirst)}\r\n`);
      assert.match(await client.readLine(), /^\+ /);
      client.send('*\r\n');
      assert.match(await client.readLine(), /^a BAD Authentication cancelled/);
      assert.match((await client.command('b', `AUTHENTICATE SCRAM-SHA-256 ${b64('n,,r=x,n=sam')}`)).tagged, /^b BAD Malformed SCRAM/);
      const bound = new ScramClient('sha256', 'sam', 'pencil', { flag: 'p', type: 'tls-exporter', data: tlsExporter(tlsOf(client)) });
      assert.match((await imapScram(client, 'SCRAM-SHA-256', bound)).tagged, /^a NO \[AUTHENTICATIONFAILED\] Channel binding needs a -PLUS mechanism/);
      // Proxy authorization (an authzid naming someone else) is refused as for PLAIN.
      const proxy = new ScramClient('sha256', 'sam', 'pencil', { flag: 'n' }, undefined, 'dora');
      assert.match((await imapScram(client, 'SCRAM-SHA-256', proxy)).tagged, /^a NO \[AUTHORIZATIONFAILED\]/);
    } finally {
      client.close();
    }
  });

  test('an account from before SCRAM gets keys at its next password login', async () => {
    await srv.server.store.createAccount('olde', await hashPassword('r1ght', passwordHashing(srv.config)));
    const attempt = async (): Promise<string> => {
      const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
      try {
        return (
          await imapScram(
            client,
            'SCRAM-SHA-256-PLUS',
            new ScramClient('sha256', 'olde', 'r1ght', { flag: 'p', type: 'tls-exporter', data: tlsExporter(tlsOf(client)) }),
          )
        ).tagged;
      } finally {
        client.close();
      }
    };
    assert.match(await attempt(), /^a NO \[AUTHENTICATIONFAILED\]/);
    (await RawClient.login(srv.imapsPort, 'olde', 'r1ght')).close();
    // The keys are derived in the background after the login.
    const account = (await srv.server.store.findAccount('olde'))!;
    for (let i = 0; i < 100 && (await srv.server.store.scramCredential(account.id, 'SHA-1')) === null; i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(await attempt(), /^a OK /);
    // A password change retires them at once.
    await srv.server.store.setPasswordHash(account.id, await hashPassword('n3w', passwordHashing(srv.config)));
    assert.equal(await srv.server.store.scramCredential(account.id, 'SHA-256'), null);
    assert.match(await attempt(), /^a NO \[AUTHENTICATIONFAILED\]/);
  });

  test('a rehash at a password login (scrypt → argon2id) keeps SCRAM working', async () => {
    // An account whose password was hashed with scrypt, with its SCRAM keys: upgraded at its next password login.
    const scrypt = await hashPassword('k33p', { ...passwordHashing(srv.config), algorithm: 'scrypt', scryptCost: 10 });
    const account = await srv.server.store.createAccount('remy', scrypt);
    await srv.server.store.setScramCredentials(account.id, scrypt, await deriveScramCredentials('k33p', ITERATIONS));
    const attempt = async (): Promise<string> => {
      const { client } = await RawClient.connect(srv.imapPort);
      try {
        return (await imapScram(client, 'SCRAM-SHA-256', new ScramClient('sha256', 'remy', 'k33p'))).tagged;
      } finally {
        client.close();
      }
    };
    assert.match(await attempt(), /^a OK /);
    (await RawClient.login(srv.imapsPort, 'remy', 'k33p')).close();
    const rehashed = async (): Promise<boolean> => (await srv.server.store.getAccount(account.id))?.passwordHash.startsWith('$argon2id$') === true;
    for (let i = 0; i < 100 && !(await rehashed()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(await rehashed(), 'the scrypt hash was upgraded');
    // The keys were tied to the scrypt hash; the rehash stores them again beside the new one.
    let status = await attempt();
    for (let i = 0; i < 40 && !status.startsWith('a OK'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await attempt();
    }
    assert.match(status, /^a OK /);
    assert.notEqual(await srv.server.store.scramCredential(account.id, 'SHA-1'), null);
  });

  test('a password set through Administration (CLI, admin API, web admin) has SCRAM keys at once; the old password stops', async () => {
    await addScramUser(srv, 'pete', 'old-pw');
    await admin(srv).setPassword('pete', 'new-pw');
    for (const [password, expected] of [
      ['new-pw', /^a OK /],
      ['old-pw', /^a NO \[AUTHENTICATIONFAILED\]/],
    ] as const) {
      const { client } = await RawClient.connect(srv.imapPort);
      try {
        assert.match((await imapScram(client, 'SCRAM-SHA-1', new ScramClient('sha1', 'pete', password))).tagged, expected);
      } finally {
        client.close();
      }
    }
  });

  test('an account that requires app passwords refuses SCRAM (it proves the main password), on IMAP and POP3', async () => {
    await addScramUser(srv, 'rita', 'pencil');
    await srv.server.store.setRequireAppPasswords((await srv.server.store.findAccount('rita'))!.id, true);
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      const run = await imapScram(client, 'SCRAM-SHA-256', new ScramClient('sha256', 'rita', 'pencil'));
      assert.match(run.tagged, /^a NO \[AUTHENTICATIONFAILED\] This account requires an app password/);
      assert.equal(run.serverFinalVerified, false, 'no server signature for a refused login');
    } finally {
      client.close();
    }
    const pop = await Pop3Client.connect(srv.pop3Port);
    try {
      assert.match(
        (await pop3Scram(pop.client, 'SCRAM-SHA-1', new ScramClient('sha1', 'rita', 'pencil'))).status,
        /^-ERR \[AUTH\] This account requires an app password/,
      );
    } finally {
      pop.client.close();
    }
  });

  test('a disabled account is refused with CONTACTADMIN after a right proof', async () => {
    await addScramUser(srv, 'dora', 'pencil');
    const account = (await srv.server.store.findAccount('dora'))!;
    await srv.server.store.setDisabled(account.id, true);
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    try {
      const run = await imapScram(client, 'SCRAM-SHA-256', new ScramClient('sha256', 'dora', 'pencil'));
      assert.match(run.tagged, /^a NO \[CONTACTADMIN\]/);
      assert.equal(run.serverFinalVerified, false, 'no server signature for a refused login');
    } finally {
      client.close();
    }
  });

  test('a successful SCRAM login is the last login, counted under its mechanism', async () => {
    await addScramUser(srv, 'lena', 'pencil');
    const before = await scramLogins();
    const { client } = await RawClient.connect(srv.imapPort);
    try {
      assert.match((await imapScram(client, 'SCRAM-SHA-1', new ScramClient('sha1', 'lena', 'pencil'))).tagged, /^a OK /);
    } finally {
      client.close();
    }
    const last = await eventually(
      async () => (await srv.server.store.findAccount('lena'))?.lastLogin,
      (l) => l != null,
    );
    assert.equal(last?.protocol, 'imap');
    assert.equal((await scramLogins()) - before, 1);
  });
});

describe('SCRAM on POP3', () => {
  test('CAPA SASL and AUTH list SCRAM, -PLUS on TLS only', async () => {
    const plain = await Pop3Client.connect(srv.pop3Port);
    const secure = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      assert.deepEqual((await plain.client.multi('AUTH')).lines, ['SCRAM-SHA-256', 'SCRAM-SHA-1']);
      assert.ok((await plain.client.multi('CAPA')).lines.includes('SASL SCRAM-SHA-256 SCRAM-SHA-1'));
      assert.ok((await secure.client.multi('CAPA')).lines.includes('SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN'));
    } finally {
      plain.client.close();
      secure.client.close();
    }
  });

  test('SCRAM-SHA-256-PLUS over POP3S with tls-exporter, SCRAM-SHA-1 before TLS; failures carry [AUTH]', async () => {
    const secure = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      const r = await pop3Scram(
        secure.client,
        'SCRAM-SHA-256-PLUS',
        new ScramClient('sha256', 'sam', 'pencil', { flag: 'p', type: 'tls-exporter', data: tlsExporter(tlsOf(secure.client)) }),
      );
      assert.match(r.status, /^\+OK/);
      assert.ok(r.verified);
      assert.match(await secure.client.command('STAT'), /^\+OK 0 0/);
    } finally {
      secure.client.close();
    }
    const plain = await Pop3Client.connect(srv.pop3Port);
    try {
      assert.match((await pop3Scram(plain.client, 'SCRAM-SHA-1', new ScramClient('sha1', 'sam', 'wrong'))).status, /^-ERR \[AUTH\] Authentication failed/);
      const ok = await pop3Scram(plain.client, 'SCRAM-SHA-1', new ScramClient('sha1', 'sam', 'pencil'));
      assert.match(ok.status, /^\+OK/);
    } finally {
      plain.client.close();
    }
    const tls = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    try {
      const r = await pop3Scram(tls.client, 'SCRAM-SHA-256', new ScramClient('sha256', 'sam', 'pencil', { flag: 'y' }));
      assert.match(r.status, /^-ERR \[AUTH\] Channel binding was offered: downgrade refused/);
      assert.match(await tls.client.command(`AUTH SCRAM-SHA-256 ${b64('n,,n=sam')}`), /^-ERR Malformed SCRAM/);
    } finally {
      tls.client.close();
    }
  });
});

describe('tls-server-end-point with SNI', () => {
  test('binds to the certificate selected for the client’s name, hashed as RFC 5929 §4.1 says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailkeep-scram-sni-'));
    const pairs = { default: await makePair(['mail.test']), alpha: await makePair(['alpha.test'], { sha384: true }) };
    for (const [name, pair] of Object.entries(pairs)) writePair(pair, join(dir, `${name}.crt`), join(dir, `${name}.key`));
    const sni = await startTestServer({
      auth: { scramIterations: ITERATIONS },
      tlsCert: join(dir, 'default.crt'),
      tlsKey: join(dir, 'default.key'),
      tls: { certificates: [{ cert: join(dir, 'alpha.crt'), key: join(dir, 'alpha.key') }] },
    });
    try {
      await addScramUser(sni, 'sam', 'pencil');
      for (const [servername, hash] of [
        ['alpha.test', 'sha384'],
        ['mail.test', 'sha256'],
      ] as const) {
        const { client } = await RawClient.connect(sni.imapsPort, { tls: true, tlsOptions: { servername } });
        try {
          const der = tlsOf(client).getPeerCertificate().raw;
          const data = createHash(hash).update(der).digest();
          const run = await imapScram(
            client,
            'SCRAM-SHA-256-PLUS',
            new ScramClient('sha256', 'sam', 'pencil', { flag: 'p', type: 'tls-server-end-point', data }),
          );
          assert.match(run.tagged, /^a OK /, servername);
        } finally {
          client.close();
        }
      }
    } finally {
      await sni.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SCRAM settings and throttling', () => {
  test('[auth] scram = off: not advertised, not accepted', async () => {
    const off = await startTestServer({ auth: { scram: false } });
    try {
      const { client, greeting } = await RawClient.connect(off.imapsPort, { tls: true });
      assert.doesNotMatch(greeting, /SCRAM/);
      assert.match((await client.command('a', `AUTHENTICATE SCRAM-SHA-256 ${b64('n,,n=x,r=y')}`)).tagged, /^a NO \[CANNOT\]/);
      client.close();
      const pop = await Pop3Client.connect(off.pop3Port);
      assert.ok(!(await pop.client.multi('CAPA')).lines.some((l) => l.startsWith('SASL')));
      pop.client.close();
    } finally {
      await off.stop();
    }
  });

  test('wrong SCRAM proofs count like wrong passwords: the address is refused at the limit', async () => {
    const strict = await startTestServer({
      auth: { scramIterations: ITERATIONS },
      authThrottle: { maxFailuresPerIp: 2, freeFailures: 10, passwordHashCost: 10 },
    });
    try {
      await addScramUser(strict, 'tim', 'pencil');
      const attempt = async (password: string): Promise<string> => {
        const { client } = await RawClient.connect(strict.imapsPort, { tls: true });
        try {
          return (await imapScram(client, 'SCRAM-SHA-256', new ScramClient('sha256', 'tim', password))).tagged;
        } finally {
          client.close();
        }
      };
      assert.match(await attempt('guess1'), /^a NO \[AUTHENTICATIONFAILED\]/);
      assert.match(await attempt('guess2'), /^a NO \[AUTHENTICATIONFAILED\]/);
      assert.match(await attempt('pencil'), /^a NO \[UNAVAILABLE\] Too many failed logins/);
    } finally {
      await strict.stop();
    }
  });
});
