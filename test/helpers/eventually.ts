/**
 * For state a server writes in the background after it answered (the last
 * login, auth/last-login.ts): reads until `done` holds or the deadline
 * passes, and returns the last value read for the test to assert on.
 */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until `ok` holds, polling every `everyMs`; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
