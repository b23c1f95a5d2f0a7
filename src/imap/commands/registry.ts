/**
 * The command table: every command the server knows, by upper-case name.
 */
import { append } from './append.js';
import { authenticateCommand, login, starttls } from './auth.js';
import { capability, enable, id, logout, namespace, noop } from './any-state.js';
import { list, lsub } from './list.js';
import { create, del, rename, status, subscribe, unsubscribe } from './mailboxes.js';
import { getMetadata, setMetadata } from './metadata.js';
import { check, close, examine, select, unselect } from './select.js';
import type { AnyCommand } from './spec.js';
import { compress } from './compress.js';
import { copy, move } from './copy-move.js';
import { expunge } from './expunge.js';
import { fetch } from './fetch.js';
import { idle } from './idle.js';
import { notify } from './notify.js';
import { getquota, getquotaroot, setquota } from './quota.js';
import { replace } from './replace.js';
import { search } from './search.js';
import { sort } from './sort.js';
import { store } from './store-flags.js';
import { thread } from './thread.js';

const ALL: AnyCommand[] = [
  capability,
  noop,
  logout,
  enable,
  id,
  namespace,
  starttls,
  login,
  authenticateCommand,
  create,
  del,
  rename,
  subscribe,
  unsubscribe,
  list,
  lsub,
  status,
  getMetadata,
  setMetadata,
  select,
  examine,
  close,
  unselect,
  check,
  append,
  replace,
  getquota,
  getquotaroot,
  setquota,
  fetch,
  store,
  copy,
  move,
  expunge,
  idle,
  compress,
  search,
  sort,
  thread,
  notify,
];

/** Command specs by name. */
export const COMMANDS: ReadonlyMap<string, AnyCommand> = new Map(ALL.map((c) => [c.name, c]));
