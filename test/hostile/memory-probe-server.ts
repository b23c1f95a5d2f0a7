/**
 * A test server in a child process whose memory a test can measure: run with
 * `fork(thisFile, [JSON overrides], { execArgv: ['--expose-gc'] })`. It
 * sends `{ imapPort, pop3Port }` once listening; to each 'measure' message it
 * answers `{ rss, heapUsed, arrayBuffers }` after a full garbage collection,
 * so what it reports is what the server holds, not what it has not swept yet.
 */
import { startTestServer } from '../helpers/server.js';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const srv = await startTestServer(overrides);
process.send?.({ imapPort: srv.imapPort, pop3Port: srv.pop3Port });
process.on('message', (m) => {
  if (m === 'stop') {
    void srv.stop().then(() => process.exit(0));
    return;
  }
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
  process.send?.({ rss, heapUsed, arrayBuffers });
});
