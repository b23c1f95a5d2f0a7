/**
 * A real client: Python's poplib, over the plain port upgraded with STLS and
 * over implicit TLS (RFC 8314). poplib counts the octets of each message it
 * receives (after unstuffing), so its numbers cross-check LIST's sizes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { deliver } from './helpers/pop3-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('py', 'secret pw');
  await deliver(srv.server.store, 'py', [
    'Subject: first\r\nFrom: a@example.org\r\n\r\nHello.\r\n.dotted line\r\n',
    'Subject: second\nFrom: b@example.org\n\nbare LF\nline ends\n..\n',
    'Subject: third\r\n\r\nno final line end',
  ]);
});
after(async () => srv.stop());

const SCRIPT = `
import json, poplib, ssl, sys
port, sport, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
d = lambda b: b.decode('latin1')
out = {}

p = poplib.POP3('127.0.0.1', port, timeout=10)
out['welcome'] = d(p.getwelcome())
out['capa_plain'] = sorted(p.capa().keys())
try:
    p.user(user)
    out['user_before_tls'] = 'accepted'
except poplib.error_proto as e:
    out['user_before_tls'] = str(e)
p.stls(ctx)
out['capa_tls'] = sorted(p.capa().keys())
p.user(user)
p.pass_(pw)
out['stat'] = list(p.stat())
resp, listing, _ = p.list()
out['list'] = [d(x) for x in listing]
resp, uidl, _ = p.uidl()
out['uidl'] = [d(x) for x in uidl]
out['retr'] = []
for i in range(1, out['stat'][0] + 1):
    resp, lines, octets = p.retr(i)
    out['retr'].append({'lines': [d(x) for x in lines], 'octets': octets})
out['top0'] = [d(x) for x in p.top(1, 0)[1]]
out['top_more'] = [d(x) for x in p.top(2, 1000)[1]]
p.dele(1)
p.rset()
p.dele(2)
out['quit'] = d(p.quit())

s = poplib.POP3_SSL('127.0.0.1', sport, context=ctx, timeout=10)
out['capa_ssl'] = sorted(s.capa().keys())
s.user(user)
s.pass_(pw)
out['ssl_stat'] = list(s.stat())
out['ssl_uidl'] = [d(x) for x in s.uidl()[1]]
s.quit()
print(json.dumps(out))
`;

interface Result {
  welcome: string;
  capa_plain: string[];
  user_before_tls: string;
  capa_tls: string[];
  stat: [number, number];
  list: string[];
  uidl: string[];
  retr: Array<{ lines: string[]; octets: number }>;
  top0: string[];
  top_more: string[];
  quit: string;
  capa_ssl: string[];
  ssl_stat: [number, number];
  ssl_uidl: string[];
}

test('python3 poplib: STLS on the plain port, then POP3_SSL on the implicit TLS port', async () => {
  const { stdout } = await run('python3', ['-c', SCRIPT, String(srv.pop3Port), String(srv.pop3sPort), 'py', 'secret pw'], { timeout: 30000 });
  const r = JSON.parse(stdout) as Result;
  assert.match(r.welcome, /^\+OK/);
  assert.ok(r.capa_plain.includes('STLS') && !r.capa_plain.includes('USER'), r.capa_plain.join(' '));
  assert.match(r.user_before_tls, /^b?'?-ERR \[AUTH\]/);
  assert.ok(!r.capa_tls.includes('STLS') && r.capa_tls.includes('USER') && r.capa_tls.includes('SASL'), r.capa_tls.join(' '));

  const sizes = r.list.map((l) => Number(l.split(' ')[1]));
  assert.deepEqual(r.stat, [3, sizes.reduce((a, b) => a + b, 0)]);
  // What poplib received (unstuffed) is exactly what LIST announced, message by message.
  assert.deepEqual(
    r.retr.map((m) => m.octets),
    sizes,
  );
  assert.deepEqual(r.retr[0]!.lines, ['Subject: first', 'From: a@example.org', '', 'Hello.', '.dotted line']);
  assert.deepEqual(r.retr[1]!.lines, ['Subject: second', 'From: b@example.org', '', 'bare LF', 'line ends', '..']);
  assert.deepEqual(r.retr[2]!.lines, ['Subject: third', '', 'no final line end']);
  assert.deepEqual(r.top0, ['Subject: first', 'From: a@example.org', '']);
  assert.deepEqual(r.top_more, r.retr[1]!.lines);
  assert.match(r.quit, /^\+OK .*1 message deleted/);

  assert.ok(!r.capa_ssl.includes('STLS') && r.capa_ssl.includes('USER'));
  assert.deepEqual(r.ssl_stat, [2, sizes[0]! + sizes[2]!]);
  // UIDLs are stable: the remaining messages keep theirs under new numbers.
  const ids = r.uidl.map((l) => l.split(' ')[1]);
  assert.deepEqual(r.ssl_uidl, [`1 ${ids[0]}`, `2 ${ids[2]}`]);
});
