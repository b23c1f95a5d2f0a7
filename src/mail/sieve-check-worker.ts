/**
 * Worker-thread entry of mail/sieve-check.ts: parses large scripts off the
 * main event loop, one request at a time, and posts back each one's errors
 * (empty when the script is valid). It lives on so its parser stays warm.
 */
import { parentPort } from 'node:worker_threads';
import { parseSieve } from '../sieve/index.js';

parentPort?.on('message', ({ text, maxScriptBytes }: { text: string; maxScriptBytes: number }) => {
  const parsed = parseSieve(text, { maxScriptBytes });
  parentPort?.postMessage(parsed.ok ? [] : parsed.errors);
});
