import { nameProblem } from '../common/names';
import { UsageError } from '../errors/usage.error';
import { EventStore } from '../persistence/event.store';
import { RunScope } from './run-scope.storage';
import { expectRecorded, RunHost } from './run-host';

const EVENT_STEP = '$event';

/** What setting an event needs of its run (RunExecution). */
export type EventHost = Pick<RunHost, 'lease' | 'cancelPoint' | 'serializer' | 'nextKey' | 'recorded' | 'throwIfStopped' | 'write' | 'placement' | 'loseLease' | 'failNonDeterministic'>;

/**
 * `ctx.setEvent`: stores `value` as the latest of `key` for clients (`client.getEvent`), recorded like a
 * step in the same statement, so a replay writes nothing again; a later set of the key overwrites it.
 * The value goes through the payload serializer (size limit, unserializable values) before any write.
 */
export async function setRunEvent(run: EventHost, events: EventStore, scope: RunScope, key: string, value: unknown): Promise<void> {
  if (scope.inStep) throw new UsageError('ctx.setEvent() was called inside a step body; call it from the workflow code between steps.');
  const problem = nameProblem(key);
  if (problem) throw new UsageError(`ctx.setEvent(): the event key ${problem}`);
  const stepKey = run.nextKey(scope.path, EVENT_STEP);
  run.throwIfStopped(scope);
  const recorded = run.recorded(stepKey);
  if (recorded) {
    expectRecorded(run, stepKey, recorded, { kind: 'EVENT', name: key, what: (other) => `a set of event "${other}"` });
    return;
  }
  await run.cancelPoint(scope);
  const { text } = run.serializer.encode(value === undefined ? null : value, `value of event "${key}"`);
  const outcome = await run.write(`setting event "${key}"`, () => events.set(run.lease, { stepKey, key, value: text, ...run.placement(scope) }));
  if (outcome === 'lost') run.loseLease(`its set of event "${key}" was refused`);
}
