import { ClassifyErrorHook, classifyError } from './error-classifier';
import { ErrorKind, isErrorKind, isRetryableKind } from './error-kind';
import { PermanentError, SerializedStepError, StepError, TransientError } from './step.error';

const MAX_CAUSE_DEPTH = 5;

/** Turns anything a step threw into a {@link StepError} that carries the step name and attempt. */
export function toStepError(
  err: unknown,
  where: { stepName: string; attempt: number },
  hook?: ClassifyErrorHook,
): StepError {
  const { kind, retryAfterMs } = classifyError(err, hook);
  const stepError =
    err instanceof StepError
      ? err
      : new StepError(messageOf(err), { kind, cause: err, code: codeOf(err) });
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

export function serializeStepError(err: StepError, depth = 0): SerializedStepError {
  const out: SerializedStepError = {
    name: err.name,
    kind: err.kind,
    message: err.message,
    retryable: err.retryable,
    attempt: err.attempt,
    stepName: err.stepName,
    occurredAt: err.occurredAt.toISOString(),
  };
  if (err.code !== undefined) out.code = err.code;
  if (err.context !== undefined) out.context = err.context;
  if (err.retryAfterMs !== undefined) out.retryAfterMs = err.retryAfterMs;
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeCause(err.cause, err, depth + 1);
  return out;
}

/** One link of a cause chain, as itself: a StepError as such, anything else by name, message and code. */
function serializeCause(cause: unknown, from: StepError, depth: number): SerializedStepError {
  if (cause instanceof StepError) return serializeStepError(cause, depth);
  const { kind } = classifyError(cause);
  const out: SerializedStepError = {
    name: cause instanceof Error ? cause.name : typeof cause,
    kind,
    message: messageOf(cause),
    retryable: isRetryableKind(kind),
    attempt: from.attempt,
    stepName: from.stepName,
    occurredAt: from.occurredAt.toISOString(),
  };
  const code = codeOf(cause);
  if (code !== undefined) out.code = code;
  if (cause instanceof Error && cause.stack !== undefined) out.stack = cause.stack;
  const next = typeof cause === 'object' && cause !== null ? (cause as { cause?: unknown }).cause : undefined;
  if (next !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeCause(next, from, depth + 1);
  return out;
}

/** Rebuilds a StepError (or subclass, by name) from its stored form. */
export function rehydrateStepError(data: SerializedStepError): StepError {
  const Ctor = data.name === 'PermanentError' ? PermanentError : data.name === 'TransientError' ? TransientError : StepError;
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

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

function codeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') return String(code);
  }
  return undefined;
}
