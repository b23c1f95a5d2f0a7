/**
 * RFC 5229 variables: names, `${name}` and `${N}` expansion, and the
 * modifiers of `set` (§4.1) applied by precedence.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A valid variable name for `set`, `global` and the flag commands (RFC 5229 §3). */
export function isVariableName(s: string): boolean {
  return NAME.test(s);
}

/** Reads variables during expansion: by lower-case name, or a match index 0–9. */
export interface VariableSource {
  get(name: string): string | undefined;
  match(index: number): string | undefined;
}

// RFC 5229 §3: "${" identifier / num-variable "}"; namespaced names are not supported and stay as written
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}/g;

/** Expands variable references; unknown ones become the empty string (RFC 5229 §3). */
export function expandVariables(s: string, vars: VariableSource, maxSize: number): string {
  if (!s.includes('${')) return s;
  const out = s.replace(REFERENCE, (_, ref: string) => {
    if (/^[0-9]+$/.test(ref)) return vars.match(Number(ref)) ?? '';
    return vars.get(ref.toLowerCase()) ?? '';
  });
  return out.length > maxSize ? out.slice(0, maxSize) : out;
}

/** `:quotewildcard`: escapes *, ? and \ so the value matches itself with :matches. */
export function quoteWildcards(s: string): string {
  return s.replace(/[*?\\]/g, (c) => `\\${c}`);
}

// RFC 5229 §4.1: higher precedence first: :lower/:upper (40), :lowerfirst/:upperfirst (30), :quotewildcard (20), :length (10)
const MODIFIERS: Array<[string, (s: string) => string]> = [
  ['lower', (s) => s.toLowerCase()],
  ['upper', (s) => s.toUpperCase()],
  ['lowerfirst', (s) => s.charAt(0).toLowerCase() + s.slice(1)],
  ['upperfirst', (s) => s.charAt(0).toUpperCase() + s.slice(1)],
  ['quotewildcard', quoteWildcards],
  ['length', (s) => String([...s].length)],
];

/** Applies the `set` modifiers present in `tags` in precedence order. */
export function applyModifiers(value: string, tags: ReadonlyMap<string, unknown>): string {
  let v = value;
  for (const [name, fn] of MODIFIERS) if (tags.has(name)) v = fn(v);
  return v;
}
