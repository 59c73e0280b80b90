import { Type } from '@nestjs/common';
import { Duration } from '../common/duration';
import { StepError } from '../errors/step.error';

/** The execution context a workflow's `run` receives. */
export interface WorkflowContext {
  readonly runId: string;
  readonly workflowName: string;
  readonly version: number;
  /** Aborted on cancel, on drain timeout, and when this worker loses the run's lease. */
  readonly signal: AbortSignal;
  /** Durable sleep: survives restarts and frees the worker slot while it waits. */
  sleep(duration: Duration): Promise<void>;
}

/** What a `@Workflow` class implements. */
export interface WorkflowDefinition<I = unknown, O = unknown> {
  run(input: I, ctx: WorkflowContext): Promise<O>;
}

/** A workflow named by its registered name or by its class. */
export type WorkflowRef<I = unknown, O = unknown> = string | Type<WorkflowDefinition<I, O>>;

export type Settled<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; error: StepError };
