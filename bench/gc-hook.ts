/**
 * Preloaded into the mailkeep server by the benchmark (`node --expose-gc
 * --import`): SIGUSR2 runs a full garbage collection, so a memory reading
 * shows what the connections retain rather than when V8 last collected.
 * Nothing else of the server changes.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());
