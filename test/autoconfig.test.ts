// test:pg skip — client set-up documents made from the configuration and the listeners
/**
 * Client set-up over a running server's HTTP and HTTPS listeners: Mozilla clientConfig, Outlook
 * Autodiscover and the Apple profile, parsed and checked against the running
 * server's listeners (each endpoint is connected to, with the security the
 * answer names); a port change changes every format; other domains get 404;
 * an alias logs in as its account; the profile's CMS signature verifies
 * against the test CA with openssl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { XMLParser } from 'fast-xml-parser';
import { OUTLOOK_RESPONSE_SCHEMA } from '../src/autoconfig/autodiscover.js';
import { httpFetch } from './helpers/http-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';
import { makeTestCerts, type TestCerts } from './helpers/test-certs.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  isArray: (name) => ['incomingServer', 'Protocol'].includes(name),
});
const SUBMISSION = { host: 'smtp.example.org', security: 'starttls' };

let certDir: string;
let certs: TestCerts;
let ca: Buffer;

before(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'mailkeep-autoconfig-certs-'));
  certs = await makeTestCerts(certDir);
  ca = readFileSync(certs.ca.cert);
});
after(() => rmSync(certDir, { recursive: true, force: true }));

/** Where the running server's web listeners are. */
interface AutoconfigWeb {
  http: string;
  https: string;
}

/** A running mailkeep (mail and web listeners) with a CA-issued certificate for localhost, alice and her alias. */
async function start(overrides: Record<string, unknown> = {}, pair = () => certs.valid): Promise<{ server: TestServer; web: AutoconfigWeb }> {
  const { cert, key } = pair();
  const server = await startTestServer({
    hostname: 'localhost',
    domains: ['example.org'],
    tlsCert: cert,
    tlsKey: key,
    submission: SUBMISSION,
    httpPort: await freePort(),
    httpsPort: await freePort(),
    ...overrides,
  });
  await server.addUser('alice', 'secret-password');
  const alice = await server.server.store.findAccount('alice');
  await server.server.store.addAlias('a.liddell@example.org', alice!.id);
  const { http, https } = server.server.ports;
  return { server, web: { http: `http://127.0.0.1:${http}`, https: `https://127.0.0.1:${https}` } };
}

async function stop(s: { server: TestServer }): Promise<void> {
  await s.server.stop();
}

/** The first line a listener sends, over TLS from the start or in the clear (STARTTLS/STLS ports). */
function greeting(port: number, security: 'SSL' | 'STARTTLS'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = security === 'SSL' ? tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }) : netConnect({ host: '127.0.0.1', port });
    socket.setTimeout(20_000, () => socket.destroy(new Error('no greeting')));
    socket.once('data', (data: Buffer) => {
      socket.destroy();
      resolve(data.toString('latin1').split('\r\n')[0]!);
    });
    socket.once('error', reject);
  });
}

interface Endpoint {
  type: string;
  port: number;
  security: 'SSL' | 'STARTTLS';
  username: string;
}

function mozillaEndpoints(xml: string): { endpoints: Endpoint[]; outgoing: Endpoint | null; domain: string; host: string[] } {
  const doc = parser.parse(xml);
  assert.equal(doc.clientConfig['@version'], '1.1');
  const provider = doc.clientConfig.emailProvider;
  assert.equal(provider['@id'], 'example.org');
  assert.equal(provider.domain, 'example.org');
  const read = (s: Record<string, string>): Endpoint => {
    assert.equal(s.authentication, 'password-cleartext');
    assert.deepEqual(Object.keys(s), ['hostname', 'port', 'socketType', 'username', 'authentication', '@type']);
    return { type: s['@type']!, port: Number(s.port), security: s.socketType as 'SSL' | 'STARTTLS', username: s.username! };
  };
  const incoming = provider.incomingServer as Record<string, string>[];
  return {
    endpoints: incoming.map(read),
    outgoing: provider.outgoingServer ? read(provider.outgoingServer) : null,
    domain: provider.domain,
    host: incoming.map((s) => s.hostname!),
  };
}

function autodiscoverBody(address: string, schema = OUTLOOK_RESPONSE_SCHEMA): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request><EMailAddress>${address}</EMailAddress><AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request>
</Autodiscover>`;
}

async function autodiscover(web: AutoconfigWeb, body: string, path = '/autodiscover/autodiscover.xml') {
  const res = await httpFetch(`${web.https}${path}`, { method: 'POST', body, headers: { 'content-type': 'text/xml' }, ca, host: 'autodiscover.example.org' });
  return { status: res.status, doc: parser.parse(res.text), text: res.text };
}

/** The payload of a signed profile, checked with `openssl smime -verify` against the test CA. */
function verifiedProfile(der: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailkeep-profile-'));
  try {
    writeFileSync(join(dir, 'p.der'), der);
    // -purpose any: the signer is the server's TLS certificate (serverAuth), as Apple accepts it.
    execFileSync(
      'openssl',
      ['smime', '-verify', '-inform', 'DER', '-in', join(dir, 'p.der'), '-CAfile', certs.ca.cert, '-purpose', 'any', '-out', join(dir, 'p.plist')],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    return readFileSync(join(dir, 'p.plist'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The mail payload of a profile as a key → value map. */
function mailPayload(plist: string): Map<string, string> {
  assert.match(plist, /<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN"/);
  const doc = new XMLParser({ preserveOrder: true, parseTagValue: false }).parse(plist);
  const top = doc.find((n: Record<string, unknown>) => 'plist' in n).plist[0].dict as Record<string, unknown>[];
  const entries = (dict: Record<string, unknown>[]): Map<string, unknown> => {
    const map = new Map<string, unknown>();
    for (let i = 0; i < dict.length; i += 2) {
      const key = (dict[i]!.key as [{ '#text': string }])[0]['#text'];
      const [tag, value] = Object.entries(dict[i + 1]!)[0]!;
      map.set(key, tag === 'true' || tag === 'false' ? tag : tag === 'array' || tag === 'dict' ? value : (value as [{ '#text': string }])[0]?.['#text']);
    }
    return map;
  };
  const profile = entries(top);
  assert.equal(profile.get('PayloadType'), 'Configuration');
  const content = profile.get('PayloadContent') as [{ dict: Record<string, unknown>[] }];
  assert.equal(content.length, 1);
  return entries(content[0].dict) as Map<string, string>;
}

test('every format names the running listeners, implicit TLS first; the alias logs in as its account', async () => {
  const s = await start();
  try {
    const { config } = s.server;
    const expected = [
      { type: 'imap', port: s.server.imapsPort, security: 'SSL' },
      { type: 'imap', port: s.server.imapPort, security: 'STARTTLS' },
      { type: 'pop3', port: s.server.pop3sPort, security: 'SSL' },
      { type: 'pop3', port: s.server.pop3Port, security: 'STARTTLS' },
    ];
    // Mozilla: over HTTP and HTTPS, by address and by host name.
    for (const base of [s.web.http, s.web.https]) {
      const res = await httpFetch(`${base}/mail/config-v1.1.xml?emailaddress=a.liddell%40example.org`, { ca, host: 'autoconfig.example.org' });
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/xml/);
      const moz = mozillaEndpoints(res.text);
      assert.deepEqual(
        moz.endpoints,
        expected.map((e) => ({ ...e, username: 'alice' })),
      );
      assert.deepEqual(moz.host, [config.hostname, config.hostname, config.hostname, config.hostname]);
      assert.deepEqual(moz.outgoing, { type: 'smtp', port: 587, security: 'STARTTLS', username: 'alice' });
    }
    const wellKnown = await httpFetch(`${s.web.http}/.well-known/autoconfig/mail/config-v1.1.xml`, { host: 'example.org' });
    assert.equal(wellKnown.status, 200);
    assert.deepEqual(
      mozillaEndpoints(wellKnown.text).endpoints.map((e) => e.username),
      ['%EMAILADDRESS%', '%EMAILADDRESS%', '%EMAILADDRESS%', '%EMAILADDRESS%'],
    );
    // Each endpoint really is that listener with that security.
    for (const e of expected) assert.match(await greeting(e.port, e.security as 'SSL' | 'STARTTLS'), e.type === 'imap' ? /^\* OK/ : /^\+OK/);

    // Outlook: one Protocol per type, the preferred one.
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      const { status, doc } = await autodiscover(s.web, autodiscoverBody('a.liddell@example.org'), path);
      assert.equal(status, 200);
      assert.equal(doc.Autodiscover.Response['@xmlns'], OUTLOOK_RESPONSE_SCHEMA);
      const account = doc.Autodiscover.Response.Account;
      assert.equal(account.AccountType, 'email');
      assert.equal(account.Action, 'settings');
      const protocols = (account.Protocol as Record<string, string>[]).map((p) => [
        p.Type,
        p.Server,
        Number(p.Port),
        p.Encryption,
        p.LoginName,
        p.SPA,
        p.AuthRequired,
      ]);
      assert.deepEqual(protocols, [
        ['IMAP', 'localhost', s.server.imapsPort, 'SSL', 'alice', 'off', 'on'],
        ['POP3', 'localhost', s.server.pop3sPort, 'SSL', 'alice', 'off', 'on'],
        ['SMTP', 'smtp.example.org', 587, 'TLS', 'alice', 'off', 'on'],
      ]);
    }

    // Apple: HTTPS only, signed with the server's CA-issued certificate.
    const res = await httpFetch(`${s.web.https}/apple/mobileconfig?email=a.liddell%40example.org`, { ca, host: 'localhost' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/x-apple-aspen-config');
    const mail = mailPayload(verifiedProfile(res.body));
    assert.equal(mail.get('PayloadType'), 'com.apple.mail.managed');
    assert.equal(mail.get('EmailAccountType'), 'EmailTypeIMAP');
    assert.equal(mail.get('EmailAddress'), 'a.liddell@example.org');
    assert.equal(mail.get('IncomingMailServerHostName'), 'localhost');
    assert.equal(mail.get('IncomingMailServerPortNumber'), String(s.server.imapsPort));
    assert.equal(mail.get('IncomingMailServerUseSSL'), 'true');
    assert.equal(mail.get('IncomingMailServerAuthentication'), 'EmailAuthPassword');
    assert.equal(mail.get('IncomingMailServerUsername'), 'alice');
    assert.equal(mail.get('OutgoingMailServerHostName'), 'smtp.example.org');
    assert.equal(mail.get('OutgoingMailServerPortNumber'), '587');
    assert.equal(mail.get('OutgoingMailServerUseSSL'), 'false');
    assert.ok(![...mail.keys()].some((k) => /Password$/.test(k) && k !== 'OutgoingPasswordSameAsIncomingPassword'), 'no password in the profile');
    // Stable identity: the same address gives the same UUIDs.
    const again = mailPayload(
      verifiedProfile((await httpFetch(`${s.web.https}/apple/mobileconfig?email=a.liddell%40example.org`, { ca, host: 'localhost' })).body),
    );
    assert.equal(again.get('PayloadUUID'), mail.get('PayloadUUID'));
    // Not over plain HTTP: that side sends the client to HTTPS.
    const plain = await httpFetch(`${s.web.http}/apple/mobileconfig?email=a.liddell%40example.org`);
    assert.equal(plain.status, 301);
    assert.match(String(plain.headers.location), /^https:\/\/localhost:\d+\/apple\/mobileconfig\?email=a\.liddell%40example\.org$/);
  } finally {
    await stop(s);
  }
});

test('changing a port changes every format; a disabled listener disappears', async () => {
  const s = await start({ pop3Port: 0, submission: { host: 'smtp.example.org', security: 'tls', port: 2465 } });
  try {
    const moz = mozillaEndpoints(
      (await httpFetch(`${s.web.https}/mail/config-v1.1.xml?emailaddress=alice%40example.org`, { ca, host: 'autoconfig.example.org' })).text,
    );
    assert.deepEqual(
      moz.endpoints.map((e) => [e.type, e.port, e.security]),
      [
        ['imap', s.server.imapsPort, 'SSL'],
        ['imap', s.server.imapPort, 'STARTTLS'],
        ['pop3', s.server.pop3sPort, 'SSL'],
      ],
    );
    assert.deepEqual(moz.outgoing, { type: 'smtp', port: 2465, security: 'SSL', username: 'alice' });
    const { doc } = await autodiscover(s.web, autodiscoverBody('alice@example.org'));
    assert.deepEqual(
      (doc.Autodiscover.Response.Account.Protocol as Record<string, string>[]).map((p) => [p.Type, Number(p.Port), p.Encryption]),
      [
        ['IMAP', s.server.imapsPort, 'SSL'],
        ['POP3', s.server.pop3sPort, 'SSL'],
        ['SMTP', 2465, 'SSL'],
      ],
    );
    const mail = mailPayload(verifiedProfile((await httpFetch(`${s.web.https}/apple/mobileconfig?email=alice%40example.org`, { ca, host: 'localhost' })).body));
    assert.equal(mail.get('IncomingMailServerPortNumber'), String(s.server.imapsPort));
    assert.equal(mail.get('OutgoingMailServerPortNumber'), '2465');
    assert.equal(mail.get('OutgoingMailServerUseSSL'), 'true');
  } finally {
    await stop(s);
  }
  // Only POP3 over TLS left: Apple's profile is a POP account, Outlook gets no IMAP.
  const pop = await start({ imapPort: 0, imapsPort: 0, pop3Port: 0 });
  try {
    const mail = mailPayload(
      verifiedProfile((await httpFetch(`${pop.web.https}/apple/mobileconfig?email=alice%40example.org`, { ca, host: 'localhost' })).body),
    );
    assert.equal(mail.get('EmailAccountType'), 'EmailTypePOP');
    assert.equal(mail.get('IncomingMailServerPortNumber'), String(pop.server.pop3sPort));
    const { doc } = await autodiscover(pop.web, autodiscoverBody('alice@example.org'));
    assert.deepEqual(
      (doc.Autodiscover.Response.Account.Protocol as Record<string, string>[]).map((p) => p.Type),
      ['POP3', 'SMTP'],
    );
  } finally {
    await stop(pop);
  }
});

test('other domains get 404; bad Autodiscover requests get Autodiscover errors without detail', async () => {
  const s = await start();
  try {
    assert.equal((await httpFetch(`${s.web.http}/mail/config-v1.1.xml?emailaddress=bob%40example.com`, { host: 'autoconfig.example.com' })).status, 404);
    assert.equal((await httpFetch(`${s.web.http}/.well-known/autoconfig/mail/config-v1.1.xml`, { host: 'example.com' })).status, 404);
    assert.equal((await httpFetch(`${s.web.https}/apple/mobileconfig?email=bob%40example.com`, { ca, host: 'localhost' })).status, 404);
    assert.equal((await httpFetch(`${s.web.https}/apple/mobileconfig?email=not-an-address`, { ca, host: 'localhost' })).status, 404);
    const foreign = await autodiscover(s.web, autodiscoverBody('bob@example.com'));
    assert.equal(foreign.status, 404);
    assert.equal(foreign.doc.Autodiscover.Response.Error.ErrorCode, '600');

    const cases: Array<[string, string]> = [
      ['<Autodiscover><Request></Request></Autodiscover>', '600'],
      ['not xml at all <<<', '600'],
      [autodiscoverBody('alice@example.org', 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006'), '601'],
      [`<!DOCTYPE a [<!ENTITY x "y">]>${autodiscoverBody('alice@example.org&x;')}`, '600'],
      [autodiscoverBody(`${'a'.repeat(20_000)}@example.org`), '600'],
    ];
    for (const [body, code] of cases) {
      const { status, doc, text } = await autodiscover(s.web, body);
      assert.equal(status, 200, body.slice(0, 60));
      assert.equal(doc.Autodiscover.Response.Error.ErrorCode, code, body.slice(0, 60));
      assert.doesNotMatch(text, /at \w+ \(|node_modules|Error:/, 'no internal detail');
    }
    // An unknown address gets an answer with the address as login name: no hint whether it exists.
    const unknown = await autodiscover(s.web, autodiscoverBody('nobody@example.org'));
    assert.equal((unknown.doc.Autodiscover.Response.Account.Protocol as Record<string, string>[])[0]!.LoginName, 'nobody@example.org');
  } finally {
    await stop(s);
  }
});

test('a self-signed certificate gives an unsigned profile', async () => {
  const s = await start({}, () => certs.selfSigned);
  try {
    const res = await httpFetch(`${s.web.https}/apple/mobileconfig?email=alice%40example.org`, { ca: readFileSync(certs.selfSigned.cert), host: 'localhost' });
    assert.equal(res.status, 200);
    assert.equal(mailPayload(res.text).get('IncomingMailServerUsername'), 'alice');
  } finally {
    await stop(s);
  }
});
