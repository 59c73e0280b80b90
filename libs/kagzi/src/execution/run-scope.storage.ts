import type { EntityManager } from 'typeorm';
import { AsyncLocalStorage } from 'node:async_hooks';
import { StepDefinition } from './step-definition';

/** What a scope needs of the run it belongs to: a step called in the scope is executed by the run. */
export interface ScopeRun {
  runStep<T>(scope: RunScope, def: StepDefinition, body: () => unknown, args: readonly unknown[]): Promise<T>;
}

/** Where a piece of workflow code is running: which run, which scope path, and whether inside a step body. */
export interface RunScope {
  readonly execution: ScopeRun;
  /** '' at the workflow's top level; parallel branches (and nested groups) extend it. */
  readonly path: string;
  /** Inside a step body nested step calls are plain calls: the outer step is the unit of memoization. */
  readonly inStep: boolean;
  /** Inside `ctx.nonCancellable`: a cancel does not reach the operations of this scope. */
  readonly shielded?: boolean;
  /** Inside a step body: aborted when the attempt times out or the run stops in this worker. */
  readonly attemptSignal?: AbortSignal;
  /** Inside a step body: which run, step and attempt (read by stepInfo()). */
  readonly step?: StepInfo;
  /** Inside a transactional step body: its transaction's EntityManager (read by stepTransaction()). */
  readonly transaction?: EntityManager;
  /** Inside a parallel branch: the innermost group's key, this branch's key, and its signal. */
  readonly group?: string;
  readonly branch?: string;
  readonly branchSignal?: AbortSignal;
}

/** Process-wide: step wrappers are installed on prototypes, so every Nest app in the process shares it. */
export const runScopeStorage = new AsyncLocalStorage<RunScope>();

/** Which run, step and attempt is executing; e.g. `${runId}:${stepKey}` is an idempotency key for an external API. */
export interface StepInfo {
  /** The run's id. */
  runId: string;
  /** The workflow's name. */
  workflowName: string;
  /** The version the run is pinned to. */
  version: number;
  /** Unique within the run and the same on every replay. */
  stepKey: string;
  /** The step's name (`@Step({ name })`, else `Class.method`). */
  stepName: string;
  /** 1 for the first execution, 2 for the first retry, … */
  attempt: number;
}
