import { runScopeStorage } from './run-scope.storage';

const NEVER_ABORTED = new AbortController().signal;

/**
 * The AbortSignal of the step attempt running now: aborted when the attempt exceeds its
 * `@Step({ timeout })`, when the run is cancelled, or when this worker loses the run. Pass it to
 * `fetch`, database drivers and the like. Outside a step attempt it never aborts.
 */
export function stepSignal(): AbortSignal {
  return runScopeStorage.getStore()?.attemptSignal ?? NEVER_ABORTED;
}

/** Which run, step and attempt is executing; e.g. `${runId}:${stepKey}` is an idempotency key for an external API. */
export interface StepInfo {
  runId: string;
  workflowName: string;
  version: number;
  /** Unique within the run and the same on every replay. */
  stepKey: string;
  stepName: string;
  /** 1 for the first execution, 2 for the first retry, … */
  attempt: number;
}

/** The step attempt running now, or `undefined` outside a step body (in workflow code, or outside any run). */
export function stepInfo(): StepInfo | undefined {
  const step = runScopeStorage.getStore()?.step;
  return step && { ...step };
}
