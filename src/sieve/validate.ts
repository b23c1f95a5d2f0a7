/**
 * Validation and compilation of a parsed script against its `require`d
 * capabilities: unknown capabilities, commands, tests and tags; tag
 * conflicts and parameters; positional signatures; comparator, relation and
 * date-part names; regex and variable-name syntax (RFC 5228 §2.6, §3.2, §8.3).
 * Every error carries the position of the node it is about.
 */
import type { Argument, CommandNode, Position, SieveError, TestNode } from './ast.js';
import type { CompiledCommand, CompiledScript, CompiledTest, TagValue } from './compiled.js';
import { decodeEncodedCharacters } from './encoded-character.js';
import { type ArgType, COMMANDS, COMPARATORS, DATE_PARTS, EXTENSIONS, IMPLIED, isSpecialUse, RELATIONS, type Spec, TESTS } from './grammar.js';
import type { SieveLimits } from './limits.js';
import { compileRegex } from './regex.js';
import { isVariableName } from './variables.js';

// RFC 5228 §5.1: the address test only applies to headers that hold addresses
const ADDRESS_HEADERS = new Set([
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-bcc',
  'return-path',
  'errors-to',
  'delivered-to',
  'envelope-to',
  'disposition-notification-to',
  'x-original-to',
]);

class Invalid extends Error {
  constructor(
    readonly pos: Position,
    message: string,
  ) {
    super(message);
  }
}

interface Node {
  name: string;
  args: Argument[];
  pos: Position;
}

/** Validates parsed commands and builds the compiled script, or lists the errors found. */
export function compileCommands(commands: CommandNode[], limits: SieveLimits): { ok: true; script: CompiledScript } | { ok: false; errors: SieveError[] } {
  const v = new Validator(limits);
  try {
    const compiled = v.block(commands, true);
    return { ok: true, script: { requires: v.requires, commands: compiled } };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, errors: [{ ...e.pos, message: e.message }] };
    throw e;
  }
}

class Validator {
  readonly requires = new Set<string>();
  private requiresClosed = false;

  constructor(private readonly limits: SieveLimits) {}

  private has(ext: string): boolean {
    return this.requires.has(ext);
  }

  private need(ext: string | undefined, pos: Position, what: string): void {
    if (ext !== undefined && !this.has(ext)) throw new Invalid(pos, `${what} requires the "${ext}" extension (add require "${ext}")`);
  }

  private str(s: string): string {
    return this.has('encoded-character') ? decodeEncodedCharacters(s) : s;
  }

  block(nodes: CommandNode[], top: boolean): CompiledCommand[] {
    const out: CompiledCommand[] = [];
    for (const n of nodes) {
      if (n.name === 'require') {
        // RFC 5228 §3.2: require must come before any other command
        if (!top || this.requiresClosed) throw new Invalid(n.pos, 'require must come before any other command');
        this.require(n);
        continue;
      }
      this.requiresClosed = true;
      if (n.name === 'elsif' || n.name === 'else') {
        const last = out[out.length - 1];
        if (last === undefined || last.kind !== 'if' || last.otherwise !== null) throw new Invalid(n.pos, `${n.name} without a preceding if`);
        this.signature(n, COMMANDS[n.name] as Spec, 'command');
        const block = this.block(n.block ?? [], false);
        if (n.name === 'else') last.otherwise = block;
        else last.branches.push({ test: this.test(n.tests[0] as TestNode), block });
        continue;
      }
      const spec = COMMANDS[n.name];
      if (spec === undefined) throw new Invalid(n.pos, `unknown command '${n.name}'`);
      this.need(spec.ext, n.pos, `command '${n.name}'`);
      if (n.name === 'global') this.need('variables', n.pos, "command 'global'");
      const { tags, args } = this.signature(n, spec, 'command');
      if (n.name === 'if') {
        out.push({ kind: 'if', branches: [{ test: this.test(n.tests[0] as TestNode), block: this.block(n.block ?? [], false) }], otherwise: null, pos: n.pos });
        continue;
      }
      const node = { kind: 'simple' as const, name: n.name, tags, args, pos: n.pos };
      this.checkCommand(node);
      out.push(node);
    }
    return out;
  }

  private require(n: CommandNode): void {
    this.signature(n, COMMANDS.require as Spec, 'command');
    const arg = n.args[0] as Argument;
    const names = arg.kind === 'list' ? arg.values : arg.kind === 'string' ? [arg.value] : [];
    for (const name of names) {
      if (!EXTENSIONS.has(name)) throw new Invalid(arg.pos, `unknown Sieve capability '${name}'`);
      this.requires.add(name);
      for (const implied of IMPLIED[name] ?? []) this.requires.add(implied);
    }
  }

  private test(t: TestNode): CompiledTest {
    const spec = TESTS[t.name];
    if (spec === undefined) throw new Invalid(t.pos, `unknown test '${t.name}'`);
    this.need(spec.ext, t.pos, `test '${t.name}'`);
    const { tags, args } = this.signature(t, spec, 'test');
    const node: CompiledTest = { name: t.name, tags, args, pos: t.pos, tests: t.tests.map((x) => this.test(x)) };
    this.checkTest(node);
    return node;
  }

  /** Checks tags and positional arguments against the spec; returns them typed. */
  private signature(
    n: Node & { tests: TestNode[]; block?: CommandNode[] | null },
    spec: Spec,
    kind: 'command' | 'test',
  ): { tags: Map<string, TagValue>; args: Array<string | string[] | number> } {
    const tags = new Map<string, TagValue>();
    const groups = new Map<string, string>();
    const positional: Argument[] = [];
    for (let i = 0; i < n.args.length; i++) {
      const a = n.args[i] as Argument;
      if (a.kind !== 'tag') {
        positional.push(a);
        continue;
      }
      if (positional.length > 0) throw new Invalid(a.pos, `tag ':${a.name}' after positional arguments of ${kind} '${n.name}'`);
      const ts = spec.tags[a.name];
      if (ts === undefined) throw new Invalid(a.pos, `unknown tag ':${a.name}' for ${kind} '${n.name}'`);
      this.need(ts.ext, a.pos, `tag ':${a.name}'`);
      if (tags.has(a.name)) throw new Invalid(a.pos, `tag ':${a.name}' given twice`);
      if (ts.group !== undefined) {
        const other = groups.get(ts.group);
        if (other !== undefined) throw new Invalid(a.pos, `tag ':${a.name}' conflicts with ':${other}'`);
        groups.set(ts.group, a.name);
      }
      if (ts.param === undefined) tags.set(a.name, true);
      else {
        const p = n.args[++i];
        if (p === undefined || p.kind === 'tag') throw new Invalid(a.pos, `tag ':${a.name}' needs a ${ts.param} parameter`);
        tags.set(a.name, this.value(p, ts.param, `parameter of ':${a.name}'`));
      }
    }
    const sig = spec.sigs.find((s) => s.length === positional.length);
    if (sig === undefined) {
      const counts = spec.sigs.map((s) => s.length).join(' or ');
      throw new Invalid(n.pos, `${kind} '${n.name}' takes ${counts} positional argument(s), not ${positional.length}`);
    }
    const args = positional.map((a, i) => this.value(a, sig[i] as ArgType, `argument ${i + 1} of ${kind} '${n.name}'`));
    if (spec.tests === 'one' && n.tests.length !== 1) throw new Invalid(n.pos, `${kind} '${n.name}' needs exactly one test`);
    if (spec.tests === 'list' && n.tests.length === 0) throw new Invalid(n.pos, `${kind} '${n.name}' needs a test list`);
    if (spec.tests === undefined && n.tests.length > 0)
      throw new Invalid(n.pos, `${kind} '${n.name}' takes no test${kind === 'command' ? " (missing ';'?)" : ''}`);
    if (kind === 'command') {
      if (spec.block === true && n.block === null) throw new Invalid(n.pos, `command '${n.name}' needs a block`);
      if (spec.block !== true && n.block !== null && n.block !== undefined) throw new Invalid(n.pos, `command '${n.name}' takes no block`);
    }
    return { tags, args };
  }

  private value(a: Argument, type: ArgType, what: string): string | string[] | number {
    if (type === 'number') {
      if (a.kind !== 'number') throw new Invalid(a.pos, `${what} must be a number`);
      return a.value;
    }
    if (type === 'string') {
      if (a.kind !== 'string') throw new Invalid(a.pos, `${what} must be a string`);
      return this.str(a.value);
    }
    if (a.kind === 'string') return [this.str(a.value)];
    if (a.kind === 'list') return a.values.map((s) => this.str(s));
    throw new Invalid(a.pos, `${what} must be a string list`);
  }

  /** Is this string fixed at compile time (no variable references when variables are on)? */
  private constant(s: string): boolean {
    return !this.has('variables') || !s.includes('${');
  }

  private checkMatching(t: { name: string; tags: ReadonlyMap<string, TagValue>; pos: Position }, keys: readonly string[]): void {
    const comparator = t.tags.get('comparator');
    if (typeof comparator === 'string') {
      if (!(comparator in COMPARATORS)) throw new Invalid(t.pos, `unknown comparator '${comparator}'`);
      const ext = COMPARATORS[comparator];
      if (ext !== null && ext !== undefined) this.need(ext, t.pos, `comparator '${comparator}'`);
      // RFC 4790 §9.1: i;ascii-numeric has no substring operation
      if (comparator === 'i;ascii-numeric' && (t.tags.has('contains') || t.tags.has('matches') || t.tags.has('regex')))
        throw new Invalid(t.pos, `comparator '${comparator}' does not support substring matching`);
    }
    for (const rel of ['value', 'count']) {
      const op = t.tags.get(rel);
      if (typeof op === 'string' && !RELATIONS.has(op.toLowerCase()))
        throw new Invalid(t.pos, `unknown relational operator '${op}' (use gt, ge, lt, le, eq or ne)`);
    }
    if (t.tags.has('regex')) {
      for (const k of keys) {
        if (!this.constant(k)) continue;
        const r = compileRegex(k, comparator === 'i;octet', this.limits);
        if (typeof r === 'string') throw new Invalid(t.pos, `invalid regex "${k}": ${r}`);
      }
    }
    // RFC 5260 §6 (duplicate's own :last is RFC 7352 §3.1)
    if (t.name !== 'duplicate' && t.tags.has('last') && !t.tags.has('index')) throw new Invalid(t.pos, "tag ':last' needs ':index'");
  }

  private checkCommand(c: { name: string; tags: ReadonlyMap<string, TagValue>; args: ReadonlyArray<string | string[] | number>; pos: Position }): void {
    switch (c.name) {
      case 'set': {
        const name = c.args[0] as string;
        if (!isVariableName(name)) throw new Invalid(c.pos, `invalid variable name '${name}'`);
        break;
      }
      case 'setflag':
      case 'addflag':
      case 'removeflag':
        if (c.args.length === 2 && !isVariableName(c.args[0] as string)) throw new Invalid(c.pos, `invalid variable name '${c.args[0]}'`);
        break;
      case 'global':
        for (const n of c.args[0] as string[]) if (!isVariableName(n)) throw new Invalid(c.pos, `invalid variable name '${n}'`);
        break;
      case 'deleteheader':
        this.checkMatching(c, (c.args[1] as string[] | undefined) ?? []);
        break;
      case 'fileinto': {
        const attr = c.tags.get('specialuse');
        if (typeof attr === 'string' && this.constant(attr) && !isSpecialUse(attr))
          throw new Invalid(c.pos, `fileinto: invalid special-use attribute '${attr}'`);
        break;
      }
      case 'redirect': {
        const a = c.args[0] as string;
        if (this.constant(a) && !/^[^@\s]+@[^@\s]+$/.test(a.trim().replace(/^<|>$/g, ''))) throw new Invalid(c.pos, `redirect: invalid address '${a}'`);
        break;
      }
    }
  }

  private checkTest(t: CompiledTest): void {
    const keys = t.args[t.args.length - 1];
    this.checkMatching(t, Array.isArray(keys) ? keys : []);
    if (t.name === 'address') {
      for (const h of t.args[0] as string[])
        if (this.constant(h) && !ADDRESS_HEADERS.has(h.toLowerCase())) throw new Invalid(t.pos, `address test: header '${h}' holds no addresses`);
    }
    if (t.name === 'envelope') {
      for (const p of t.args[0] as string[])
        if (this.constant(p) && !['from', 'to'].includes(p.toLowerCase())) throw new Invalid(t.pos, `envelope test: unknown envelope part '${p}'`);
    }
    if (t.name === 'specialuse_exists') {
      for (const a of keys as string[])
        if (this.constant(a) && !isSpecialUse(a)) throw new Invalid(t.pos, `specialuse_exists: invalid special-use attribute '${a}'`);
    }
    const part = t.name === 'date' ? t.args[1] : t.name === 'currentdate' ? t.args[0] : undefined;
    if (typeof part === 'string' && this.constant(part) && !DATE_PARTS.has(part.toLowerCase())) throw new Invalid(t.pos, `unknown date part '${part}'`);
  }
}
