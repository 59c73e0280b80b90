import { ClassifyErrorHook, classifyError } from './error-classifier';
import { ErrorKind, isErrorKind, isRetryableKind } from './error-kind';
import { PermanentError, SerializedStepError, StepError, StepErrorClass, TransientError } from './step.error';
import { toStorableContext } from './storable-context';
import { STORED_ERROR_LIMITS, storableText } from './storable-text';
import { codeOf, fieldOf, messageOf, nameOf, stackOf } from './thrown-value';
import { MAX_CAUSE_DEPTH } from '../common/limits';


/**
 * Turns anything a step threw into a {@link StepError} that carries the step name and attempt. It
 * never throws: a value that cannot even be read (a Proxy whose traps throw) becomes a StepError
 * that says so, so the step's failure is always recorded.
 */
export function toStepError(err: unknown, where: { stepName: string; attempt: number }, hook?: ClassifyErrorHook): StepError {
  try {
    return convert(err, where, hook);
  } catch (failure: unknown) {
    const unreadable = new StepError(`A value was thrown that could not be read: ${messageOf(failure)}`, { kind: ErrorKind.Unknown });
    unreadable.stepName = where.stepName;
    unreadable.attempt = where.attempt;
    return unreadable;
  }
}

function convert(err: unknown, where: { stepName: string; attempt: number }, hook?: ClassifyErrorHook): StepError {
  const { kind, retryAfterMs } = classifyError(err, hook);
  const stepError =
    err instanceof StepError
      ? writable(err)
      : new StepError(messageOf(err), { kind, cause: err, code: codeOf(err) });
  // What the workflow catches on its first run is what a replay rebuilds from storage: the same
  // message and the same (JSON-safe, redacted) context.
  stepError.message = storableText(stepError.message, STORED_ERROR_LIMITS.message);
  if (stepError.context !== undefined) stepError.context = toStorableContext(stepError.context);
  stepError.kind = kind;
  if (retryAfterMs !== undefined && stepError.retryAfterMs === undefined) stepError.retryAfterMs = retryAfterMs;
  if (!(err instanceof PermanentError) && !(err instanceof TransientError)) stepError.retryable = isRetryableKind(kind);
  // A StepError that already names its step (raised by a step, passing through the workflow) keeps its place.
  if (!stepError.stepName) {
    stepError.stepName = where.stepName;
    stepError.attempt = where.attempt;
  }
  return stepError;
}

/**
 * The stored form of a StepError. It never throws and its result is always accepted by a
 * PostgreSQL jsonb column: every string is cleaned of NUL and lone surrogates and capped, the
 * context is made JSON-safe, redacted and bounded (see {@link toStorableContext}), and from other
 * thrown values only name, message, code and stack are kept, never their other fields.
 */
/** A frozen StepError (a shared constant thrown from many places) is copied, prototype and all, so it can carry this failure's place. */
function writable(err: StepError): StepError {
  if (Object.isExtensible(err) && !Object.isFrozen(err)) return err;
  const copy = Object.create(Object.getPrototypeOf(err) as object) as StepError;
  for (const key of Reflect.ownKeys(err)) {
    const descriptor = Object.getOwnPropertyDescriptor(err, key);
    if (descriptor) Object.defineProperty(copy, key, 'value' in descriptor ? { ...descriptor, writable: true, configurable: true } : { ...descriptor, configurable: true });
  }
  return copy;
}

export function serializeStepError(err: StepError, depth = 0): SerializedStepError {
  try {
    return serializeOne(err, depth);
  } catch (failure: unknown) {
    // Only a StepError subclass with hostile accessors gets here; the run must still be able to fail.
    return {
      name: 'StepError',
      kagziClass: kagziClassOf(err),
      kind: ErrorKind.Unknown,
      message: `The error could not be stored: ${messageOf(failure)}`,
      retryable: false,
      attempt: 1,
      stepName: '',
      occurredAt: new Date().toISOString(),
    };
  }
}

function serializeOne(err: StepError, depth: number): SerializedStepError {
  const out: SerializedStepError = {
    name: storableText(String(err.name), STORED_ERROR_LIMITS.label),
    kagziClass: kagziClassOf(err),
    kind: isErrorKind(err.kind) ? err.kind : ErrorKind.Unknown,
    message: storableText(String(err.message), STORED_ERROR_LIMITS.message),
    retryable: err.retryable === true,
    attempt: countOf(err.attempt),
    stepName: storableText(String(err.stepName), STORED_ERROR_LIMITS.label),
    occurredAt: isoOf(err.occurredAt),
  };
  if (err.code !== undefined) out.code = storableText(String(err.code), STORED_ERROR_LIMITS.label);
  const context = toStorableContext(err.context);
  if (context !== undefined) out.context = context;
  if (typeof err.retryAfterMs === 'number' && Number.isFinite(err.retryAfterMs)) out.retryAfterMs = err.retryAfterMs;
  if (typeof err.stack === 'string') out.stack = storableText(err.stack, STORED_ERROR_LIMITS.stack);
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeCause(err.cause, err, depth + 1);
  return out;
}

/** One link of a cause chain, as itself: a StepError as such, anything else by name, message, code and stack only. */
function serializeCause(cause: unknown, from: StepError, depth: number): SerializedStepError {
  if (cause instanceof StepError) return serializeStepError(cause, depth);
  const { kind } = classifyError(cause);
  const out: SerializedStepError = {
    name: nameOf(cause),
    kind,
    message: messageOf(cause),
    retryable: isRetryableKind(kind),
    attempt: countOf(from.attempt),
    stepName: storableText(String(from.stepName), STORED_ERROR_LIMITS.label),
    occurredAt: isoOf(from.occurredAt),
  };
  const code = codeOf(cause);
  if (code !== undefined) out.code = code;
  const stack = stackOf(cause);
  if (stack !== undefined) out.stack = stack;
  const next = fieldOf(cause, 'cause');
  if (next !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeCause(next, from, depth + 1);
  return out;
}

/**
 * Rebuilds a StepError from its stored form: as the Kagzi class it was (`kagziClass`, or `name`
 * for errors stored before that field existed), keeping its own class name in `name`.
 */
export function rehydrateStepError(data: SerializedStepError): StepError {
  const Ctor = classOf(data.kagziClass ?? data.name);
  const kind = isErrorKind(data.kind) ? data.kind : ErrorKind.Unknown;
  const err = new Ctor(data.message, { kind, code: data.code, context: data.context });
  if (data.name && data.name !== err.name) err.name = data.name;
  err.retryable = data.retryable;
  err.attempt = data.attempt;
  err.stepName = data.stepName;
  err.occurredAt = new Date(data.occurredAt);
  if (data.retryAfterMs !== undefined) err.retryAfterMs = data.retryAfterMs;
  if (data.stack !== undefined) err.stack = data.stack;
  if (data.cause) Object.defineProperty(err, 'cause', { value: rehydrateStepError(data.cause), enumerable: false, writable: true, configurable: true });
  return err;
}

function classOf(name: string | undefined): typeof StepError {
  if (name === 'PermanentError') return PermanentError;
  if (name === 'TransientError') return TransientError;
  return StepError;
}

function kagziClassOf(err: StepError): StepErrorClass {
  if (err instanceof PermanentError) return 'PermanentError';
  if (err instanceof TransientError) return 'TransientError';
  return 'StepError';
}

function countOf(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

function isoOf(date: unknown): string {
  return date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : new Date().toISOString();
}
