export { KagziModule } from './kagzi.module';
export type { KagziModuleOptions, WorkerOptions, DatabaseOptions } from './interfaces/kagzi-options.interface';
export type { KagziModuleAsyncOptions } from './kagzi.module-definition';
export { Workflow, type WorkflowOptions } from './decorators/workflow.decorator';
export { Step, type StepOptions } from './decorators/step.decorator';
export { WorkflowClient, type RunCountFilter } from './client/workflow.client';
export type { StartManyItem, StartManyOptions } from './client/batch-starter';
export type { WorkflowHandle } from './client/workflow.handle';
export type {
  WorkflowContext, WorkflowDefinition, WorkflowRef, ChildOptions, Settled, Branch, ParallelOutput, ParallelSettled, RaceResult, RaceOptions,
} from './interfaces/workflow.interface';
export { MAX_BRANCHES } from './common/limits';
export type {
  RunStatus, StartOptions, RunDetails, SignalDetails, RunSummary, RunFilter, Page, StepDetails, StepKind, StepAttempt, WorkflowVersionInfo, WorkerInfo, RunRetry, ScheduleInfo,
} from './interfaces/run.interface';
export type { Duration } from './common/duration';
export type { RunHistory, HistoryStep, StoredValue } from './interfaces/run-history.interface';
export { stepSignal, stepInfo, stepTransaction, type StepInfo } from './execution/step-signal';
export type { IsolationLevel } from './persistence/step-transactions';
export { RetryPolicy, type RetryOn, type ExponentialRetryOptions, type FixedRetryOptions } from './execution/retry-policy';
export { ErrorKind } from './errors/error-kind';
export { StepError, PermanentError, TransientError, type StepErrorOptions, type SerializedStepError } from './errors/step.error';
export { WorkflowFailedError } from './errors/workflow-failed.error';
export { WorkflowCancelledError } from './errors/workflow-cancelled.error';
export { ChildWorkflowFailedError } from './errors/child-workflow-failed.error';
export { KagziError } from './errors/kagzi.error';
export { InvalidOptionsError } from './errors/invalid-options.error';
export { WorkflowNotFoundError } from './errors/workflow-not-found.error';
export { WorkflowVersionNotFoundError } from './errors/workflow-version-not-found.error';
export { WorkflowVersionDeprecatedError } from './errors/workflow-version-deprecated.error';
export { DefaultVersionError } from './errors/default-version.error';
export { RunNotFoundError } from './errors/run-not-found.error';
export { RunNotActiveError } from './errors/run-not-active.error';
export { RunNotRetryableError } from './errors/run-not-retryable.error';
export { PayloadTooLargeError } from './errors/payload-too-large.error';
export { UnserializableValueError } from './errors/unserializable-value.error';
export { ResultTimeoutError } from './errors/result-timeout.error';
export { LeaseLostError } from './errors/lease-lost.error';
export { UsageError } from './errors/usage.error';
export { ShuttingDownError } from './errors/shutting-down.error';
export { DatabaseUnavailableError } from './errors/database-unavailable.error';
export { EmbeddedPostgresMissingError } from './errors/embedded-postgres-missing.error';
export { startEmbeddedPostgres, type EmbeddedPostgresHandle, type EmbeddedPostgresOptions } from './persistence/embedded-postgres.launcher';
export { KagziHealthIndicator } from './health/kagzi.health';
export { KagziDashboardModule } from './dashboard/kagzi-dashboard.module';
export type { KagziDashboardOptions } from './dashboard/dashboard-options';
export type { DashboardStats } from './dashboard/dashboard.store';
export { KagziWorker, type WorkerState, type WorkerSnapshot } from './worker/kagzi.worker';
