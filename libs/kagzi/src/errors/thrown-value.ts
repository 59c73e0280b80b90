import { STORED_ERROR_LIMITS, storableText } from './storable-text';

/**
 * Reading what a step threw, which can be anything: every read is guarded (a getter may throw)
 * and nothing here ever turns the value itself into JSON, because HTTP client failures carry
 * their request config, headers and credentials.
 */

/** A field of a thrown value, or undefined if it has none or reading it throws. */
export function fieldOf(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * The message of a thrown value: an Error's (or an object's string `message`), a thrown string
 * itself, else a short description such as `Non-Error value thrown: object with status 400`.
 */
export function messageOf(err: unknown): string {
  if (typeof err === 'string') return storableText(err, STORED_ERROR_LIMITS.message);
  const message = fieldOf(err, 'message');
  if (typeof message === 'string') return storableText(message, STORED_ERROR_LIMITS.message);
  return `Non-Error value thrown: ${describe(err)}`;
}

/** The class name of a thrown Error, else the type of the value (`object`, `string`, ...). */
export function nameOf(err: unknown): string {
  const name = err instanceof Error ? fieldOf(err, 'name') : undefined;
  return storableText(typeof name === 'string' ? name : typeof err, STORED_ERROR_LIMITS.label);
}

/** A string or numeric `code` (Node, PostgreSQL and many client libraries set one). */
export function codeOf(err: unknown): string | undefined {
  const code = fieldOf(err, 'code');
  return typeof code === 'string' || typeof code === 'number' ? storableText(String(code), STORED_ERROR_LIMITS.label) : undefined;
}

/** The stack of a thrown Error. */
export function stackOf(err: unknown): string | undefined {
  const stack = err instanceof Error ? fieldOf(err, 'stack') : undefined;
  return typeof stack === 'string' ? storableText(stack, STORED_ERROR_LIMITS.stack) : undefined;
}

const MAX_LISTED_KEYS = 5;

/** What kind of value it is, never what it holds: type, class, HTTP status or code, field names. */
function describe(err: unknown): string {
  if (err === null || err === undefined) return String(err);
  if (typeof err === 'number' || typeof err === 'boolean' || typeof err === 'bigint') return `${typeof err} ${String(err)}`;
  if (typeof err === 'symbol') return 'symbol';
  if (typeof err === 'function') return `function ${storableText(err.name || 'anonymous', 100)}`;
  const what = Array.isArray(err) ? `array of ${err.length} items` : classDescription(err);
  const status = [fieldOf(err, 'status'), fieldOf(err, 'statusCode'), fieldOf(fieldOf(err, 'response'), 'status')].find((s) => typeof s === 'number');
  if (typeof status === 'number') return `${what} with status ${status}`;
  const code = codeOf(err);
  if (code !== undefined) return `${what} with code ${storableText(code, 100)}`;
  let keys: string[];
  try {
    keys = Object.keys(err);
  } catch {
    return what;
  }
  if (keys.length === 0 || Array.isArray(err)) return what;
  const listed = keys.slice(0, MAX_LISTED_KEYS).map((k) => storableText(k, 40));
  return `${what} with keys ${listed.join(', ')}${keys.length > MAX_LISTED_KEYS ? ', …' : ''}`;
}

function classDescription(err: object): string {
  let name: unknown;
  try {
    name = Object.getPrototypeOf(err)?.constructor?.name;
  } catch {
    return 'object';
  }
  return typeof name === 'string' && name !== '' && name !== 'Object' ? `instance of ${storableText(name, 100)}` : 'object';
}
