import type { StepError } from '../errors/step.error';
import type { RunExecution } from './run-execution';
import type { ExecutionStop } from './run-stop';

/** How the workflow function settled: it returned a value or threw. */
export type Outcome = { kind: 'returned'; value: unknown } | { kind: 'threw'; error: unknown };

/** How the workflow code of a run ended in one execution: it returned or threw, it stopped, or it could not start. */
export type Executed = { outcome: Outcome; execution: RunExecution } | { stop: ExecutionStop } | { error: StepError };
