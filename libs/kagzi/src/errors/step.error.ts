import { Duration, toMilliseconds } from '../common/duration';
import { ErrorKind, isRetryableKind } from './error-kind';

/** What `new StepError(message, options)` (and its subclasses) take; every field is optional. */
export interface StepErrorOptions {
  /** What went wrong; default: `UNKNOWN` for StepError and TransientError, `BUSINESS_LOGIC_ERROR` for PermanentError. */
  kind?: ErrorKind;
  /** Your own stable code for the failure (stored and shown with the error). */
  code?: string;
  /** Wait this long before the next attempt, instead of the policy's back-off (the policy still decides whether there is one). */
  retryAfter?: Duration;
  /** Storable details to keep with the error. */
  context?: Record<string, unknown>;
  /** The underlying error (`Error.cause`); stored as a cause chain. */
  cause?: unknown;
}

/**
 * The Kagzi class a stored error is rebuilt as: the class thrown, or the one it extends.
 * @inline
 */
export type StepErrorClass = 'StepError' | 'PermanentError' | 'TransientError';

/** The structured, storable form of a {@link StepError} (what `getRun` and the database hold). */
export interface SerializedStepError {
  /**
   * The error's class name: `StepError` when Kagzi wrapped what a step threw (the thrown class is
   * then `cause.name`), else the class of the StepError thrown (`PermanentError`, or your subclass).
   */
  name: string;
  /** Which Kagzi class it is or extends; absent on links of a cause chain that were not StepErrors. */
  kagziClass?: StepErrorClass;
  /** What went wrong. */
  kind: ErrorKind;
  /** The error's message. */
  message: string;
  /** Whether the retry policy may try again. */
  retryable: boolean;
  /** The error's `code`, if any. */
  code?: string;
  /** The error's `context`, if any. */
  context?: Record<string, unknown>;
  /** The stored form of its cause, if any. */
  cause?: SerializedStepError;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /** The step it failed in (empty outside a step). */
  stepName: string;
  /** When it happened, as an ISO 8601 string. */
  occurredAt: string;
  /** The smallest wait before the next attempt the error asked for, in milliseconds. */
  retryAfterMs?: number;
  /** The stack trace, cut to the stored limit. */
  stack?: string;
}

/**
 * A failure inside a workflow, with a kind that decides whether it is retried.
 * Throw one from a step (or let Kagzi classify what you throw) and catch one around a step call.
 */
export class StepError extends Error {
  /** What went wrong; default `UNKNOWN` (see {@link StepErrorOptions.kind}). */
  kind: ErrorKind;
  /** Whether the retry policy may try again: from `kind` for StepError, always false for PermanentError, true for TransientError. */
  retryable: boolean;
  /** Your own stable code for the failure, if given. */
  code?: string;
  /** Storable details kept with the error, if given. */
  context?: Record<string, unknown>;
  /** The attempt that failed (1 for the first); set by Kagzi when the error is recorded. */
  attempt = 1;
  /** The step it failed in; set by Kagzi when the error is recorded (empty until then). */
  stepName = '';
  /** When it was created (or, rebuilt from the database, when it happened). */
  occurredAt: Date = new Date();
  /** The wait before the next attempt, in milliseconds, from `options.retryAfter` (replaces the back-off). */
  retryAfterMs?: number;

  /**
   * @param message - The error's message.
   * @param options - Kind, code, retry-after, context and cause; all optional.
   * @throws {InvalidOptionsError} when `options.retryAfter` is not a duration (or is negative, or over 100 years).
   */
  constructor(message: string, options: StepErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = options.kind ?? this.defaultKind();
    this.retryable = this.defaultRetryable(this.kind);
    if (options.code !== undefined) this.code = options.code;
    if (options.context !== undefined) this.context = options.context;
    if (options.retryAfter !== undefined) this.retryAfterMs = toMilliseconds(options.retryAfter, 'retryAfter');
  }

  /** The kind when `options.kind` is absent; subclasses override it. */
  protected defaultKind(): ErrorKind {
    return ErrorKind.Unknown;
  }

  /** Whether an error of `kind` is retried; subclasses override it. */
  protected defaultRetryable(kind: ErrorKind): boolean {
    return isRetryableKind(kind);
  }
}

/** A failure that no retry can fix: never retried, whatever the policy says. */
export class PermanentError extends StepError {
  protected override defaultKind(): ErrorKind {
    return ErrorKind.BusinessLogicError;
  }

  protected override defaultRetryable(): boolean {
    return false;
  }
}

/** A failure that may pass: retried per the step's policy. */
export class TransientError extends StepError {
  protected override defaultKind(): ErrorKind {
    return ErrorKind.Unknown;
  }

  protected override defaultRetryable(): boolean {
    return true;
  }
}
