/**
 * IDLE (RFC 2177, RFC 9051 §6.3.13): while idling, every change the change bus
 * announces for the selected mailbox is synced and sent at once.
 */
import { bad } from '../errors.js';
import { command } from './spec.js';

/** RFC 2177 — IDLE. */
export const idle = command({
  name: 'IDLE',
  states: ['authenticated', 'selected'],
  parse: () => undefined,
  async run(inv) {
    const session = inv.session;
    session.write(Buffer.from('+ idling\r\n'));
    // One sync at a time; a wake-up during a sync schedules exactly one more.
    let running: Promise<void> = Promise.resolve();
    let again = false;
    let busy = false;
    const wake = (): void => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      running = (async () => {
        do {
          again = false;
          await session.sync('full');
          await session.flush();
        } while (again);
      })()
        .catch((err: unknown) => session.log.error({ err }, 'sync during IDLE failed'))
        .finally(() => {
          busy = false;
        });
    };
    session.onMailboxChange(wake);
    const heartbeatMs = session.config.imap.idleHeartbeatSeconds * 1000;
    const heartbeat = setInterval(() => {
      session.untagged('OK Still here');
      void session.flush();
    }, heartbeatMs);
    try {
      await session.sync('full');
      await session.flush();
      const line = await session.readLine();
      if (line === null) return { answered: true };
      if (line.toString('latin1').trim().toUpperCase() !== 'DONE') throw bad('Expected DONE to end IDLE');
    } finally {
      clearInterval(heartbeat);
      session.onMailboxChange(null);
      await running;
    }
    return { text: 'IDLE terminated' };
  },
});
