import { randomUUID } from 'node:crypto';
import { textProblem } from '../common/names';
import { versionError } from '../client/version-errors';
import { WorkflowHandle } from '../client/workflow.handle';
import { ChildWorkflowFailedError } from '../errors/child-workflow-failed.error';
import { ErrorKind } from '../errors/error-kind';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { SerializedStepError } from '../errors/step.error';
import { rehydrateStepError } from '../errors/step-error.serializer';
import { UsageError } from '../errors/usage.error';
import { RunStatus } from '../interfaces/run.interface';
import { ChildOptions, WorkflowRef } from '../interfaces/workflow.interface';
import { CHILD_END_SIGNAL_PREFIX } from '../persistence/sql/signal-parent.sql';
import { StoredPayload } from './payload.serializer';
import { RunScope } from './run-scope.storage';
import { expectRecorded, RunHost } from './run-host';
import { traced } from '../tracing/operation.trace';
import { ATTR, SPAN } from '../tracing/trace-names';
import { recordRunStarted } from '../metrics/run.metrics';

const CHILD_STEP = '$child';

/** What starting and awaiting child runs needs of the parent run (RunExecution). */
export type ChildHost = Pick<RunHost, 'runId' | 'cancelPoint' | 'lease' | 'runs' | 'serializer' | 'nextKey' | 'recorded' | 'throwIfStopped' | 'write' | 'placement' | 'loseLease' | 'failNonDeterministic' | 'waitForSignal' | 'nameOfWorkflow' | 'handleFor'>;

/** What a child's end sends its parent (signal-parent.sql.ts). */
interface ChildEnd {
  status: RunStatus;
  output: StoredPayload | null;
  error: SerializedStepError | null;
  /** The child continued as new: its chain goes on in this run. */
  continuedAs?: string | null;
}

/**
 * `ctx.startChild`: inserts the child run (its parent recorded) and records its id like a step, so a
 * replay never starts a second child. The child's idempotency key is derived from the parent run and
 * the step key unless given: a parent that crashed between the insert and the record finds the same
 * child on replay.
 */
export async function startChild<O>(run: ChildHost, scope: RunScope, workflow: WorkflowRef<unknown, O>, input: unknown, options: ChildOptions = {}): Promise<WorkflowHandle<O>> {
  return run.handleFor<O>((await startChildRun(run, scope, workflow, input, options)).childId);
}

/** Starts (or, on a replay, finds) the child; `newestSeen` when just started: the parent's newest signal id then. */
async function startChildRun(
  run: ChildHost, scope: RunScope, workflow: WorkflowRef<unknown, unknown>, input: unknown, options: ChildOptions,
): Promise<{ childId: string; newestSeen?: number }> {
  if (scope.inStep) throw new UsageError('ctx.startChild() / ctx.executeChild() was called inside a step body; call it from the workflow code.');
  const onParentClose = options.onParentClose ?? 'cancel';
  if (onParentClose !== 'cancel' && onParentClose !== 'abandon') throw new InvalidOptionsError(`child options.onParentClose must be 'cancel' or 'abandon'; got ${JSON.stringify(onParentClose)}`);
  const key0 = options.idempotencyKey;
  // The same rule as start()'s key: 1 to 512 characters PostgreSQL can store.
  const keyProblem = key0 === undefined ? undefined : typeof key0 === 'string' && (key0.length === 0 || key0.length > 512) ? `must be 1 to 512 characters; got ${key0.length}` : textProblem(key0);
  if (keyProblem) throw new InvalidOptionsError(`child options.idempotencyKey ${keyProblem}`);
  const name = run.nameOfWorkflow(workflow);
  const key = run.nextKey(scope.path, CHILD_STEP);
  run.throwIfStopped(scope);
  const recorded = run.recorded(key);
  if (recorded) {
    expectRecorded(run, key, recorded, { kind: 'CHILD', name, what: (other) => `a child of workflow "${other}"` });
    return { childId: run.serializer.decode<string>(recorded.output) };
  }
  await run.cancelPoint(scope);
  const { text } = run.serializer.encode(input, `input of child workflow "${name}"`);
  const idempotencyKey = options.idempotencyKey ?? `${run.runId}/${key}`;
  const child = { childId: randomUUID(), name, version: options.version, input: text, idempotencyKey, onParentClose, key, ...run.placement(scope) };
  // Insert and record in one statement (start-child.sql.ts).
  const started = await traced(run.lease, SPAN.childStart, () => ({ [ATTR.childWorkflow]: name, [ATTR.childRunId]: child.childId }), (span) =>
    run.write(`starting child workflow "${name}" (${key})`, () => run.runs.startChild(run.lease, { ...child, traceContext: span.carrier() })),
  );
  if (!started.held) run.loseLease(`its start of child workflow "${name}" (${key}) was refused`);
  if (started.inserted) recordRunStarted(name, started.version);
  // Only a child inserted just now cannot have ended yet (one found by its key may have).
  if (started.id && started.recorded) return { childId: started.id, newestSeen: started.inserted ? started.newestSeen : undefined };
  if (!started.usable) throw versionError(name, options.version, started);
  // Rare: a run with the key committed while the statement ran, or the key was recorded before.
  const childId = started.id ?? (await run.write(`finding child workflow "${name}" (${key})`, () => run.runs.findRunIdByKey(name, idempotencyKey)));
  if (!childId) throw versionError(name, options.version, started);
  const output = run.serializer.encode(childId, `run id of child workflow "${name}"`).text;
  const outcome = await run.write(`recording child workflow "${name}" (${key})`, () =>
    run.runs.recordMarker(run.lease, { key, name, kind: 'CHILD', output, ...run.placement(scope) }),
  );
  if (outcome.kind === 'lost') run.loseLease(`its record of child workflow "${name}" (${key}) was refused`);
  return { childId: outcome.kind === 'exists' ? run.serializer.decode<string>(outcome.step.output) : childId };
}

/**
 * `ctx.executeChild`: starts the child, then waits durably for its end: the parent parks (WAITING) and
 * the statement that ends the child sends the parent its outcome as a signal, which wakes it (no polling).
 */
export async function executeChild<O>(run: ChildHost, scope: RunScope, workflow: WorkflowRef<unknown, O>, input: unknown, options: ChildOptions = {}): Promise<O> {
  const started = await startChildRun(run, scope, workflow, input, options);
  let childId = started.childId;
  // Just started: its end cannot be there yet unless a signal newer than `newestSeen` came, so the wait parks at once.
  let end = (await run.waitForSignal<ChildEnd>(scope, `${CHILD_END_SIGNAL_PREFIX}${childId}`, {}, started.newestSeen)) as ChildEnd;
  // A child that continued as new ends with its chain's last run.
  while (end.status === 'COMPLETED' && end.continuedAs) {
    childId = end.continuedAs;
    end = (await run.waitForSignal<ChildEnd>(scope, `${CHILD_END_SIGNAL_PREFIX}${childId}`)) as ChildEnd;
  }
  if (end.status === 'COMPLETED') return run.serializer.decode<O>(end.output);
  const error = rehydrateStepError(
    end.error ?? { name: 'StepError', kind: ErrorKind.Unknown, message: `the child run ended ${end.status}`, retryable: false, attempt: 1, stepName: '', occurredAt: new Date().toISOString() },
  );
  throw new ChildWorkflowFailedError(childId, error);
}
