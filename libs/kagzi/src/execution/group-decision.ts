import { StoredStepRow } from '../persistence/run.rows';
import { RunScope } from './run-scope.storage';
import { RunHost } from './run-host';

/** What recording a group's decision needs of the run (RunExecution). */
export type DecisionHost = Pick<RunHost, 'lease' | 'runs' | 'serializer' | 'cancelPoint' | 'write' | 'placement' | 'loseLease'>;

/**
 * Records a group's decision (a race's winner) durably. Returns the decision recorded earlier if
 * there was one (it wins), else undefined. After a delivered cancel, outside `nonCancellable`, nothing
 * is recorded: the group rejects with the cancel, as every replay of it does.
 */
export async function recordDecision(run: DecisionHost, scope: RunScope, key: string, name: string, decision: unknown): Promise<StoredStepRow | undefined> {
  await run.cancelPoint(scope);
  const output = run.serializer.encode(decision, `decision of ${name}`).text;
  const outcome = await run.write(`recording ${name} (${key})`, () =>
    run.runs.recordMarker(run.lease, { key, name, kind: 'GROUP', output, ...run.placement(scope) }),
  );
  if (outcome.kind === 'lost') run.loseLease(`its record of ${name} (${key}) was refused`);
  return outcome.kind === 'exists' ? outcome.step : undefined;
}

/** The value of a recorded decision. */
export function decisionOf<T>(run: Pick<RunHost, 'serializer'>, row: StoredStepRow): T {
  return run.serializer.decode<T>(row.output);
}
