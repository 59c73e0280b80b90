import { ErrorKind, isErrorKind } from './error-kind';
import { StepError } from './step.error';

export type ClassifyErrorHook = (err: unknown) => ErrorKind | undefined;

/**
 * The one place that decides what kind of failure an arbitrary thrown value is.
 * Order: the module's `classifyError` hook, then Kagzi's own error classes, then UNKNOWN.
 */
export function classifyError(err: unknown, hook?: ClassifyErrorHook): ErrorKind {
  const fromHook = hook?.(err);
  if (fromHook !== undefined && isErrorKind(fromHook)) return fromHook;
  if (err instanceof StepError) return err.kind;
  return ErrorKind.Unknown;
}
