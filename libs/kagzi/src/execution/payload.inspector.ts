/**
 * How deeply a stored value may nest, counted as JSON levels of its stored form: an object, an
 * array or a Set is one level, a Map two (it is stored as a list of [key, value] pairs). superjson
 * and JSON.stringify recurse once per level, and superjson overflows the default Node stack a
 * little past 1,200 levels of plain objects (about 600 Maps); 1,000 leaves room for the caller's frames.
 */
export const MAX_PAYLOAD_DEPTH = 1_000;

/** What to look for: `shape` also rejects what cannot be stored (functions, symbols, Promises, ...). */
export type InspectMode = 'shape' | 'depth';

interface Visit {
  value: unknown;
  depth: number;
  parent: Visit | undefined;
  /** How this value is reached from its parent, e.g. `.items`, `[3]`, `.get(k)`. */
  step: string;
  /** Set when reading the value threw (a getter): reported where it is met, by path. */
  unreadable?: string;
}

/**
 * The first reason `value` cannot be stored, or undefined. Iterative (an explicit stack, not
 * recursion), so a value nested 20,000 levels deep is reported instead of overflowing the stack;
 * run before any serializer touches the value. Paths are built only for the problem found.
 */
export function inspectPayload(value: unknown, mode: InspectMode = 'shape', maxDepth: number = MAX_PAYLOAD_DEPTH): string | undefined {
  const seen = new Set<object>();
  const stack: Visit[] = [{ value, depth: 0, parent: undefined, step: '' }];
  for (let visit = stack.pop(); visit; visit = stack.pop()) {
    const v = visit.value;
    if (visit.unreadable !== undefined) return `${pathOf(visit)} cannot be read: it threw "${visit.unreadable}"`;
    if (mode === 'shape') {
      if (typeof v === 'function') return `${pathOf(visit)} is a function`;
      if (typeof v === 'symbol') return `${pathOf(visit)} is a symbol`;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    let problem: string | undefined;
    try {
      problem = inspectObject(v, visit, mode, maxDepth, stack);
    } catch (err: unknown) {
      // A revoked Proxy throws on instanceof and Object.keys.
      problem = `cannot be read: it threw "${err instanceof Error ? err.message : String(err)}"`;
    }
    if (problem) return `${pathOf(visit)} ${problem}`;
  }
  return undefined;
}

/** Checks one object and pushes its children; returns what is wrong with it, after the path. */
function inspectObject(v: object, visit: Visit, mode: InspectMode, maxDepth: number, stack: Visit[]): string | undefined {
  const problem = mode === 'shape' ? unstorableObject(v) : undefined;
  if (problem) return `is ${problem}`;
  if (v instanceof Date || v instanceof RegExp || v instanceof Error || ArrayBuffer.isView(v)) return undefined;
  const levels = v instanceof Map ? 2 : 1;
  if (visit.depth + levels > maxDepth) return `is nested deeper than ${maxDepth} levels`;
  // Pushed in reverse so the first problem in reading order is the one reported.
  const children = childrenOf(v, visit, visit.depth + levels);
  for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  return undefined;
}

function unstorableObject(v: object): string | undefined {
  if (v instanceof Promise) return 'a Promise (did you forget an await?)';
  if (v instanceof WeakMap || v instanceof WeakSet) return `a ${v.constructor.name}`;
  if (ArrayBuffer.isView(v)) return 'a binary buffer; encode it as base64 text';
  return undefined;
}

function childrenOf(v: object, parent: Visit, depth: number): Visit[] {
  const out: Visit[] = [];
  if (v instanceof Map) {
    for (const [k, item] of v) {
      out.push({ value: k, depth, parent, step: '.<key>' });
      out.push({ value: item, depth, parent, step: `.get(${String(k)})` });
    }
  } else if (v instanceof Set) {
    for (const item of v) out.push({ value: item, depth, parent, step: '.<item>' });
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) out.push({ value: v[i], depth, parent, step: `[${i}]` });
  } else {
    for (const key of Object.keys(v)) out.push({ ...read(v, key), depth, parent, step: `.${key}` });
  }
  return out;
}

function read(v: object, key: string): { value: unknown; unreadable?: string } {
  try {
    return { value: (v as Record<string, unknown>)[key] };
  } catch (err: unknown) {
    return { value: undefined, unreadable: err instanceof Error ? err.message : String(err) };
  }
}

/** `$.a.b[2]`, shortened in the middle when very deep so the message stays readable. */
function pathOf(visit: Visit): string {
  const steps: string[] = [];
  for (let v: Visit | undefined = visit; v?.parent; v = v.parent) steps.push(v.step);
  steps.reverse();
  const shown = steps.length > 12 ? [...steps.slice(0, 6), `…(${steps.length - 12} more)…`, ...steps.slice(-6)] : steps;
  return `$${shown.join('')}`;
}
