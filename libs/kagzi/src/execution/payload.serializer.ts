import { createHash } from 'node:crypto';
import superjson from 'superjson';
import { ErrorKind } from '../errors/error-kind';
import { KagziError } from '../errors/kagzi.error';
import { PermanentError } from '../errors/step.error';
import { PayloadTooLargeError } from '../errors/payload-too-large.error';
import { UnserializableValueError } from '../errors/unserializable-value.error';
import { inspectPayload } from './payload.inspector';

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
    // First, and without recursion: superjson and JSON.stringify overflow the stack on deep values.
    const problem = inspectPayload(value, 'shape');
    if (problem) {
      throw new UnserializableValueError(`Cannot store the ${what}: ${problem}. Return plain data (objects, arrays, strings, numbers, Date, Map, Set, BigInt).`);
    }
    const text = serialize(value, `the ${what}`);
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

/**
 * A stable fingerprint of a step call's arguments, for the determinism check: the hash of the
 * same text the serializer would store (functions and symbols count as null, as superjson stores
 * them). An argument that cannot be serialized at all fails the call with an
 * UnserializableValueError naming it; a weaker fingerprint would let a changed call replay silently.
 */
export function hashArguments(args: readonly unknown[], stepName?: string): string {
  const call = stepName === undefined ? 'a step call' : `the call of step "${stepName}"`;
  args.forEach((arg, i) => {
    const problem = inspectPayload(arg, 'depth');
    if (problem) throw new UnserializableValueError(`Cannot fingerprint the arguments of ${call}: ${problem.replace(/^\$/, `argument ${i + 1}`)}.`);
  });
  let text: string;
  try {
    text = JSON.stringify(superjson.serialize(args as unknown[]));
  } catch {
    // Serialize one by one only now, to name the argument that failed.
    args.forEach((arg, i) => serialize(arg, `argument ${i + 1} of ${call}`));
    text = serialize(args as unknown[], `the arguments of ${call}`);
  }
  return createHash('sha1').update(text).digest('base64url');
}

/** superjson then JSON text; what either throws (a getter, a toJSON, a revoked Proxy) becomes a typed error. */
function serialize(value: unknown, what: string): string {
  try {
    return JSON.stringify(superjson.serialize(value));
  } catch (err: unknown) {
    if (err instanceof KagziError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new UnserializableValueError(`Cannot serialize ${what}: reading it threw "${reason}". Pass plain data.`, { cause: err });
  }
}

/** A value that could not be stored (the output of a step or a workflow) as the permanent failure it causes. */
export function unstorableValueError(err: unknown, stepName: string, attempt: number): PermanentError {
  const error = new PermanentError(err instanceof Error ? err.message : String(err), {
    kind: ErrorKind.ValidationFailed,
    code: err instanceof KagziError ? err.code : undefined,
  });
  error.stepName = stepName;
  error.attempt = attempt;
  return error;
}
