/**
 * THREAD algorithms (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES, over the
 * facts of the searched messages (message-facts.ts).
 *
 * Invariants:
 * - Nothing here recurses: threads may be as deep as the mailbox is large, so
 *   every walk of the tree uses an explicit stack.
 * - REFERENCES' loop check ("is A a descendant of B?") is a find-root with
 *   path compression, not a walk to the root per link; shortcuts are dropped
 *   all at once (an epoch counter) whenever a link is broken. So threading
 *   stays near-linear however the References fields are crafted.
 * - Ties in dates fall back to the mailbox order (RFC 5256 §2.2).
 */
import { compareKeys } from '../mime/collation.js';
import { sentDate, type MessageFacts } from './message-facts.js';

/** A THREAD result node: a message (its view index) with its children, or a dummy (index null) holding siblings. */
export interface ThreadNode {
  readonly index: number | null;
  readonly children: readonly ThreadNode[];
}

/** The searched messages: view indices ascending, with their facts aligned. */
export interface ThreadInput {
  indices: readonly number[];
  facts: readonly MessageFacts[];
}

/** A message or dummy during threading; `pos` indexes the input (-1 for a dummy). */
class Container implements ThreadNode {
  parent: Container | null = null;
  children: Container[] = [];
  /** Path-compression shortcut to an ancestor, valid only while upEpoch is the current epoch. */
  up: Container | null = null;
  upEpoch = -1;

  constructor(
    /** Mutable: a dummy becomes a message when the message with its ID turns up. */
    public pos: number,
    public index: number | null,
  ) {}

  get dummy(): boolean {
    return this.pos < 0;
  }
}

/** Orders messages by sent date, then mailbox order; a dummy by its first child (RFC 5256 §3 REFERENCES (4), (6)). */
function dateOrder(input: ThreadInput): (a: Container, b: Container) => number {
  const dates = input.facts.map(sentDate);
  const lead = (c: Container): number => {
    let n = c;
    while (n.dummy && n.children.length > 0) n = n.children[0]!;
    return n.pos;
  };
  return (a, b) => {
    const pa = lead(a);
    const pb = lead(b);
    return (dates[pa] ?? 0) - (dates[pb] ?? 0) || pa - pb;
  };
}

/** Nodes below `roots` in post-order (children before parents), without recursion. */
function postOrder(roots: readonly Container[]): Container[] {
  const out: Container[] = [];
  const stack: Array<[Container, number]> = roots.map((r): [Container, number] => [r, 0]).reverse();
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [node, next] = top;
    if (next < node.children.length) {
      top[1] = next + 1;
      stack.push([node.children[next]!, 0]);
    } else {
      stack.pop();
      out.push(node);
    }
  }
  return out;
}

/** ORDEREDSUBJECT (RFC 5256 §3): threads of equal base subject, first message the parent of the rest, by date. */
export function threadOrderedSubject(input: ThreadInput): ThreadNode[] {
  const { indices, facts } = input;
  const subject = (p: number): string => facts[p]?.content?.subject ?? '';
  const dates = facts.map(sentDate);
  const order = indices.map((_, p) => p);
  order.sort((a, b) => compareKeys(subject(a), subject(b)) || dates[a]! - dates[b]! || a - b);
  const threads: Container[] = [];
  for (const p of order) {
    const head = threads[threads.length - 1];
    const node = new Container(p, indices[p]!);
    if (head !== undefined && subject(head.pos) === subject(p)) head.children.push(node);
    else threads.push(node);
  }
  threads.sort((a, b) => dates[a.pos]! - dates[b.pos]! || a.pos - b.pos);
  return threads;
}

/** REFERENCES (RFC 5256 §3): threads from Message-ID / References links, then joined by base subject. */
export function threadReferences(input: ThreadInput): ThreadNode[] {
  const linker = new Linker(input);
  const roots = pruneDummies(linker.rootSet());
  const byDate = dateOrder(input);
  // (4) Top-level siblings by date; a dummy by its earliest child.
  for (const r of roots) if (r.dummy) r.children.sort(byDate);
  roots.sort(byDate);
  const merged = groupBySubject(roots, input);
  // (6) Every set of siblings by date, the deepest first, so a dummy's first child is known when it is compared.
  for (const node of postOrder(merged)) node.children.sort(byDate);
  merged.sort(byDate);
  return merged;
}

/** Step (1): the parent/child links of the references, and step (2): the root set. */
class Linker {
  private readonly byId = new Map<string, Container>();
  private readonly all: Container[] = [];
  private epoch = 0;

  constructor(input: ThreadInput) {
    input.indices.forEach((index, pos) => {
      const content = input.facts[pos]?.content ?? null;
      const self = this.messageContainer(pos, index, content?.messageId ?? null);
      const refs = (content?.references ?? []).map((id) => this.idContainer(id));
      // (1)(A) Each reference is the parent of the next, unless a parent is already known or it would make a loop.
      for (let k = 0; k + 1 < refs.length; k++) {
        const parent = refs[k]!;
        const child = refs[k + 1]!;
        if (child.parent === null && this.rootOf(parent) !== child) this.link(parent, child);
      }
      // (1)(B) The last reference is the message's parent; it overrides a parent guessed from others' references.
      const parent = refs.length > 0 ? refs[refs.length - 1]! : null;
      if (self.parent !== parent) {
        if (self.parent !== null) this.unlink(self);
        if (parent !== null && this.rootOf(parent) !== self) this.link(parent, self);
      }
    });
  }

  /** The container of a message: its Message-ID's (filling a dummy), or a new one for a missing or duplicate ID. */
  private messageContainer(pos: number, index: number, id: string | null): Container {
    const known = id === null ? undefined : this.byId.get(id);
    if (known?.dummy) {
      known.pos = pos;
      known.index = index;
      return known;
    }
    const c = this.create(pos, index);
    // The first message (lowest sequence number) keeps a duplicated ID; later ones get a unique, unnamed one.
    if (id !== null && known === undefined) this.byId.set(id, c);
    return c;
  }

  /** The container for a referenced ID, a dummy when no message has it (yet). */
  private idContainer(id: string): Container {
    let c = this.byId.get(id);
    if (c === undefined) {
      c = this.create(-1, null);
      this.byId.set(id, c);
    }
    return c;
  }

  private create(pos: number, index: number | null): Container {
    const c = new Container(pos, index);
    this.all.push(c);
    return c;
  }

  private link(parent: Container, child: Container): void {
    child.parent = parent;
    parent.children.push(child);
  }

  private unlink(child: Container): void {
    const siblings = child.parent!.children;
    siblings.splice(siblings.indexOf(child), 1);
    child.parent = null;
    this.epoch++;
  }

  /** The top of a container's tree, with path compression. */
  private rootOf(c: Container): Container {
    const step = (n: Container): Container | null => (n.upEpoch === this.epoch ? n.up : n.parent);
    let root = c;
    for (let next = step(root); next !== null; next = step(root)) root = next;
    for (let n = c; n !== root; ) {
      const next = step(n)!;
      n.up = root;
      n.upEpoch = this.epoch;
      n = next;
    }
    return root;
  }

  /** (2) The containers without a parent, in the order they were created. */
  rootSet(): Container[] {
    return this.all.filter((c) => c.parent === null);
  }
}

/**
 * (3) Removes dummies: one without children goes; one with children is
 * replaced by them, except at the top level, where it stays unless it has a
 * single child. Children are pruned before their parents.
 */
function pruneDummies(roots: Container[]): Container[] {
  const spliced = (list: Container[], top: Container | null): Container[] => {
    const out: Container[] = [];
    for (const c of list) {
      if (c.dummy && (c.children.length === 0 || top !== null || c.children.length === 1)) {
        for (const child of c.children) {
          child.parent = top;
          out.push(child);
        }
      } else out.push(c);
    }
    return out;
  };
  for (const node of postOrder(roots)) node.children = spliced(node.children, node);
  const top = spliced(roots, null);
  return top;
}

/** (5) Joins top-level threads with the same base subject. */
function groupBySubject(roots: Container[], input: ThreadInput): Container[] {
  const content = (c: Container) => input.facts[c.pos]?.content ?? null;
  /** The thread subject: the message's base subject, or its first child's for a dummy. */
  const subjectOf = (c: Container): string => content(c.dummy ? c.children[0]! : c)?.subject ?? '';
  const replyOf = (c: Container): boolean => content(c)?.replyOrForward ?? false;

  // (5)(B) One thread per subject: prefer a dummy, then a message that is not a reply or forward.
  const table = new Map<string, Container>();
  for (const c of roots) {
    const subject = subjectOf(c);
    if (subject === '') continue;
    const held = table.get(subject);
    if (held === undefined || (!held.dummy && (c.dummy || (replyOf(held) && !replyOf(c))))) table.set(subject, c);
  }

  // (5)(C) Merge every other thread of that subject into the table's one.
  const list: Array<Container | null> = [...roots];
  const slot = new Map<Container, number>(roots.map((c, i) => [c, i]));
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === null || c === undefined) continue;
    const subject = subjectOf(c);
    const held = subject === '' ? undefined : table.get(subject);
    if (held === undefined || held === c) continue;
    list[i] = null;
    if (held.dummy && c.dummy) {
      for (const child of c.children) adopt(held, child);
    } else if (held.dummy || (replyOf(c) && !replyOf(held))) {
      adopt(held, c);
    } else {
      const dummy = new Container(-1, null);
      const at = slot.get(held)!;
      adopt(dummy, held);
      adopt(dummy, c);
      list[at] = dummy;
      slot.set(dummy, at);
      table.set(subject, dummy);
    }
  }
  return list.filter((c): c is Container => c !== null);
}

function adopt(parent: Container, child: Container): void {
  child.parent = parent;
  parent.children.push(child);
}
