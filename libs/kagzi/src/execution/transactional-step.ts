import { holdRunForStep } from '../persistence/sql/hold-run-for-step.sql';
import { StepTransaction } from '../persistence/step-transactions';
import { StoredStepRow } from '../persistence/run.rows';
import { unstorableValueError } from './payload.serializer';
import { RunHost } from './run-host';
import { RunScope } from './run-scope.storage';

type TransactionHost = Pick<RunHost, 'lease' | 'runs' | 'serializer' | 'transactions' | 'throwIfStopped' | 'cancelPoint' | 'placement' | 'loseLease'>;

/** Where an attempt is recorded (the executor's `place`). */
interface AttemptPlace {
  scope: RunScope;
  key: string;
  name: string;
  argsHash: string;
  startedAt: Date;
  attempt: number;
}

/** A transactional attempt that returned: its record committed with its writes, or another execution's record found (writes rolled back). */
export type TransactionalOutcome = { kind: 'committed'; text: string } | { kind: 'exists'; step: StoredStepRow };

/**
 * Opens the transaction a `@Step({ transactional: true })` body runs in. Under REPEATABLE READ or
 * SERIALIZABLE its first statement holds the run row (hold-run-for-step.sql.ts), so that the record at
 * the end is not refused for the heartbeat's renewals in between.
 */
export async function beginStepTransaction(run: TransactionHost, isolation: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE'): Promise<StepTransaction> {
  const tx = await run.transactions.begin(isolation);
  if (isolation === 'READ COMMITTED') return tx;
  let held: unknown[];
  try {
    held = await tx.run(holdRunForStep.with(run.lease));
  } catch (err: unknown) {
    await tx.release().catch(() => undefined);
    throw err;
  }
  if (held.length === 0) {
    await tx.release().catch(() => undefined);
    run.loseLease('its lease was gone when its transactional step began');
  }
  return tx;
}

/**
 * Records the step in the body's own transaction, fenced by the lease as every write is, then commits:
 * the body's writes and the record commit together or not at all. A refused record (the lease was lost)
 * rolls the writes back and stops the run here; a record of the key found (another execution finished
 * the step) rolls them back and returns that record. An error here (the output cannot be stored, a
 * serialization failure at commit, a broken connection) is the attempt's failure, as a body's error is:
 * if the commit did land, the record exists and the failure is never recorded over it.
 */
export async function commitInTransaction(run: TransactionHost, place: AttemptPlace, tx: StepTransaction, value: unknown): Promise<TransactionalOutcome> {
  run.throwIfStopped(place.scope);
  await run.cancelPoint(place.scope);
  let text: string;
  try {
    text = run.serializer.encode(value, `output of step "${place.name}"`).text;
  } catch (err: unknown) {
    throw unstorableValueError(err, place.name, place.attempt);
  }
  const outcome = await run.runs.commitStep(
    run.lease,
    { key: place.key, name: place.name, status: 'COMPLETED', argsHash: place.argsHash, output: text, error: null, startedAt: place.startedAt, attempt: place.attempt, ...run.placement(place.scope) },
    tx.run,
  );
  if (outcome.kind === 'committed') {
    await tx.commit();
    return { kind: 'committed', text };
  }
  await tx.release();
  if (outcome.kind === 'lost') run.loseLease(`its commit of transactional step "${place.name}" (${place.key}) was refused; the step's writes were rolled back`);
  return { kind: 'exists', step: (outcome as { step: StoredStepRow }).step };
}
