import type { EntityManager } from 'typeorm';
import { UsageError } from '../errors/usage.error';
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


/**
 * The EntityManager of the transactional step running now (`@Step({ transactional: true })`): write with
 * it, and the writes commit together with the step's record, or not at all. Throws a UsageError anywhere
 * else (outside a step body, or in a step that is not transactional).
 */
export function stepTransaction(): EntityManager {
  const manager = runScopeStorage.getStore()?.transaction;
  if (!manager) {
    throw new UsageError('stepTransaction() was called outside a transactional step body; mark the step @Step({ transactional: true }) and call it inside the step');
  }
  return manager;
}

/** The step attempt running now, or `undefined` outside a step body (in workflow code, or outside any run). */
export function stepInfo(): StepInfo | undefined {
  const step = runScopeStorage.getStore()?.step;
  return step && { ...step };
}
