/**
 * A JSON Schema (2020-12) checker for the keywords the admin API's OpenAPI
 * document uses, written apart from the server's zod schemas on purpose: a
 * response is checked against what the document publishes, not against the
 * code that produced both. A keyword it does not know is an error, so a
 * schema it cannot fully check never passes silently.
 */

/** A JSON Schema object. */
export type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['description', 'title', 'default', 'examples', 'format']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'oneOf',
  'allOf',
  'enum',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  '$ref',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** The problems of `value` against `schema` (empty: valid); `root` resolves `#/...` references. */
export function validate(schema: Schema, value: unknown, root: Schema, at = '$'): string[] {
  const problems: string[] = [];
  const fail = (what: string): void => void problems.push(`${at}: ${what}`);
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) fail(`the checker does not know the keyword ${key}`);
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], root);
    if (target === undefined) fail(`unresolved ${schema.$ref}`);
    else problems.push(...validate(target as Schema, value, root, at));
  }
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) fail(`expected ${types.join(' or ')}, got ${t}`);
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).some((e) => e === value))
    fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && schema.const !== value) fail(`expected ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`${value} < ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`${value} > ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) fail(`${value} <= ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) fail(`${value} >= ${schema.exclusiveMaximum}`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof schema.minLength === 'number' && length < schema.minLength) fail(`shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) fail(`longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) fail(`does not match ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail(`fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail(`more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((item, i) => problems.push(...validate(schema.items as Schema, item, root, `${at}[${i}]`)));
  }
  if (t === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) if (!(name in object)) fail(`missing ${name}`);
    for (const [name, v] of Object.entries(object)) {
      if (properties[name]) problems.push(...validate(properties[name], v, root, `${at}.${name}`));
      else if (schema.additionalProperties === false) fail(`unexpected property ${name}`);
      else if (typeof schema.additionalProperties === 'object') problems.push(...validate(schema.additionalProperties as Schema, v, root, `${at}.${name}`));
    }
  }
  if (schema.allOf !== undefined) for (const s of schema.allOf as Schema[]) problems.push(...validate(s, value, root, at));
  if (schema.anyOf !== undefined && !(schema.anyOf as Schema[]).some((s) => validate(s, value, root, at).length === 0)) fail('matches none of anyOf');
  if (schema.oneOf !== undefined && (schema.oneOf as Schema[]).filter((s) => validate(s, value, root, at).length === 0).length !== 1)
    fail('does not match exactly one of oneOf');
  return problems;
}
