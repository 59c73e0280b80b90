import { Duration, toMilliseconds } from '../common/duration';
import { UsageError } from '../errors/usage.error';
import { WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import { RunScope } from './run-scope.storage';
import { RunHost } from './run-host';
import { traced } from '../tracing/operation.trace';
import { ATTR, SPAN } from '../tracing/trace-names';

const SLEEP_STEP = '$sleep';

/** What a durable sleep needs of its run (RunExecution). */
export type SleepHost = Pick<RunHost, 'lease' | 'fibers' | 'cancel' | 'cancelPoint' | 'signalOf' | 'runs' | 'serializer' | 'nextKey' | 'recorded' | 'throwIfStopped' | 'write' | 'waitUntil' | 'endOfTurn' | 'parkNow' | 'placement' | 'loseLease' | 'failNonDeterministic'>;

/**
 * `ctx.sleep`: the wake-up time is recorded once, so a replay waits for the same instant. The run parks
 * (SLEEPING, slot freed) with the record in one statement when nothing else of it can progress;
 * beside busy strands the sleep is recorded and waited out in the worker.
 */
export async function durableSleep(run: SleepHost, scope: RunScope, duration: Duration): Promise<void> {
  const ms = toMilliseconds(duration, 'ctx.sleep() duration');
  if (scope.inStep) throw new UsageError('ctx.sleep() was called inside a step body; call it from the workflow code between steps.');
  const key = run.nextKey(scope.path, SLEEP_STEP);
  run.throwIfStopped(scope);
  const recorded = run.recorded(key);
  if (recorded) {
    if (recorded.kind !== 'SLEEP') run.failNonDeterministic(key, SLEEP_STEP, `a step "${recorded.step_name}" was recorded there`);
    const wakeAt = run.serializer.decode<Date>(recorded.output);
    if (!run.cancel.sleepEnded(scope, wakeAt)) await waitOut(run, scope, wakeAt, () => run.waitUntil(scope, wakeAt, 'waiting for a sleep to end'));
    return;
  }
  await run.cancelPoint(scope);
  if (ms <= 0) return;
  const wakeAt = new Date(Date.now() + ms);
  return traced(run.lease, SPAN.sleep, () => ({ [ATTR.sleepMs]: ms, [ATTR.wakeAt]: wakeAt.toISOString() }), () => startSleep(run, scope, key, wakeAt));
}

/** A sleep met for the first time: recorded, and waited out (the run parked if nothing else of it can progress). */
async function startSleep(run: SleepHost, scope: RunScope, key: string, wakeAt: Date): Promise<void> {
  const sleep = { key, output: run.serializer.encode(wakeAt, 'sleep wake-up time').text, ...run.placement(scope) };
  await run.endOfTurn(scope);
  if (run.fibers.canPark()) {
    const due = run.fibers.earliest(wakeAt);
    return run.parkNow(due, 'recording a sleep', () => run.runs.parkRun(run.lease, due, sleep));
  }
  const outcome = await run.write('recording a sleep', () => run.runs.recordMarker(run.lease, { ...sleep, name: 'sleep', kind: 'SLEEP' }));
  if (outcome.kind === 'lost') run.loseLease('its sleep could not be recorded');
  await waitOut(run, scope, wakeAt, () => run.fibers.block(wakeAt, run.signalOf(scope)));
}

/** Waits for a sleep's end; a cancel delivered meanwhile rejects it unless the sleep had ended by the cut. */
async function waitOut(run: SleepHost, scope: RunScope, wakeAt: Date, wait: () => Promise<void>): Promise<void> {
  await run.cancelPoint(scope);
  try {
    await wait();
  } catch (err: unknown) {
    // A timer that fired late: the sleep had ended by the cut, as a replay will decide too.
    if (!(err instanceof WorkflowCancelledError && run.cancel.sleepEnded(scope, wakeAt))) throw err;
  }
  if (!run.cancel.sleepEnded(scope, wakeAt)) await run.cancelPoint(scope);
}
