import { ErrorKind } from '../errors/error-kind';
import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import { StepError } from '../errors/step.error';
import { MAX_BRANCHES } from '../common/limits';
import { UsageError } from '../errors/usage.error';
import { Branch, Settled } from '../interfaces/workflow.interface';
import { RunExecution } from './run-execution';
import { unlimitedListeners } from './run-stop';
import { FiberGroup } from './run-fibers';
import { decisionOf, recordDecision } from './group-decision';
import { RunScope, runScopeStorage } from './run-scope.storage';


export type ParallelStrategy = 'fail-fast' | 'collect-all';

/**
 * The branches of one `ctx.parallel` or `ctx.race` call. Branch i runs in its own scope
 * (`<group key>[i]/`), so its steps get keys of their own however the branches interleave, and the
 * group key is the same on every replay. Each branch has an AbortSignal, a child of its parent's.
 */
class BranchGroup {
  private readonly controllers: AbortController[];
  private readonly parentSignal: AbortSignal;
  private readonly onParentAbort = (): void => this.abortAllExcept(undefined, 'The enclosing run or branch was aborted', this.parentSignal.reason);
  private readonly shielded?: boolean;
  private unsettled: number;
  private readonly fibers: FiberGroup;

  constructor(
    private readonly execution: RunExecution,
    parent: RunScope,
    readonly key: string,
    count: number,
  ) {
    this.parentSignal = execution.signalOf(parent);
    this.shielded = parent.shielded;
    this.controllers = Array.from({ length: count }, () => unlimitedListeners(new AbortController()));
    this.unsettled = count;
    this.fibers = execution.fibers.fork(count);
    if (this.parentSignal.aborted) this.onParentAbort();
    else this.parentSignal.addEventListener('abort', this.onParentAbort, { once: true });
  }

  /**
   * Call once per branch that has settled, `settlesGroup` for the one whose end decides the group (its
   * caller runs again); the last one detaches the group from its parent's signal.
   */
  branchSettled(settlesGroup = false): void {
    this.fibers.branchEnded(settlesGroup);
    if (--this.unsettled === 0) this.parentSignal.removeEventListener('abort', this.onParentAbort);
  }

  /** `slot` picks the signal; `index` names the scope (they differ only when a decided race replays its winner). */
  run(slot: number, branch: Branch, index = slot): Promise<unknown> {
    const branchKey = `${this.key}[${index}]`;
    const scope: RunScope = {
      execution: this.execution,
      path: `${branchKey}/`,
      inStep: false,
      shielded: this.shielded,
      group: this.key,
      branch: branchKey,
      branchSignal: this.controllers[slot].signal,
    };
    return runScopeStorage.run(scope, async () => branch());
  }

  /** A cancel of the run reaches the branches as itself (a WorkflowCancelledError), anything else as a Cancelled StepError. */
  abortAllExcept(winner: number | undefined, reason: string, cause?: unknown): void {
    const error = cause instanceof WorkflowCancelledError ? cause : new StepError(reason, { kind: ErrorKind.Cancelled });
    this.controllers.forEach((c, i) => i !== winner && c.abort(error));
  }
}

export function checkBranches(branches: unknown, api: string): asserts branches is readonly Branch[] {
  if (!Array.isArray(branches)) {
    throw new UsageError(`${api} expects an array of functions, e.g. ${api}([() => this.a(), () => this.b()])`);
  }
  if (branches.length === 0) throw new UsageError(`${api} was given no branches; pass at least one function`);
  if (branches.length > MAX_BRANCHES) {
    throw new UsageError(`${api} was given ${branches.length} branches; the limit is ${MAX_BRANCHES}. Nest groups or split the work into several runs.`);
  }
  const bad = branches.findIndex((b) => typeof b !== 'function');
  if (bad >= 0) {
    throw new UsageError(
      `${api}: branch ${bad} is ${describe(branches[bad])}, not a function. Pass () => this.step(...), not this.step(...).`,
    );
  }
}

function checkScope(scope: RunScope, api: string): void {
  if (scope.inStep) throw new UsageError(`${api} was called inside a step body; call it from the workflow code`);
}

/** `ctx.parallel`: every branch runs concurrently; results come back in branch order. */
export function runParallel(execution: RunExecution, scope: RunScope, branches: readonly Branch[], strategy: ParallelStrategy): Promise<unknown[]> {
  checkScope(scope, 'ctx.parallel()');
  const key = execution.nextKey(scope.path, '$parallel');
  execution.throwIfStopped(scope);
  const group = new BranchGroup(execution, scope, key, branches.length);
  return new Promise<unknown[]>((resolve, reject) => {
    const results: Settled<unknown>[] = new Array(branches.length);
    let remaining = branches.length;
    let settled = false;
    const onSettled = (index: number, result: Settled<unknown>, raw: unknown): void => {
      remaining--;
      const failFast = strategy === 'fail-fast' && result.status === 'rejected';
      const settlesGroup = !settled && (failFast || remaining === 0);
      group.branchSettled(settlesGroup);
      if (settled) return;
      results[index] = result;
      if (!settlesGroup) return;
      settled = true;
      if (failFast) {
        group.abortAllExcept(index, `Branch ${index} of ${key} failed, so the other branches were aborted`);
        reject(raw);
      } else {
        resolve(strategy === 'collect-all' ? results : results.map((r) => (r as { value: unknown }).value));
      }
    };
    branches.forEach((branch, i) => {
      group.run(i, branch).then(
        (value) => onSettled(i, { status: 'fulfilled', value }, value),
        (err: unknown) => onSettled(i, { status: 'rejected', error: asStepError(execution, err, `${key}[${i}]`) }, err),
      );
    });
  });
}

/**
 * `ctx.race`: resolves (or rejects) as the first branch to settle does. The winner is recorded before
 * the race settles, so every replay returns the same winner whatever the timing then. Losers are
 * aborted, or with `cancelLosers` false run on (on a replay too) until they end or the run does.
 */
export async function runRace(
  execution: RunExecution, scope: RunScope, branches: readonly Branch[], cancelLosers = true,
): Promise<{ index: number; value: unknown }> {
  checkScope(scope, 'ctx.race()');
  const key = execution.nextKey(scope.path, '$race');
  execution.throwIfStopped(scope);
  const recorded = execution.recorded(key);
  if (!recorded) return raceBranches(execution, scope, branches, key, cancelLosers);
  const index = decisionOf<{ index: number }>(execution, recorded).index;
  if (!Number.isInteger(index) || index < 0 || index >= branches.length) {
    execution.failNonDeterministic(key, 'race', `branch ${index} won it, but the code now passes ${branches.length} branches`);
  }
  return cancelLosers ? replayRace(execution, scope, branches, key, index) : raceBranches(execution, scope, branches, key, false, index);
}

/** Runs every branch; `decided` (a replay) names the winner recorded earlier, else the first to settle wins and is recorded. */
function raceBranches(
  execution: RunExecution, scope: RunScope, branches: readonly Branch[], key: string, cancelLosers: boolean, decided?: number,
): Promise<{ index: number; value: unknown }> {
  const group = new BranchGroup(execution, scope, key, branches.length);
  return new Promise((resolve, reject) => {
    let settled = false;
    const onSettled = (index: number, ok: boolean, outcome: unknown): void => {
      const wins = !settled && (decided === undefined || index === decided);
      group.branchSettled(wins);
      if (!wins) return;
      settled = true;
      if (cancelLosers) group.abortAllExcept(index, `Branch ${index} won ${key}`);
      const settle = (): void => (ok ? resolve({ index, value: outcome }) : reject(outcome));
      if (decided !== undefined) return settle();
      recordDecision(execution, scope, key, 'race', { index, status: ok ? 'fulfilled' : 'rejected' }).then(
        // Recorded before by this same lease: cannot happen, unless the code raced on one key twice.
        (earlier) => (earlier ? reject(new UsageError(`${key} was decided twice; each ctx.race() call must be awaited once`)) : settle()),
        reject,
      );
    };
    branches.forEach((branch, i) => {
      group.run(i, branch).then(
        (value) => onSettled(i, true, value),
        (err: unknown) => onSettled(i, false, err),
      );
    });
  });
}

/** A decided race: only the recorded winner runs again (its steps replay from their records). */
async function replayRace(execution: RunExecution, scope: RunScope, branches: readonly Branch[], key: string, index: number): Promise<{ index: number; value: unknown }> {
  const group = new BranchGroup(execution, scope, key, 1);
  try {
    return { index, value: await group.run(0, branches[index], index) };
  } finally {
    group.branchSettled(true);
  }
}

/** A branch's failure as the StepError a collect-all result holds, classified like any step's (module hook first). */
function asStepError(execution: RunExecution, err: unknown, where: string): StepError {
  return err instanceof StepError ? err : execution.toStepError(err, { stepName: where, attempt: 1 });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Promise) return 'a Promise';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
