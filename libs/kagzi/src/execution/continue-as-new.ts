import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors/usage.error';
import { RunScope } from './run-scope.storage';
import { RunHost } from './run-host';

/** What continuing as new needs of the run (RunExecution). */
export type ContinueHost = Pick<RunHost, 'lease' | 'runs' | 'serializer' | 'throwIfStopped' | 'cancelPoint' | 'write' | 'loseLease' | 'never'> & {
  /** The run ended here by continuing as `nextRunId`: stop its other strands. */
  continued(nextRunId: string): void;
};

/**
 * `ctx.continueAsNew`: ends the run COMPLETED and starts the next run of its chain with `input`, in
 * one fenced statement (see continue-as-new.sql.ts); nothing is recorded in this run, so a crash
 * before the statement commits simply replays to the same call. A cancelled run does not continue.
 */
export async function continueAsNew(run: ContinueHost, scope: RunScope, input: unknown): Promise<never> {
  if (scope.inStep) throw new UsageError('ctx.continueAsNew() was called inside a step body; call it from the workflow code.');
  run.throwIfStopped(scope);
  await run.cancelPoint(scope);
  const { text } = run.serializer.encode(input, 'input of ctx.continueAsNew()');
  const nextRunId = randomUUID();
  const continued = await run.write('continuing as a new run', () => run.runs.continueAsNew(run.lease, nextRunId, text));
  if (!continued) run.loseLease('its continue-as-new was refused');
  run.continued(nextRunId);
  return run.never();
}
