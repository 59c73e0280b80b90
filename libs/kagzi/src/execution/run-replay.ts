import { Type } from '@nestjs/common';
import { ErrorKind } from '../errors/error-kind';
import { StepError } from '../errors/step.error';
import { toStepError } from '../errors/step-error.serializer';
import { UsageError } from '../errors/usage.error';
import { RunHistory } from '../interfaces/run-history.interface';
import { WorkflowDefinition } from '../interfaces/workflow.interface';
import { toStoredSteps } from '../persistence/run-history.mapper';
import { ClaimedRun } from '../persistence/store.types';
import { replayRunners } from './replay-registry';

/** How a replay ended. */
export type ReplayReport =
  | {
      /** The code returned within the recorded history. */
      result: 'completed';
      /** What it returned. */
      value: unknown;
    }
  | {
      /** The code threw (the run's recorded failure rethrown, a cancel, or its own error). */
      result: 'failed';
      /** What it threw, as a StepError. */
      error: StepError;
    }
  | {
      /** The code made a call past the records: a worker would execute it next. Every recorded call before it matched. */
      result: 'continues';
      /** The key of that call. */
      at: string;
    }
  | {
      /** A call no longer matches the record at its key. */
      result: 'non-deterministic';
      /** The NON_DETERMINISM error the run would fail with, naming the call. */
      error: StepError;
    };

/**
 * Executes the current code of `workflow` against a recorded history (`client.exportRun`) without side
 * effects: no step body runs, nothing is written; recorded outputs and errors are returned where the
 * code asks for them. Resolves with the workflow's result when the code returns within the history, or
 * with undefined when it reaches a call past the records (a run in flight continues there). Rejects with
 * a NON_DETERMINISM StepError naming the first call that differs (step name, key, recorded vs now), or
 * with the error the code throws. Needs an app in this process that registers `workflow` (a
 * `KagziModule` app, e.g. from `KagziTesting.create`), whose providers the code's steps belong to.
 *
 * @throws {UsageError} when `history` is not one `client.exportRun()` made, or no app in this process registers the workflow.
 */
export async function replayRun<O = unknown>(workflow: Type<WorkflowDefinition<never, O>> | Type<unknown>, history: RunHistory): Promise<O | undefined> {
  const report = await replayHistory(workflow, history);
  if (report.result === 'completed') return report.value as O;
  if (report.result === 'continues') return undefined;
  throw report.error;
}

/**
 * `replayRun` with the outcome as a value, for tools that report on many runs (`kagzi replay`).
 * @param workflow - The class to replay, or undefined for whichever registered class has the history's name and version.
 * @throws {UsageError} when `history` is not one `client.exportRun()` made, or no app in this process registers the workflow.
 */
export async function replayHistory(workflow: Type<unknown> | undefined, history: RunHistory): Promise<ReplayReport> {
  if (history === null || typeof history !== 'object' || history.format !== 'kagzi.run-history.v1') {
    throw new UsageError('replayRun(): the history is not one client.exportRun() made (expected format "kagzi.run-history.v1")');
  }
  const runner = [...replayRunners].reverse().find((r) => {
    const entry = r.registered(history.workflowName, history.version);
    return entry !== undefined && (workflow === undefined || entry.metatype === workflow);
  });
  if (!runner) {
    const what = workflow ? `${workflow.name} as ${history.workflowName} v${history.version}` : `${history.workflowName} v${history.version}`;
    throw new UsageError(
      `replayRun(): no Kagzi app in this process registers ${what}. Boot one with the workflow and its step providers first ` +
        '(KagziTesting.create({ providers: [...] }), or NestFactory.createApplicationContext(AppModule)).',
    );
  }
  const executed = await runner.replay(claimOf(history));
  if ('error' in executed) return { result: 'failed', error: executed.error };
  if ('stop' in executed) {
    const stop = executed.stop;
    if (stop.kind === 'fatal') return stop.error.kind === ErrorKind.NonDeterminism ? { result: 'non-deterministic', error: stop.error } : { result: 'failed', error: stop.error };
    if (stop.kind === 'frontier') return { result: 'continues', at: stop.what };
    if (stop.kind === 'continued') return { result: 'continues', at: 'continuing as a new run' };
    return { result: 'continues', at: stop.kind === 'suspended' ? 'a wait' : stop.reason };
  }
  const { outcome } = executed;
  if (outcome.kind === 'returned') return { result: 'completed', value: outcome.value };
  return { result: 'failed', error: toStepError(outcome.error, { stepName: `${history.workflowName}.run`, attempt: 1 }) };
}

/** The history as a worker's claim of the run (epoch 2: a claim that brings the records). */
function claimOf(history: RunHistory): ClaimedRun {
  const cancel = history.cancelRequestedAt === undefined ? undefined : { cutAt: history.cancelCutAt === undefined ? undefined : new Date(history.cancelCutAt), reason: history.cancelReason };
  return {
    lease: { runId: history.runId, owner: 'kagzi-replay', epoch: 2 },
    workflowName: history.workflowName,
    version: history.version,
    input: history.input,
    steps: toStoredSteps(history),
    cancel,
    claimLagMs: 0,
    ageMs: 0,
    claimedAt: 0,
  };
}
