import { createHash } from 'node:crypto';
import superjson from 'superjson';
import { PayloadTooLargeError } from '../errors/payload-too-large.error';
import { UnserializableValueError } from '../errors/unserializable-value.error';

/** What a serialized value looks like in a `json` column (superjson's `{ json, meta }`). */
export type StoredPayload = { json: unknown; meta?: unknown };

export interface EncodedPayload {
  /** Text for a `json` column: `json` (not `jsonb`) keeps object key order, so replay sees what the first run saw. */
  text: string;
  bytes: number;
}

/**
 * Round-trips what JavaScript code returns: JSON plus Date, undefined, BigInt, Map, Set, RegExp,
 * Error, NaN/Infinity and shared or cyclic references. Class instances come back as plain objects.
 */
export class PayloadSerializer {
  constructor(private readonly maxPayloadBytes: number) {}

  /** `what` names the value in errors, e.g. `input of workflow "Order"` or `output of step "Order.pay"`. */
  encode(value: unknown, what: string): EncodedPayload {
    const problem = findUnserializable(value, '$', new Set());
    if (problem) {
      throw new UnserializableValueError(`Cannot store the ${what}: ${problem}. Return plain data (objects, arrays, strings, numbers, Date, Map, Set, BigInt).`);
    }
    const text = JSON.stringify(superjson.serialize(value));
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.maxPayloadBytes) {
      throw new PayloadTooLargeError(
        `The ${what} is ${bytes} bytes serialized, above maxPayloadBytes (${this.maxPayloadBytes}). Store large data elsewhere and pass a reference, or raise maxPayloadBytes.`,
      );
    }
    return { text, bytes };
  }

  decode<T = unknown>(stored: StoredPayload | null | undefined): T {
    if (stored === null || stored === undefined) return undefined as T;
    return superjson.deserialize(stored as Parameters<typeof superjson.deserialize>[0]) as T;
  }
}

/** A stable fingerprint of a step call's arguments, for the determinism check. */
export function hashArguments(args: readonly unknown[]): string {
  let text: string;
  try {
    text = JSON.stringify(superjson.serialize(args as unknown[]));
  } catch {
    text = String(args.length);
  }
  return createHash('sha1').update(text).digest('base64url');
}

function findUnserializable(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'function':
      return `${path} is a function`;
    case 'symbol':
      return `${path} is a symbol`;
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null || seen.has(value)) return undefined;
  seen.add(value);
  if (value instanceof Promise) return `${path} is a Promise (did you forget an await?)`;
  if (value instanceof WeakMap || value instanceof WeakSet) return `${path} is a ${value.constructor.name}`;
  if (value instanceof Date || value instanceof RegExp || value instanceof Error) return undefined;
  if (ArrayBuffer.isView(value)) return `${path} is a binary buffer; encode it as base64 text`;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const problem = findUnserializable(k, `${path}.<key>`, seen) ?? findUnserializable(v, `${path}.get(${String(k)})`, seen);
      if (problem) return problem;
    }
    return undefined;
  }
  if (value instanceof Set) {
    for (const v of value) {
      const problem = findUnserializable(v, `${path}.<item>`, seen);
      if (problem) return problem;
    }
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = findUnserializable(value[i], `${path}[${i}]`, seen);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const problem = findUnserializable((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
    if (problem) return problem;
  }
  return undefined;
}
