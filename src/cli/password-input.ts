/**
 * Reading a new password for `user add` / `user passwd`: the first line of
 * stdin (for scripts), or a no-echo prompt on the terminal, asked twice.
 * Passwords are never echoed, logged or included in messages.
 */
import { MAX_PASSWORD, passwordProblem } from '../auth/administration.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

/** Stdin is read up to the first line end; refuse to buffer more than this looking for it. */
const MAX_STDIN_BYTES = 64 * 1024;

/** The first line of `input` without its line end (the rest is ignored). */
export async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const nl = buf.indexOf(0x0a);
    chunks.push(nl < 0 ? buf : buf.subarray(0, nl));
    size += buf.length;
    if (nl >= 0) break;
    if (size > MAX_STDIN_BYTES) throw new CliError(`the first line of stdin is longer than ${MAX_STDIN_BYTES} bytes`, EXIT_USAGE);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r$/, '');
}

/** Prompts on the terminal without echo; Ctrl-C or Ctrl-D on an empty line aborts. */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  output.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    const onData = (text: string): void => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
          done();
          reject(new CliError('aborted', 130));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015')
          value = ''; // Ctrl-U: erase the line
        else if (ch >= ' ' && value.length < MAX_PASSWORD) value += ch;
      }
    };
    input.on('data', onData);
  });
}

/**
 * Obtains a new password: from stdin's first line with `fromStdin`, else by
 * asking twice on the terminal. Refuses empty and overlong passwords.
 */
export async function readNewPassword(fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    password = await readFirstLine(process.stdin);
  } else {
    if (!process.stdin.isTTY) throw new CliError('no terminal to ask for the password on; use --password-stdin', EXIT_USAGE);
    password = await promptHidden('New password: ');
    if (password !== '' && (await promptHidden('Repeat password: ')) !== password) throw new CliError('the passwords do not match');
  }
  const problem = passwordProblem(password);
  if (problem !== null) throw new CliError(problem, EXIT_USAGE);
  return password;
}
