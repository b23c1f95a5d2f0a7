/**
 * The Sieve runner: executes a compiled script against one message and
 * returns the actions (RFC 5228 §2.10). It does no I/O; what it must know
 * about the world it asks the context. Bounded: every command, test and
 * comparison costs a step from `maxSteps`, the wall time is capped by
 * `maxRunMs`, and the runner yields to the event loop every few hundred
 * steps. A run-time error ends the run with only the implicit keep
 * (RFC 5228 §2.10.6) and the error.
 *
 * Invariants: the message bytes are never changed (editheader works on a
 * header view); actions are checked for conflicts as they are added.
 */
import type { Position, SieveError } from './ast.js';
import { isSpecialUse } from './grammar.js';
import { ActionList, type SieveAction } from './actions.js';
import type { CompiledCommand, CompiledScript, CompiledTest, TagValue } from './compiled.js';
import { compileSieve } from './compile-script.js';
import type { SieveContext } from './context.js';
import { datePart, headerDate, parseZone } from './date-parts.js';
import type { SieveLimits } from './limits.js';
import { type ComparatorName, type Matcher, matchOne, relationHolds, compareValues, SieveRuntimeError } from './match.js';
import { type MailAddress, SieveMessage } from './message.js';
import { vacationBlocked } from './vacation.js';
import { applyModifiers, expandVariables } from './variables.js';

/** What a run decided: the actions, and the run-time errors that forced the implicit keep. */
export interface SieveRunResult {
  actions: SieveAction[];
  errors?: SieveError[];
}

/** Ends the current script (`return`) or the whole run (`stop`). */
class Halt {
  constructor(readonly all: boolean) {}
}

const YIELD_EVERY = 256;
const SYSTEM_FLAGS = new Map(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft'].map((f) => [f, `\\${f[1]?.toUpperCase()}${f.slice(2)}`]));
// RFC 5293 §9: these stay as the MTA wrote them
const PROTECTED_HEADERS = new Set(['received', 'auto-submitted']);
const DAY = 86_400;

/** Splits flag lists into single flags, deduplicated case-insensitively (RFC 5232 §3). */
function normalizeFlags(lists: readonly string[]): string[] {
  const out: string[] = [];
  for (const item of lists)
    for (const f of item.split(/\s+/)) {
      if (f === '') continue;
      const flag = SYSTEM_FLAGS.get(f.toLowerCase()) ?? f;
      if (!out.some((x) => x.toLowerCase() === flag.toLowerCase())) out.push(flag);
    }
  return out;
}

/** One script's scope: its compiled form and local variables (globals are shared, RFC 6609 §3.3). */
interface Scope {
  script: CompiledScript;
  vars: Map<string, string>;
  globals: Set<string>;
}

class Runner {
  private steps = 0;
  private readonly deadline: number;
  private readonly actions: ActionList;
  private readonly globals = new Map<string, string>();
  private readonly included = new Set<string>();
  /** The scripts being included right now, to refuse recursion (RFC 6609 §3.2). */
  private readonly includeStack: string[] = [];
  private matchValues: string[] = [];
  private includes = 0;
  private depth = 0;
  private variableCount = 0;

  constructor(
    private readonly msg: SieveMessage,
    private readonly ctx: SieveContext,
    private readonly limits: SieveLimits,
  ) {
    this.deadline = Date.now() + limits.maxRunMs;
    this.actions = new ActionList(limits.maxActions, limits.maxRedirects);
  }

  /** Counts a step's cost; a promise (to await) only when it is time to let the event loop run, so most steps cost no await. */
  private step(pos: Position, cost = 1): Promise<void> | undefined {
    this.steps += cost;
    if (this.steps > this.limits.maxSteps) throw new PositionedError(pos, `the script used more than ${this.limits.maxSteps} steps`);
    if (this.steps % YIELD_EVERY >= cost) return undefined;
    if (Date.now() > this.deadline) throw new PositionedError(pos, `the script ran longer than ${this.limits.maxRunMs} ms`);
    return new Promise<void>((r) => setImmediate(r));
  }

  async run(script: CompiledScript): Promise<SieveAction[]> {
    try {
      await this.block(script.commands, { script, vars: new Map(), globals: new Set() });
    } catch (e) {
      if (!(e instanceof Halt)) throw e;
    }
    const list = this.actions.list;
    if (this.actions.implicitKeep) list.push({ type: 'keep', implicit: true, flags: normalizeFlags([this.internalFlags]), ...this.edited() });
    return list;
  }

  private async block(cmds: readonly CompiledCommand[], scope: Scope): Promise<void> {
    for (const c of cmds) {
      const turn = this.step(c.pos);
      if (turn) await turn;
      if (c.kind === 'if') {
        let done = false;
        for (const b of c.branches) {
          if (await this.test(b.test, scope)) {
            await this.block(b.block, scope);
            done = true;
            break;
          }
        }
        if (!done && c.otherwise !== null) await this.block(c.otherwise, scope);
        continue;
      }
      try {
        await this.command(c, scope);
      } catch (e) {
        if (e instanceof SieveRuntimeError && !(e instanceof PositionedError)) throw new PositionedError(c.pos, e.message);
        throw e;
      }
    }
  }

  // ---- strings and variables

  private hasVars(scope: Scope): boolean {
    return scope.script.requires.has('variables');
  }

  private s(v: TagValue | string | string[] | number | undefined, scope: Scope): string {
    if (typeof v !== 'string') return '';
    if (!this.hasVars(scope)) return v;
    return expandVariables(v, { get: (n) => this.getVar(n, scope), match: (i) => this.matchValues[i] }, this.limits.maxVariableSize);
  }

  private list(v: TagValue | string | string[] | number | undefined, scope: Scope): string[] {
    if (v === undefined || v === true || typeof v === 'number') return [];
    return (Array.isArray(v) ? v : [v]).map((x) => this.s(x, scope));
  }

  private getVar(name: string, scope: Scope): string | undefined {
    const n = name.toLowerCase();
    return scope.globals.has(n) ? this.globals.get(n) : scope.vars.get(n);
  }

  private setVar(name: string, value: string, scope: Scope, pos: Position): void {
    const n = name.toLowerCase();
    const map = scope.globals.has(n) ? this.globals : scope.vars;
    if (!map.has(n) && ++this.variableCount > this.limits.maxVariables) throw new PositionedError(pos, `more than ${this.limits.maxVariables} variables`);
    // RFC 5229 §3: values longer than the implementation's limit are truncated
    map.set(n, value.length > this.limits.maxVariableSize ? value.slice(0, this.limits.maxVariableSize) : value);
  }

  /** The flags held by a variable (RFC 5232 §3: a space-separated list). */
  private variableFlags(scope: Scope, variable: string): string[] {
    return normalizeFlags([this.getVar(variable, scope) ?? '']);
  }

  /** RFC 5232 §3: the internal flags variable, shared by included scripts, used by keep/fileinto without :flags. */
  private internalFlags = '';

  private edited(): { header?: Buffer } {
    return this.msg.edited ? { header: this.msg.headerBytes() } : {};
  }

  // ---- commands

  private async command(c: CompiledCommand & { kind: 'simple' }, scope: Scope): Promise<void> {
    const t = c.tags;
    switch (c.name) {
      case 'stop':
        throw new Halt(true);
      case 'return':
        throw new Halt(false);
      case 'keep':
        this.actions.add({ type: 'keep', implicit: false, flags: this.actionFlags(t, scope), ...this.edited() });
        return;
      case 'discard':
        this.actions.add({ type: 'discard' });
        return;
      case 'fileinto': {
        const mailbox = this.s(c.args[0], scope);
        if (mailbox === '') throw new SieveRuntimeError('fileinto: empty mailbox name');
        // RFC 8579 §4
        const tag = t.get('specialuse');
        const specialUse = typeof tag === 'string' ? this.s(tag, scope) : undefined;
        if (specialUse !== undefined && !isSpecialUse(specialUse)) throw new SieveRuntimeError(`fileinto: invalid special-use attribute '${specialUse}'`);
        this.actions.add({
          type: 'fileinto',
          mailbox,
          flags: this.actionFlags(t, scope),
          copy: t.has('copy'),
          create: t.has('create'),
          ...(specialUse === undefined ? {} : { specialUse }),
          ...this.edited(),
        });
        return;
      }
      case 'redirect': {
        const address = this.s(c.args[0], scope)
          .trim()
          .replace(/^<(.*)>$/, '$1');
        if (!/^[^@\s]+@[^@\s]+$/.test(address)) throw new SieveRuntimeError(`redirect: invalid address '${address}'`);
        this.actions.add({ type: 'redirect', address, copy: t.has('copy'), ...this.edited() });
        return;
      }
      case 'reject':
      case 'ereject':
        this.actions.add({ type: 'reject', reason: this.s(c.args[0], scope), extended: c.name === 'ereject' });
        return;
      case 'setflag':
      case 'addflag':
      case 'removeflag':
        return this.flagCommand(c.name, c.args, scope, c.pos);
      case 'set':
        this.setVar(this.s(c.args[0], scope), applyModifiers(this.s(c.args[1], scope), t), scope, c.pos);
        return;
      case 'global':
        for (const n of c.args[0] as string[]) scope.globals.add(n.toLowerCase());
        return;
      case 'include':
        return this.include(c.args[0] as string, t, scope, c.pos);
      case 'vacation':
        return this.vacation(c.args[0] as string, t, scope);
      case 'addheader': {
        const name = this.s(c.args[0], scope);
        if (!SieveMessage.validFieldName(name)) throw new SieveRuntimeError(`addheader: invalid field name '${name}'`);
        if (PROTECTED_HEADERS.has(name.toLowerCase())) return;
        this.msg.addHeader(name, this.s(c.args[1], scope).replace(/\r?\n/g, ' '), t.has('last'));
        return;
      }
      case 'deleteheader':
        return this.deleteHeader(c.args, t, scope, c.pos);
      default:
        throw new SieveRuntimeError(`command '${c.name}' cannot run here`);
    }
  }

  private actionFlags(t: ReadonlyMap<string, TagValue>, scope: Scope): string[] {
    const f = t.get('flags');
    return normalizeFlags(f === undefined ? [this.internalFlags] : this.list(f, scope));
  }

  private flagCommand(name: string, args: ReadonlyArray<string | string[] | number>, scope: Scope, pos: Position): void {
    const variable = args.length === 2 ? this.s(args[0], scope) : undefined;
    const given = normalizeFlags(this.list(args[args.length - 1], scope));
    const current = variable === undefined ? normalizeFlags([this.internalFlags]) : this.variableFlags(scope, variable);
    let next: string[];
    if (name === 'setflag') next = given;
    else if (name === 'addflag') next = normalizeFlags([...current, ...given]);
    else next = current.filter((f) => !given.some((g) => g.toLowerCase() === f.toLowerCase()));
    const value = next.join(' ');
    if (variable === undefined) this.internalFlags = value;
    else this.setVar(variable, value, scope, pos);
  }

  private async include(name: string, t: ReadonlyMap<string, TagValue>, scope: Scope, pos: Position): Promise<void> {
    const location = t.has('global') ? 'global' : 'personal';
    const scriptName = this.s(name, scope);
    const key = `${location}:${scriptName}`;
    // RFC 6609 §3.2: :once skips a script already included, or one whose inclusion would be recursive
    if (t.has('once') && (this.included.has(key) || this.includeStack.includes(key))) return;
    if (this.includeStack.includes(key)) throw new PositionedError(pos, `include loop: '${scriptName}' includes itself (RFC 6609 §3.2)`);
    // RFC 6609 §3.2 (security): names that could reach outside the script storage are refused
    if (scriptName === '' || /[/\\\x00-\x1f]/.test(scriptName) || scriptName.startsWith('.'))
      throw new PositionedError(pos, `unsafe script name '${scriptName}'`);
    if (this.depth >= this.limits.maxIncludeDepth) throw new PositionedError(pos, `include nested deeper than ${this.limits.maxIncludeDepth}`);
    if (++this.includes > this.limits.maxIncludes) throw new PositionedError(pos, `more than ${this.limits.maxIncludes} includes`);
    if (this.ctx.includeScript === undefined) throw new PositionedError(pos, 'include is not available here');
    const text = await this.ctx.includeScript(scriptName, location);
    if (text === null) {
      if (t.has('optional')) return;
      throw new PositionedError(pos, `included script '${scriptName}' (${location}) does not exist`);
    }
    const compiled = compileSieve(text, this.limits);
    if (!compiled.ok) {
      const e = compiled.errors[0];
      throw new PositionedError(pos, `included script '${scriptName}' is invalid: line ${e?.line}, column ${e?.column}: ${e?.message}`);
    }
    this.included.add(key);
    this.depth++;
    this.includeStack.push(key);
    try {
      await this.block(compiled.script.commands, { script: compiled.script, vars: new Map(), globals: new Set() });
    } catch (e) {
      if (!(e instanceof Halt) || e.all) throw e;
    } finally {
      this.depth--;
      this.includeStack.pop();
    }
  }

  private async vacation(reason: string, t: ReadonlyMap<string, TagValue>, scope: Scope): Promise<void> {
    const period = this.ctx.vacationPeriod ?? { default: 7 * DAY, min: DAY, max: 60 * DAY };
    const days = t.get('days');
    const secs = t.get('seconds');
    const asked = typeof secs === 'number' ? secs : typeof days === 'number' ? days * DAY : period.default;
    const seconds = Math.min(period.max, Math.max(period.min, asked));
    const subjectTag = t.get('subject');
    const fromTag = t.get('from');
    const text = this.s(reason, scope);
    const subject = subjectTag === undefined ? `Auto: ${this.msg.values('subject')[0] ?? ''}` : this.s(subjectTag, scope);
    const from = fromTag === undefined ? null : this.s(fromTag, scope);
    const handleTag = t.get('handle');
    // RFC 5230 §4.2: without :handle the reply's content identifies it
    const handle =
      handleTag === undefined ? `${text}\0${subjectTag === undefined ? '' : subject}\0${from ?? ''}\0${t.has('mime') ? 'mime' : ''}` : this.s(handleTag, scope);
    const sender = this.ctx.envelope.from;
    const own = [...this.ctx.userAddresses, this.ctx.envelope.to, ...this.list(t.get('addresses'), scope)].filter((a) => a !== '');
    let skipped = vacationBlocked(this.msg, sender, own, this.limits.maxStringList);
    if (skipped === null && (await this.ctx.vacationAlreadySent(sender, handle, seconds))) skipped = `a reply was sent to ${sender} within ${seconds} seconds`;
    this.actions.add({
      type: 'vacation',
      respond: skipped === null,
      ...(skipped === null ? {} : { skipped }),
      to: sender,
      from,
      subject,
      reason: text,
      mime: t.has('mime'),
      handle,
      seconds,
    });
  }

  private async deleteHeader(args: ReadonlyArray<string | string[] | number>, t: ReadonlyMap<string, TagValue>, scope: Scope, pos: Position): Promise<void> {
    const name = this.s(args[0], scope);
    if (PROTECTED_HEADERS.has(name.toLowerCase())) return;
    const keys = args.length === 2 ? this.list(args[1], scope) : null;
    const matcher = this.matcher(t);
    const index = t.get('index');
    const last = t.has('last');
    const decisions: boolean[] = [];
    // the predicate runs synchronously inside deleteHeader; matching is charged afterwards
    this.msg.deleteHeader(name, (occurrence, count, value) => {
      const at = last ? count - occurrence + 1 : occurrence;
      const ok = (typeof index !== 'number' || index === at) && (keys === null || keys.some((k) => matchOne(matcher, value, k, this.limits) !== null));
      decisions.push(ok);
      return ok;
    });
    const turn = this.step(pos, decisions.length);
    if (turn) await turn;
  }

  // ---- tests

  private matcher(t: ReadonlyMap<string, TagValue>): Matcher {
    const type = (['is', 'contains', 'matches', 'regex', 'value', 'count'] as const).find((m) => t.has(m)) ?? 'is';
    const rel = t.get('value') ?? t.get('count');
    const comparator = t.get('comparator');
    return {
      comparator: (typeof comparator === 'string' ? comparator : 'i;ascii-casemap') as ComparatorName,
      type,
      relation: typeof rel === 'string' ? rel.toLowerCase() : 'eq',
    };
  }

  /** Compares values against keys with the test's matcher (RFC 5228 §2.7.1), setting match variables on success. */
  private async compare(values: readonly string[], keys: readonly string[], m: Matcher, pos: Position): Promise<boolean> {
    if (m.type === 'count') {
      // RFC 5231 §4.2: the number of values, compared with each key
      const n = String(values.length);
      return keys.some((k) => relationHolds(m.relation, compareValues(m.comparator, n, k)));
    }
    for (const v of values)
      for (const k of keys) {
        const turn = this.step(pos, 1 + Math.floor((v.length + k.length) / 1024));
        if (turn) await turn;
        const hit = matchOne(m, v, k, this.limits);
        if (hit !== null) {
          // RFC 5229 §3.2: only a successful :matches / :regex test sets the match variables
          if (hit.groups !== undefined) this.matchValues = hit.groups.slice(0, 10);
          return true;
        }
      }
    return false;
  }

  /**
   * A test; a message-pure one with constant arguments is evaluated once per message for the runs
   * that share its node (the recipients of one delivery with the same script), and a run that reads
   * the outcome is left as evaluating would leave it: the same steps charged, the same match variables.
   */
  private async test(t: CompiledTest, scope: Scope): Promise<boolean> {
    const turn = this.step(t.pos);
    if (turn) await turn;
    // included scripts are compiled at every run: their nodes are never shared
    const outcomes = this.depth === 0 && messagePure(t, scope.script) ? this.msg.sharedOutcomes() : null;
    if (outcomes === null) return this.evaluate(t, scope);
    const known = outcomes.get(t);
    if (known !== undefined) {
      const charge = this.step(t.pos, known.steps);
      if (charge) await charge;
      if (known.groups !== undefined) this.matchValues = known.groups;
      return known.result;
    }
    const steps = this.steps;
    const groups = this.matchValues;
    // a SieveRuntimeError passes through: errors are not kept
    const result = await this.evaluate(t, scope);
    outcomes.set(t, { result, steps: this.steps - steps, ...(this.matchValues === groups ? {} : { groups: this.matchValues }) });
    return result;
  }

  private async evaluate(t: CompiledTest, scope: Scope): Promise<boolean> {
    const tags = t.tags;
    const m = this.matcher(tags);
    const keys = (): string[] => this.list(t.args[t.args.length - 1], scope);
    switch (t.name) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !(await this.test(t.tests[0] as CompiledTest, scope));
      case 'allof':
        for (const x of t.tests) if (!(await this.test(x, scope))) return false;
        return true;
      case 'anyof':
        for (const x of t.tests) if (await this.test(x, scope)) return true;
        return false;
      case 'exists':
        return this.list(t.args[0], scope).every((h) => this.msg.rawValues(h).length > 0);
      case 'size': {
        const limit = t.args[0] as number;
        return tags.has('over') ? this.msg.size > limit : this.msg.size < limit;
      }
      case 'header': {
        // :count needs only how many fields there are, not their decoded text
        if (m.type === 'count')
          return this.compare(
            this.list(t.args[0], scope).flatMap((h) => this.pick(this.msg.rawValues(h), tags).map(() => '')),
            keys(),
            m,
            t.pos,
          );
        const values = this.list(t.args[0], scope).flatMap((h) => this.pick(this.msg.values(h), tags));
        return this.compare(values, keys(), m, t.pos);
      }
      case 'address': {
        const addrs = this.list(t.args[0], scope).flatMap((h) => this.pick(this.msg.fieldAddresses(h, this.limits.maxStringList), tags).flat());
        return this.compare(this.addressParts(addrs, tags), keys(), m, t.pos);
      }
      case 'envelope': {
        const values: string[] = [];
        for (const part of this.list(t.args[0], scope)) {
          const p = part.toLowerCase();
          const a = p === 'from' ? this.ctx.envelope.from : p === 'to' ? this.ctx.envelope.to : null;
          if (a === null) continue;
          // RFC 5228 §5.4: the null reverse-path compares as "" for every address part
          if (a === '') values.push('');
          else values.push(...this.addressParts([splitAddress(a)], tags));
        }
        return this.compare(values, keys(), m, t.pos);
      }
      case 'body': {
        const content = tags.get('content');
        const values = tags.has('raw') ? [this.msg.rawBody()] : content !== undefined ? this.msg.contentParts(this.list(content, scope)) : this.msg.textParts();
        return this.compare(values, keys(), m, t.pos);
      }
      case 'string': {
        // RFC 5229 §5: empty strings count as no value for :count
        const values = this.list(t.args[0], scope);
        return this.compare(m.type === 'count' ? values.filter((v) => v !== '') : values, keys(), m, t.pos);
      }
      case 'date': {
        const part = this.s(t.args[1], scope);
        const values: string[] = [];
        for (const v of this.pick(this.msg.values(this.s(t.args[0], scope)), tags)) {
          const d = headerDate(v);
          if (d === null) continue;
          const zone = tags.has('originalzone') ? d.zone : this.zone(tags.get('zone'), scope);
          const p = datePart(d.instant, zone, part);
          if (p !== null) values.push(p);
        }
        return this.compare(values, keys(), m, t.pos);
      }
      case 'currentdate': {
        const now = (this.ctx.now ?? new Date()).getTime();
        const p = datePart(now, this.zone(tags.get('zone'), scope), this.s(t.args[0], scope));
        return this.compare(p === null ? [] : [p], keys(), m, t.pos);
      }
      case 'mailboxexists':
        for (const name of this.list(t.args[0], scope)) if (!(await this.ctx.mailboxExists(name))) return false;
        return true;
      case 'metadata':
      case 'servermetadata': {
        const mailbox = await this.annotated(t.name === 'metadata' ? this.s(t.args[0], scope) : null, t.name);
        const value = (await this.ctx.metadata?.(mailbox, this.s(t.args[t.args.length - 2], scope))) ?? null;
        // RFC 5490 §3.3: true if the annotation exists and its value matches any key
        return this.compare(value === null ? [] : [value], keys(), m, t.pos);
      }
      case 'metadataexists':
      case 'servermetadataexists': {
        const mailbox = await this.annotated(t.name === 'metadataexists' ? this.s(t.args[0], scope) : null, t.name);
        for (const entry of keys()) if (((await this.ctx.metadata?.(mailbox, entry)) ?? null) === null) return false;
        return true;
      }
      case 'specialuse_exists': {
        const attributes = keys();
        const bad = attributes.find((a) => !isSpecialUse(a));
        if (bad !== undefined) throw new SieveRuntimeError(`specialuse_exists: invalid special-use attribute '${bad}'`);
        const mailbox = t.args.length === 2 ? this.s(t.args[0], scope) : null;
        return (await this.ctx.specialUseExists?.(mailbox, attributes)) ?? false;
      }
      case 'hasflag': {
        const values = t.args.length === 2 ? this.list(t.args[0], scope).flatMap((v) => this.variableFlags(scope, v)) : normalizeFlags([this.internalFlags]);
        return this.compare(values, keys(), m, t.pos);
      }
      case 'duplicate':
        return this.duplicate(tags, scope);
      case 'spamtest':
      case 'virustest':
        return this.compare([this.score(t.name, tags.has('percent'))], keys(), m, t.pos);
      case 'environment': {
        const v = this.environment(this.s(t.args[0], scope));
        return this.compare(v === null ? [] : [v], keys(), m, t.pos);
      }
      default:
        throw new SieveRuntimeError(`test '${t.name}' cannot run here`);
    }
  }

  /** The mailbox whose annotations a test reads (null: the server's); one that does not exist is an error, as in Pigeonhole. */
  private async annotated(mailbox: string | null, test: string): Promise<string | null> {
    if (mailbox !== null && !(await this.ctx.mailboxExists(mailbox))) throw new SieveRuntimeError(`${test}: mailbox '${mailbox}' does not exist`);
    return mailbox;
  }

  /** RFC 5260 §6 :index/:last: one occurrence of the field, counted from the top or the bottom. */
  private pick<T>(values: T[], tags: ReadonlyMap<string, TagValue>): T[] {
    const index = tags.get('index');
    if (typeof index !== 'number') return values;
    const v = tags.has('last') ? values[values.length - index] : values[index - 1];
    return v === undefined ? [] : [v];
  }

  private zone(z: TagValue | undefined, scope: Scope): number {
    if (typeof z === 'string') {
      const parsed = parseZone(this.s(z, scope));
      if (parsed !== null) return parsed;
    }
    return this.ctx.zoneMinutes ?? -new Date().getTimezoneOffset();
  }

  private addressParts(addrs: readonly MailAddress[], tags: ReadonlyMap<string, TagValue>): string[] {
    const out: string[] = [];
    for (const a of addrs) {
      // RFC 5228 §2.7.4: an invalid address is not matched by :localpart or :domain (nor by :user or :detail)
      if (!a.valid) {
        if (!['localpart', 'domain', 'user', 'detail'].some((p) => tags.has(p))) out.push(a.local);
        continue;
      }
      if (tags.has('localpart')) out.push(a.local);
      else if (tags.has('domain')) out.push(a.domain);
      else if (tags.has('user') || tags.has('detail')) {
        // RFC 5233 §4: "+" separates user and detail; without it :detail has no value
        const plus = a.local.indexOf('+');
        if (tags.has('user')) out.push(plus < 0 ? a.local : a.local.slice(0, plus));
        else if (plus >= 0) out.push(a.local.slice(plus + 1));
      } else out.push(a.domain === '' ? a.local : `${a.local}@${a.domain}`);
    }
    return out;
  }

  private async duplicate(tags: ReadonlyMap<string, TagValue>, scope: Scope): Promise<boolean> {
    const header = tags.get('header');
    const unique = tags.get('uniqueid');
    // RFC 7352 §3: the Message-ID by default, else the named header's value or the given unique id
    const id = unique !== undefined ? this.s(unique, scope) : this.msg.values(header === undefined ? 'message-id' : this.s(header, scope))[0];
    if (id === undefined || id === '') return false;
    const handle = this.s(tags.get('handle') ?? '', scope);
    const secs = tags.get('seconds');
    const seconds = Math.min(typeof secs === 'number' ? secs : 7 * DAY, 60 * DAY);
    const seen = await this.ctx.duplicateSeen(id, handle, seconds);
    // RFC 7352 §3.1: :last refreshes the record on every message; without it only unseen ids are recorded
    if (!seen || tags.has('last')) this.actions.add({ type: 'track-duplicate', id, handle, seconds });
    return seen;
  }

  /** RFC 5235 §3: "0" untested, spamtest 1–10 (or 0–100 with :percent), virustest 1–5, from the configured headers. */
  private score(test: string, percent: boolean): string {
    if (test === 'virustest') {
      const h = this.ctx.scores?.virus;
      const v = h === undefined ? undefined : this.msg.values(h.header)[0];
      const d = v === undefined ? null : /[0-5]/.exec(v);
      return d === null ? '0' : String(Number(d[0]));
    }
    const h = this.ctx.scores?.spam;
    const v = h === undefined ? undefined : this.msg.values(h.header)[0];
    const n = v === undefined ? null : /-?\d+(\.\d+)?/.exec(v);
    if (h === undefined || n === null || h.max <= 0) return '0';
    const ratio = Math.min(1, Math.max(0, Number(n[0]) / h.max));
    return percent ? String(Math.trunc(ratio * 100)) : String(Math.trunc(ratio * 9) + 1);
  }

  private environment(name: string): string | null {
    const n = name.toLowerCase();
    const given = this.ctx.environment?.[n];
    if (given !== undefined) return given;
    // RFC 5183 §4: the items every implementation knows
    if (n === 'name') return 'mailkeep';
    if (n === 'phase') return 'during';
    if (n === 'location') return 'MS';
    return null;
  }
}

/** Tests whose outcome depends on the message alone (RFC 5228 §5, RFC 5173, RFC 5260 §4), given constant arguments. */
const MESSAGE_TESTS = new Set(['header', 'address', 'exists', 'body', 'size', 'date']);
const pureTests = new WeakMap<CompiledTest, boolean>();

/**
 * Whether a test's outcome depends only on the message: one of MESSAGE_TESTS with no argument that a
 * run expands (RFC 5229 §3: under "variables" a string with "${" may differ per run), and a date test
 * only with :originalzone or a valid :zone (else the zone is the context's). A node belongs to one script.
 */
function messagePure(t: CompiledTest, script: CompiledScript): boolean {
  let pure = pureTests.get(t);
  if (pure === undefined) {
    const strings = [...t.args, ...t.tags.values()].flat().filter((v): v is string => typeof v === 'string');
    const zone = t.tags.get('zone');
    pure =
      MESSAGE_TESTS.has(t.name) &&
      !(script.requires.has('variables') && strings.some((v) => v.includes('${'))) &&
      (t.name !== 'date' || t.tags.has('originalzone') || (typeof zone === 'string' && parseZone(zone) !== null));
    pureTests.set(t, pure);
  }
  return pure;
}

/** A run-time error at a known place in the script. */
class PositionedError extends SieveRuntimeError {
  constructor(
    readonly pos: Position,
    message: string,
  ) {
    super(message);
  }
}

function splitAddress(a: string): MailAddress {
  const at = a.lastIndexOf('@');
  return at < 0 ? { local: a, domain: '', valid: true } : { local: a.slice(0, at), domain: a.slice(at + 1), valid: true };
}

/** Runs a compiled script on a message; never throws for script faults (they become implicit keep plus errors). */
export async function runCompiled(script: CompiledScript, message: Buffer, ctx: SieveContext, limits: SieveLimits): Promise<SieveRunResult> {
  const msg = new SieveMessage(message, limits, ctx.parts);
  const runner = new Runner(msg, ctx, limits);
  try {
    return { actions: await runner.run(script) };
  } catch (e) {
    if (!(e instanceof SieveRuntimeError)) throw e;
    const pos = e instanceof PositionedError ? e.pos : { line: 0, column: 0 };
    // RFC 5228 §2.10.6: a run-time error means the implicit keep, and nothing else
    return { actions: [{ type: 'keep', implicit: true, flags: [] }], errors: [{ ...pos, message: e.message }] };
  }
}
