/** The version of this mailkeep, from its package.json (`mailkeep --version`, the admin API). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The package version; read once (the file is beside dist/, three levels up from this module). */
export function packageVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
