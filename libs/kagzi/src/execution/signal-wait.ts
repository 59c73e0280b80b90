import { Duration, toMilliseconds } from '../common/duration';
import { nameProblem } from '../common/names';
import { UsageError } from '../errors/usage.error';
import { SignalTake } from '../persistence/signal.store';
import { RunScope } from './run-scope.storage';
import { expectRecorded, RunHost } from './run-host';
import { traced } from '../tracing/operation.trace';
import { ATTR, SPAN } from '../tracing/trace-names';

const SIGNAL_STEP = '$signal';
/** The due time of a wait without a timeout: it ends only when a signal comes. */
const NO_DEADLINE = new Date('9999-12-31T00:00:00.000Z');
/** How often a wait re-checks for its signal while other strands of the run keep it from parking. */
const RECHECK_MS = 1_000;

/** What a signal wait needs of its run (RunExecution). */
export type SignalHost = Pick<RunHost, 'lease' | 'fibers' | 'signalOf' | 'cancelPoint' | 'signals' | 'serializer' | 'nextKey' | 'recorded' | 'throwIfStopped' | 'write' | 'endOfTurn' | 'parkNow' | 'placement' | 'loseLease' | 'failNonDeterministic' | 'noteSignalsSeen'>;

/**
 * `ctx.waitForSignal`: the oldest unconsumed signal of `name`, consumed and recorded in one statement
 * (a replay returns the recorded payload, never a second signal), or `undefined` once the timeout
 * passed. Until then the run parks WAITING (slot freed) when nothing else of it can progress, and a
 * signal makes it due at once; beside busy strands it waits in the worker, re-checking every second.
 * `lookedAt` (a wait for the end of a child started just now) skips the first look: nothing of `name`
 * can be stored yet unless the run's newest signal id moved past it, which a park checks anyway.
 */
export async function waitForSignal<T>(run: SignalHost, scope: RunScope, name: string, options: { timeout?: Duration } = {}, lookedAt?: number): Promise<T | undefined> {
  if (scope.inStep) throw new UsageError('ctx.waitForSignal() was called inside a step body; call it from the workflow code between steps.');
  const problem = nameProblem(name);
  if (problem) throw new UsageError(`ctx.waitForSignal(): the signal name ${problem}`);
  const timeoutMs = options.timeout === undefined ? undefined : toMilliseconds(options.timeout, 'ctx.waitForSignal() timeout');
  const key = run.nextKey(scope.path, SIGNAL_STEP);
  run.throwIfStopped(scope);
  const recorded = run.recorded(key);
  if (recorded) {
    expectRecorded(run, key, recorded, { kind: 'SIGNAL', name, what: (other) => `a wait for signal "${other}"` });
    if (recorded.status === 'COMPLETED') return run.serializer.decode<T>(recorded.output);
  }
  // The deadline is fixed when the wait first starts and recorded with it, so a replay keeps it.
  const deadline = recorded ? recorded.next_attempt_at : timeoutMs === undefined ? null : new Date(Date.now() + timeoutMs);
  const wait = { key, name, deadline, pendingRecorded: recorded !== undefined, lookedAt };
  return traced(run.lease, SPAN.signalWait, () => ({ [ATTR.signal]: name }), () => takeOrPark<T>(run, scope, wait));
}

/** Takes the signal once it is there, the timeout once it passed; parks the run (or waits in the worker) until then. */
async function takeOrPark<T>(
  run: SignalHost, scope: RunScope, wait: { key: string; name: string; deadline: Date | null; pendingRecorded: boolean; lookedAt?: number },
): Promise<T | undefined> {
  const { key, name, deadline } = wait;
  let { pendingRecorded, lookedAt } = wait;
  const placed = run.placement(scope);
  const timeoutOutput = run.serializer.encode(undefined, 'signal timeout').text;
  for (;;) {
    await run.cancelPoint(scope);
    const timedOut = deadline !== null && deadline.getTime() <= Date.now();
    // `lookedAt`: the caller just saw the run's signals up to that id (a child it started this instant): no first look.
    const take: SignalTake =
      lookedAt !== undefined && !timedOut
        ? { kind: 'none', newestSeen: lookedAt }
        : await run.write(`waiting for signal "${name}"`, () => run.signals.take(run.lease, { key, name, timedOut, timeoutOutput, ...placed }));
    lookedAt = undefined;
    if (take.kind === 'lost') run.loseLease(`its wait for signal "${name}" was refused`);
    if (take.kind === 'taken') return run.serializer.decode<T>(take.output);
    run.noteSignalsSeen(take.newestSeen);
    await run.endOfTurn(scope);
    const wakeAt = deadline ?? NO_DEADLINE;
    if (run.fibers.canPark()) {
      const due = run.fibers.earliest(wakeAt);
      return run.parkNow(due, `parking on signal "${name}"`, () => run.signals.park(run.lease, due, take.newestSeen, { key, name, deadline, ...placed }));
    }
    if (!pendingRecorded) {
      await run.write(`recording a wait for signal "${name}"`, () => run.signals.recordWait(run.lease, { key, name, deadline, ...placed }));
      pendingRecorded = true;
    }
    await run.fibers.block(new Date(Math.min(wakeAt.getTime(), Date.now() + RECHECK_MS)), run.signalOf(scope), true);
  }
}
