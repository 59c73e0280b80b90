import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors/usage.error';
import { RetryPolicy } from './retry-policy';
import { RunScope } from './run-scope.storage';
import { StepDefinition } from './step-definition';
import { workflowClock } from '../common/clock';

/** What recording a value needs of the run: its step machinery (keys, records, replay). */
interface ValueHost {
  runStep<T>(scope: RunScope, def: StepDefinition, body: () => unknown, args: readonly unknown[]): Promise<T>;
}

// ctx.now() and ctx.uuid() share one key sequence, so a replay that calls the other one at a
// recorded position finds the record and fails with NON_DETERMINISM instead of running fresh.
const VALUE_KEY = '$value';
const NOW: StepDefinition = { name: 'ctx.now', keyName: VALUE_KEY, retry: RetryPolicy.none() };
const UUID: StepDefinition = { name: 'ctx.uuid', keyName: VALUE_KEY, retry: RetryPolicy.none() };

/** `ctx.now()`: the clock read once, recorded like a step; every replay returns the recorded time. */
export function recordedNow(run: ValueHost, scope: RunScope): Promise<Date> {
  refuseInStep(scope, 'ctx.now()', 'new Date()');
  return run.runStep<Date>(scope, NOW, () => workflowClock.now(), []);
}

/** `ctx.uuid()`: a random UUID drawn once, recorded like a step; every replay returns the recorded one. */
export function recordedUuid(run: ValueHost, scope: RunScope): Promise<string> {
  refuseInStep(scope, 'ctx.uuid()', 'randomUUID()');
  return run.runStep<string>(scope, UUID, () => randomUUID(), []);
}

function refuseInStep(scope: RunScope, api: string, instead: string): void {
  if (scope.inStep) {
    throw new UsageError(`${api} was called inside a step body; call it from the workflow code, or use ${instead} in the step (the step's result is recorded).`);
  }
}
