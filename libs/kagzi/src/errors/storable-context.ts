import { isSecretKey, REDACTED } from './secret-keys';
import { STORED_ERROR_LIMITS, storableText } from './storable-text';

/** Thrown inside the walk when the context outgrows its budget; it stops the walk at once. */
class ContextTooLarge {}

/** What the walk may still write, in characters of JSON text. */
interface Budget {
  left: number;
}

/** The key of the note that replaces a context that cannot be stored. */
export const CONTEXT_NOTE_KEY = 'kagziNote';

/**
 * An error's `context` as data PostgreSQL jsonb accepts and nobody minds reading: JSON-safe (BigInt
 * and Date as strings, cycles, functions, symbols and binary data as short notes, class instances
 * as their own fields), secrets redacted, strings cleaned and capped, and the whole bounded. A
 * context that is still too large, or cannot be read at all, is replaced by `{ kagziNote }`.
 */
export function toStorableContext(context: unknown): Record<string, unknown> | undefined {
  if (context === undefined) return undefined;
  const budget: Budget = { left: STORED_ERROR_LIMITS.context };
  let safe: unknown;
  try {
    safe = toJsonSafe(context, 0, [], budget);
  } catch (err: unknown) {
    const why = err instanceof ContextTooLarge ? `larger than ${STORED_ERROR_LIMITS.context} characters as JSON` : 'it could not be read';
    return { [CONTEXT_NOTE_KEY]: `context not stored: ${why}` };
  }
  if (typeof safe === 'object' && safe !== null && !Array.isArray(safe)) return safe as Record<string, unknown>;
  return { value: safe ?? null };
}

/**
 * Depth-bounded (so recursion cannot overflow) and budget-bounded (so a huge or exponentially
 * shared structure costs no more than the budget to walk). `ancestors` holds the objects on the
 * current path: a repeat there is a cycle; a repeat elsewhere is shared data and is copied.
 */
function toJsonSafe(value: unknown, depth: number, ancestors: object[], budget: Budget): unknown {
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'string':
      return spend(budget, storableText(value, STORED_ERROR_LIMITS.contextString));
    case 'number':
      spend(budget, String(value));
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      spend(budget, 'false');
      return value;
    case 'bigint':
      return spend(budget, value.toString());
    case 'symbol':
      return spend(budget, storableText(value.toString(), STORED_ERROR_LIMITS.contextString));
    case 'function':
      return spend(budget, `[Function ${storableText(value.name || 'anonymous', 200)}]`);
  }
  if (typeof value !== 'object' || value === null) {
    spend(budget, 'null');
    return null;
  }
  if (ancestors.includes(value)) return spend(budget, '[Circular]');
  if (depth >= STORED_ERROR_LIMITS.contextDepth) return spend(budget, `[nested deeper than ${STORED_ERROR_LIMITS.contextDepth} levels]`);
  try {
    ancestors.push(value);
    return objectToJsonSafe(value, depth, ancestors, budget);
  } catch (err: unknown) {
    if (err instanceof ContextTooLarge) throw err;
    // A throwing getter, toJSON or revoked proxy spoils one value, not the whole context.
    return spend(budget, '[unreadable]');
  } finally {
    ancestors.pop();
  }
}

function objectToJsonSafe(value: object, depth: number, ancestors: object[], budget: Budget): unknown {
  if (value instanceof Date) return spend(budget, Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString());
  if (value instanceof RegExp) return spend(budget, storableText(String(value), STORED_ERROR_LIMITS.contextString));
  if (value instanceof Promise) return spend(budget, '[Promise]');
  if (value instanceof WeakMap || value instanceof WeakSet) return spend(budget, `[${value.constructor.name}]`);
  if (ArrayBuffer.isView(value)) return spend(budget, `[${value.constructor.name} of ${value.byteLength} bytes]`);
  if (value instanceof ArrayBuffer) return spend(budget, `[ArrayBuffer of ${value.byteLength} bytes]`);
  // Only what an error says about itself: its own fields may hold a request config.
  if (value instanceof Error) {
    const out: Record<string, unknown> = {};
    entry(out, 'name', () => value.name, depth, ancestors, budget);
    entry(out, 'message', () => value.message, depth, ancestors, budget);
    const code = (value as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') entry(out, 'code', () => code, depth, ancestors, budget);
    return out;
  }
  if (Array.isArray(value) || value instanceof Set) {
    const out: unknown[] = [];
    for (const item of value) {
      const safe = toJsonSafe(item, depth + 1, ancestors, budget);
      out.push(safe === undefined ? null : safe);
    }
    return out;
  }
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) entry(out, String(k), () => v, depth, ancestors, budget);
    return out;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return toJsonSafe(toJSON.call(value), depth + 1, ancestors, budget);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) entry(out, key, () => (value as Record<string, unknown>)[key], depth, ancestors, budget);
  return out;
}

/** Writes one field, by a clean key, redacting secrets by name; `read` is called only for what is kept. */
function entry(out: Record<string, unknown>, key: string, read: () => unknown, depth: number, ancestors: object[], budget: Budget): void {
  const safeKey = spend(budget, storableText(key, STORED_ERROR_LIMITS.contextString));
  if (isSecretKey(key)) {
    define(out, safeKey, spend(budget, REDACTED));
    return;
  }
  let raw: unknown;
  try {
    raw = read();
  } catch {
    raw = '[unreadable]';
  }
  const safe = toJsonSafe(raw, depth + 1, ancestors, budget);
  if (safe !== undefined) define(out, safeKey, safe);
}

/** Plain assignment of a key named `__proto__` would set the prototype instead of a field. */
function define(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function spend<T extends string>(budget: Budget, text: T): T {
  budget.left -= text.length + 3;
  if (budget.left < 0) throw new ContextTooLarge();
  return text;
}
