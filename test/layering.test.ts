/**
 * Layers point down (docs/design-notes.md "Layers"): every relative import in
 * src/ — `import … from`, `import type …`, `export … from` and `import('…')`,
 * type-only ones included — goes from a top-level folder to one the matrix
 * allows, folders form no cycle, and the files inside imap/ form no cycle
 * (notify/ and session/ below commands/; the session sees the notifier only
 * through notify/control.ts).
 * A failure names the file and line of each offending import.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The allowed matrix, highest layer first: a folder may import the folders
 * listed for it and nothing else. Root files count as leaf folders named
 * after themselves (`ids`, `log`). Keep in step with docs/design-notes.md.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  cli: ['server', 'autoconfig', 'doctor', 'net', 'mail', 'sieve', 'search', 'mime', 'auth', 'store', 'events', 'config', 'log', 'ids', 'syntax'],
  server: ['web', 'acme', 'autoconfig', 'imap', 'pop3', 'lmtp', 'managesieve', 'net', 'mail', 'auth', 'store', 'events', 'config', 'log', 'ids', 'metrics'],
  imap: ['net', 'mail', 'search', 'mime', 'auth', 'store', 'events', 'config', 'log', 'ids', 'syntax', 'metrics'],
  pop3: ['net', 'mail', 'mime', 'auth', 'store', 'events', 'config', 'log', 'ids', 'syntax', 'metrics'],
  lmtp: ['net', 'mail', 'mime', 'auth', 'store', 'events', 'config', 'log', 'ids', 'syntax', 'metrics'],
  managesieve: ['net', 'mail', 'sieve', 'auth', 'store', 'config', 'log', 'ids', 'metrics'],
  web: ['acme', 'net', 'auth', 'store', 'config', 'log', 'metrics'],
  acme: ['net', 'config', 'log', 'process-alive'],
  autoconfig: ['mail', 'store', 'net', 'config', 'log', 'ids'],
  net: ['auth', 'config', 'log', 'ids'],
  doctor: [],
  search: ['mail', 'mime', 'store', 'ids', 'syntax'],
  mail: ['sieve', 'mime', 'store', 'events', 'config', 'log', 'ids', 'syntax'],
  auth: ['store', 'config', 'log', 'ids', 'metrics'],
  store: ['events', 'mime', 'config', 'log', 'ids', 'process-alive', 'metrics'],
  events: ['config', 'log', 'ids'],
  sieve: ['mime'],
  mime: ['ids', 'syntax'],
  log: ['config'],
  config: [],
  metrics: [],
  ids: [],
  'process-alive': [],
  syntax: [],
};

interface Edge {
  from: string;
  to: string;
  where: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** `imap/commands/fetch.ts`, with forward slashes. */
const rel = (path: string): string => relative(SRC, path).split(sep).join('/');

/** The top-level folder of a src-relative path; root files are leaves named after themselves. */
const folderOf = (path: string): string => (path.includes('/') ? path.slice(0, path.indexOf('/')) : path.replace(/\.ts$/, ''));

// Static imports and re-exports (possibly spanning lines, `type` or not), side-effect imports, dynamic imports.
const IMPORT = /^\s*(?:import|export)\s(?:[^;'"]*?\sfrom\s*)?'(\.[^']*)'|\bimport\(\s*'(\.[^']*)'\s*\)/gm;

/** Every relative import of every file in src/, as file-to-file edges (src-relative .ts paths). */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      const line = text.slice(0, m.index + m[0].indexOf(spec)).split('\n').length;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      edges.push({ from: rel(file), to: rel(target), where: `src/${rel(file)}:${line}` });
    }
  }
  return edges;
}

/** Strongly connected components of more than one node (Tarjan), each sorted. */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

function graphOf(pairs: Iterable<readonly [string, string]>): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [a, b] of pairs) {
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
  return graph;
}

const edges = importEdges();
const folderEdges = edges.map((e) => ({ ...e, from: folderOf(e.from), to: folderOf(e.to) })).filter((e) => e.from !== e.to);
const label = (e: { from: string; to: string }): string => `${e.from} → ${e.to}`;

test('the matrix itself has no cycle and names every top-level folder of src/', () => {
  assert.deepEqual(cycles(graphOf(Object.entries(ALLOWED).flatMap(([a, bs]) => bs.map((b) => [a, b] as const)))), []);
  const folders = new Set(edges.flatMap((e) => [folderOf(e.from), folderOf(e.to)]));
  assert.deepEqual(
    [...folders].filter((f) => !(f in ALLOWED)),
    [],
    'folders missing from ALLOWED',
  );
});

test('every import between folders is one the matrix allows', () => {
  const bad = folderEdges.filter((e) => !ALLOWED[e.from]?.includes(e.to));
  assert.deepEqual(
    bad.map((e) => `${e.where}: ${label(e)} (imports src/${edges.find((x) => x.where === e.where)!.to})`),
    [],
  );
});

test('no cycle between folders', () => {
  const found = cycles(graphOf(folderEdges.map((e) => [e.from, e.to] as const)));
  // The matrix is acyclic, so each cycle holds an edge outside it: name those.
  const outside = (e: Edge): boolean => !ALLOWED[e.from]?.includes(e.to);
  const detail = found.map(
    (scc) =>
      `${scc.join(', ')}: ${folderEdges
        .filter((e) => scc.includes(e.from) && scc.includes(e.to) && outside(e))
        .map((e) => `${e.where} (${label(e)})`)
        .join('; ')}`,
  );
  assert.deepEqual(detail, []);
});

test('no cycle between the files of imap/', () => {
  const inner = edges.filter((e) => e.from.startsWith('imap/') && e.to.startsWith('imap/'));
  const found = cycles(graphOf(inner.map((e) => [e.from, e.to] as const)));
  const detail = found.map(
    (scc) =>
      `${scc.join(', ')}: ${inner
        .filter((e) => scc.includes(e.from) && scc.includes(e.to))
        .map((e) => e.where)
        .join(', ')}`,
  );
  assert.deepEqual(detail, []);
});

/** Inside imap/: the wire knows no session, notifier or command; the notifier knows no command. */
const IMAP_BELOW: Readonly<Record<string, readonly string[]>> = {
  'imap/wire/': ['imap/commands/', 'imap/session/', 'imap/notify/'],
  'imap/notify/': ['imap/commands/'],
};

test('imap/wire and imap/notify import no module above them', () => {
  const bad = edges.filter((e) => Object.entries(IMAP_BELOW).some(([low, highs]) => e.from.startsWith(low) && highs.some((h) => e.to.startsWith(h))));
  assert.deepEqual(
    bad.map((e) => `${e.where}: imports src/${e.to}`),
    [],
  );
});
