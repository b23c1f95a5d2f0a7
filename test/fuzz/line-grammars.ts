/**
 * Command generators for the line protocols: POP3 (RFC 1939, RFC 2449 CAPA,
 * RFC 5034 AUTH, RFC 2595 STLS) and LMTP (RFC 2033 over RFC 5321, with
 * RFC 3030 CHUNKING/BDAT and RFC 6152 8BITMIME).
 */
import { FUZZ_LOGIN } from './imap-grammar.js';
import type { Rng } from './rng.js';

function arg(r: Rng): string {
  return r.weighted<() => string>([
    [6, () => String(r.int(0, 12))],
    [2, () => String(r.int(0, 2 ** 32 + 2))],
    [2, () => r.pick(['-1', '', ' ', 'x', '1 2 3', '00', '1e9', '\u00e9', '\0'])],
    [1, () => 'A'.repeat(r.size(600))],
  ])();
}

/** One to three POP3 command lines. */
export function pop3Commands(r: Rng): Buffer {
  const one = (): string => {
    const cmd = r.weighted<() => string>([
      [3, () => `USER ${r.chance(0.5) ? FUZZ_LOGIN.user : arg(r)}`],
      // A PASS after USER costs the server a 32 MiB scrypt: keep them rare.
      [1, () => (r.chance(0.2) ? `PASS ${r.chance(0.3) ? FUZZ_LOGIN.password : arg(r)}` : 'PASS')],
      [
        1,
        () =>
          `AUTH ${r.pick(['PLAIN', 'plain', 'LOGIN', 'NOPE', '', 'SCRAM-SHA-256', 'SCRAM-SHA-1'])}${r.chance(0.5) ? ` ${r.pick(['=', '*', Buffer.from(`\0${FUZZ_LOGIN.user}\0nope`).toString('base64'), '!!', Buffer.from(`n,,n=${FUZZ_LOGIN.user},r=x`).toString('base64')])}` : ''}`,
      ],
      [1, () => r.pick(['*', '=', 'AGZ1enoAbm9wZQ=='])],
      [3, () => r.pick(['CAPA', 'STAT', 'NOOP', 'RSET', 'capa', 'stat'])],
      [4, () => `${r.pick(['LIST', 'UIDL', 'RETR', 'DELE'])}${r.chance(0.7) ? ` ${arg(r)}` : ''}`],
      [2, () => `TOP ${arg(r)} ${arg(r)}`],
      // QUIT and STLS end the session (and a TRANSACTION session costs a scrypt to replace): rarer.
      [1, () => (r.chance(0.2) ? r.pick(['QUIT', 'STLS']) : r.pick(['APOP x y', 'UTF8', 'XTND', '']))],
    ])();
    return `${cmd}${r.pick(['\r\n', '\r\n', '\r\n', '\n', ' \r\n'])}`;
  };
  return Buffer.from(Array.from({ length: r.int(1, 3) }, one).join(''), 'utf8');
}

/** One to three LMTP commands, with DATA and BDAT content. */
export function lmtpCommands(r: Rng): Buffer {
  const path = (): string =>
    r.weighted<() => string>([
      [
        5,
        () =>
          `<${r.pick(['fuzzsink', FUZZ_LOGIN.user, 'nobody', 'fuzzsink+fz', 'fuzzsink+Sent', 'FUZZSINK', '"quoted local"', ''])}${r.pick(['@localhost', '@example.com', '', '@[127.0.0.1]', '@'])}>`,
      ],
      [
        1,
        () =>
          r.pick([
            '<>',
            '',
            '<',
            'no-brackets@x',
            '<a@b> SIZE=100',
            '<a@b> BODY=8BITMIME',
            '<a@b> BODY=BINARYMIME',
            '<a@b> SMTPUTF8',
            '<é@é.example>',
            `<${'a'.repeat(r.size(1000))}@x>`,
          ]),
      ],
    ])();
  const body = (): string =>
    Array.from({ length: r.size(20) }, () => r.pick(['Subject: x', 'From: a@b', '', '..dot', '.', 'text é', 'x'.repeat(r.size(1200)), '\0'])).join('\r\n');
  const one = (): string =>
    r.weighted<() => string>([
      [3, () => `${r.pick(['LHLO', 'HELO', 'EHLO', 'lhlo'])} ${r.pick(['client.example', '', '[127.0.0.1]', 'é'])}\r\n`],
      [4, () => `MAIL FROM:${path()}\r\n`],
      [5, () => `RCPT TO:${path()}\r\n`],
      [3, () => `DATA\r\n${body()}\r\n${r.chance(0.8) ? '.\r\n' : ''}`],
      [
        3,
        () => {
          const chunk = body();
          const n = r.chance(0.8) ? Buffer.byteLength(chunk) : r.int(0, 3000);
          return `BDAT ${r.chance(0.1) ? arg(r) : n}${r.chance(0.5) ? ' LAST' : ''}\r\n${chunk}`;
        },
      ],
      [2, () => `${r.pick(['RSET', 'NOOP', 'VRFY x', 'EXPN x', 'HELP', 'STARTTLS', 'QUIT', 'XNOPE', ''])}\r\n`],
    ])();
  return Buffer.from(Array.from({ length: r.int(1, 3) }, one).join(''), 'utf8');
}
