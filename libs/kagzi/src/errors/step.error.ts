import { Duration, toMilliseconds } from '../common/duration';
import { ErrorKind, isRetryableKind } from './error-kind';

export interface StepErrorOptions {
  kind?: ErrorKind;
  code?: string;
  retryAfter?: Duration;
  context?: Record<string, unknown>;
  cause?: unknown;
}

/** The Kagzi class a stored error is rebuilt as: the class thrown, or the one it extends. */
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
  kind: ErrorKind;
  message: string;
  retryable: boolean;
  code?: string;
  context?: Record<string, unknown>;
  cause?: SerializedStepError;
  attempt: number;
  stepName: string;
  occurredAt: string;
  retryAfterMs?: number;
  stack?: string;
}

/**
 * A failure inside a workflow, with a kind that decides whether it is retried.
 * Throw one from a step (or let Kagzi classify what you throw) and catch one around a step call.
 */
export class StepError extends Error {
  kind: ErrorKind;
  retryable: boolean;
  code?: string;
  context?: Record<string, unknown>;
  attempt = 1;
  stepName = '';
  occurredAt: Date = new Date();
  retryAfterMs?: number;

  constructor(message: string, options: StepErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = options.kind ?? this.defaultKind();
    this.retryable = this.defaultRetryable(this.kind);
    if (options.code !== undefined) this.code = options.code;
    if (options.context !== undefined) this.context = options.context;
    if (options.retryAfter !== undefined) this.retryAfterMs = toMilliseconds(options.retryAfter, 'retryAfter');
  }

  protected defaultKind(): ErrorKind {
    return ErrorKind.Unknown;
  }

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
