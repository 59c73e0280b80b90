import { runScopeStorage, StepInfo } from './run-scope.storage';

export type { StepInfo } from './run-scope.storage';

const NEVER_ABORTED = new AbortController().signal;

/**
 * The AbortSignal of the step attempt running now: aborted when the attempt exceeds its
 * `@Step({ timeout })`, when the run is cancelled, or when this worker loses the run. Pass it to
 * `fetch`, database drivers and the like. Outside a step attempt it never aborts.
 */
export function stepSignal(): AbortSignal {
  return runScopeStorage.getStore()?.attemptSignal ?? NEVER_ABORTED;
}


/** The step attempt running now, or `undefined` outside a step body (in workflow code, or outside any run). */
export function stepInfo(): StepInfo | undefined {
  const step = runScopeStorage.getStore()?.step;
  return step && { ...step };
}
