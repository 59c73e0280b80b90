import { Logger, OnModuleDestroy } from '@nestjs/common';
import { ClassifyErrorHook } from '../errors/error-classifier';
import { ErrorKind } from '../errors/error-kind';
import { PermanentError, StepError } from '../errors/step.error';
import { cancelStepError, WorkflowCancelledError } from '../errors/workflow-cancelled.error';
import { serializeStepError, toStepError } from '../errors/step-error.serializer';
import { RegisteredWorkflow, WorkflowRegistry } from '../discovery/workflow.registry';
import { ReplayRunner, replayRunners } from './replay-registry';
import { StepTransactions } from '../persistence/step-transactions';
import { Executed, Outcome } from './executed';
import { RunStore } from '../persistence/run.store';
import { ClaimedRun } from '../persistence/store.types';
import { PayloadSerializer, unstorableValueError } from './payload.serializer';
import { RetryPolicy } from './retry-policy';
import { SignalStore } from '../persistence/signal.store';
import { EventStore } from '../persistence/event.store';
import { ExecutionStop, RunExecution, RunExecutionDeps } from './run-execution';
import { runScopeStorage } from './run-scope.storage';
import { WorkflowContextImpl } from './workflow-context';
import { beginRunTrace, inRunContext, traceRunEnd, traceSegment } from '../tracing/run.trace';
import { recordClaim, recordLeaseLost, recordRunEnd, recordRunStarted, recordSegmentStop } from '../metrics/run.metrics';



/** Executes one claimed run to its next stop: completed, failed, asleep, or lost. */
export class WorkflowRunner implements ReplayRunner, OnModuleDestroy {
  private readonly logger = new Logger('Kagzi');

  constructor(
    private readonly registry: WorkflowRegistry,
    private readonly runs: RunStore,
    private readonly signals: SignalStore,
    private readonly client: RunExecutionDeps['client'],
    private readonly events: EventStore,
    private readonly serializer: PayloadSerializer,
    private readonly defaultRetry: RetryPolicy,
    private readonly transactions: StepTransactions,
    private readonly classifyError?: ClassifyErrorHook,
  ) {
    replayRunners.add(this);
  }

  onModuleDestroy(): void {
    replayRunners.delete(this);
  }

  registered(name: string, version: number): RegisteredWorkflow | undefined {
    return this.registry.get(name, version);
  }

  /** Prepares the execution and returns it with a promise of its end (which never rejects). */
  start(claim: ClaimedRun): { execution: RunExecution; done: Promise<ExecutionStop | 'finished'> } {
    const execution = new RunExecution(claim.lease, claim.workflowName, claim.version, new Map(), this.deps());
    beginRunTrace(claim);
    recordClaim(claim);
    const done = this.drive(claim, execution).catch((err: unknown) => {
      // A write that gave up has already logged why and stopped the execution.
      const stop = execution.stopReason;
      if (stop) return stop.kind === 'fatal' ? this.fail(execution, stop.error) : stop;
      execution.logger.error(`Run ${claim.lease.runId}: execution failed unexpectedly; it resumes when its lease expires: ${String(err)}`);
      execution.abort('unexpected error in the engine');
      return { kind: 'lost', reason: 'unexpected error in the engine' } as const;
    });
    return { execution, done: traceSegment(claim.lease, done.then((stop) => this.metered(claim, stop))) };
  }

  /** Counts how the segment stopped: a lost lease, or a run that continued as new (it ended COMPLETED, the next one started). */
  private metered(claim: ClaimedRun, stop: ExecutionStop | 'finished'): ExecutionStop | 'finished' {
    if (stop === 'finished') return stop;
    if (stop.kind === 'continued') {
      recordRunEnd(claim.lease, 'COMPLETED');
      recordRunStarted(claim.workflowName, claim.version);
    } else recordSegmentStop(claim.lease);
    return stop;
  }

  /**
   * Replays a run from its records (`replayRun`): its code runs against them, executing and writing
   * nothing; it ends where the code returns or throws, or at its first call past the records.
   */
  async replay(claim: ClaimedRun): Promise<Executed> {
    const execution = new RunExecution(claim.lease, claim.workflowName, claim.version, new Map(), { ...this.deps(), replay: true });
    return this.execute(claim, execution).catch((err: unknown) => {
      const stop = execution.stopReason;
      if (stop) return { stop };
      throw err;
    });
  }

  private deps(): RunExecutionDeps {
    return {
      runs: this.runs, signals: this.signals, client: this.client, events: this.events, serializer: this.serializer,
      classifyError: this.classifyError, defaultRetry: this.defaultRetry, logger: this.logger, transactions: this.transactions,
    };
  }

  /** Runs the workflow code until it returns or throws, or stops (parked, lost, failed fatally, continued, replay's end). */
  private async execute(claim: ClaimedRun, execution: RunExecution): Promise<Executed> {
    const entry = this.registry.get(claim.workflowName, claim.version);
    if (!entry) return { error: new PermanentError(`Workflow ${claim.workflowName} v${claim.version} is not registered in this worker`, { kind: ErrorKind.NotFound }) };
    // Epoch 1 is the first claim ever, so there is nothing recorded to load; a later claim brings the records.
    if (claim.lease.epoch > 1) await execution.restore(claim.steps);
    // A cancel requested before this claim: delivered at the code's first pending await (its cut kept if stored).
    if (claim.cancel) execution.cancel.deliver(claim.cancel.cutAt && { cutAt: claim.cancel.cutAt, reason: claim.cancel.reason });
    let input: unknown;
    try {
      input = this.serializer.decode(claim.input);
    } catch (err: unknown) {
      return { error: toStepError(err, { stepName: `${claim.workflowName}.run`, attempt: 1 }, this.classifyError) };
    }
    const ctx = new WorkflowContextImpl(execution);
    const running = runScopeStorage
      .run({ execution, path: '', inStep: false }, async () => inRunContext(claim.lease, () => entry.instance.run(input, ctx)))
      .then<Outcome, Outcome>((value) => ({ kind: 'returned', value }), (error: unknown) => ({ kind: 'threw', error }));
    const first = await Promise.race([running, execution.stopped]);
    // A stop (sleep, lost lease, non-determinism) wins even if user code caught the error and returned.
    const stop = execution.stopReason;
    return stop ? { stop } : { outcome: first as Outcome, execution };
  }

  private async drive(claim: ClaimedRun, execution: RunExecution): Promise<ExecutionStop | 'finished'> {
    const ran = await this.execute(claim, execution);
    if ('error' in ran) return this.fail(execution, ran.error);
    if ('stop' in ran) return ran.stop.kind === 'fatal' ? this.fail(execution, ran.stop.error) : ran.stop;
    const settled = ran.outcome;
    execution.workflowLogger.flush(); // what the code logged after its last recorded operation is new
    const cancelled = execution.cancel.deliveredError;
    // After a delivered cancel the run ends CANCELLED, unless its code failed otherwise (a compensation that failed).
    if (cancelled && (settled.kind === 'returned' || settled.error instanceof WorkflowCancelledError)) return this.end(execution, 'CANCELLED', null, cancelStepError(cancelled.reason));
    if (settled.kind === 'threw') {
      return this.fail(execution, toStepError(settled.error, { stepName: `${claim.workflowName}.run`, attempt: 1 }, this.classifyError));
    }
    let text: string;
    try {
      text = this.serializer.encode(settled.value, `output of workflow "${claim.workflowName}"`).text;
    } catch (err: unknown) {
      return this.fail(execution, unstorableValueError(err, `${claim.workflowName}.run`, 1));
    }
    return this.end(execution, 'COMPLETED', text, null);
  }

  private async end(execution: RunExecution, status: 'COMPLETED' | 'CANCELLED', output: string | null, error: StepError | null): Promise<'finished' | ExecutionStop> {
    const stored = error && serializeStepError(error);
    const written = await execution.write(`recording its end (${status})`, () => this.runs.finishRun(execution.lease, status, output, stored));
    if (!written) return this.lost(execution, `its end (${status}) was refused`);
    traceRunEnd(execution.lease, status, error);
    recordRunEnd(execution.lease, status);
    if (status === 'CANCELLED') execution.logger.log(`Run ${execution.runId} (${execution.workflowName} v${execution.version}) cancelled${error ? `: ${error.message}` : ''}`);
    else execution.logger.debug(`Run ${execution.runId} (${execution.workflowName} v${execution.version}) completed`);
    return 'finished';
  }

  /** Records the run's failure; an error the database refuses is replaced by one that says so. */
  private async fail(execution: RunExecution, error: StepError): Promise<ExecutionStop | 'finished'> {
    let stored = serializeStepError(error);
    const write = (): Promise<boolean> => this.runs.finishRun(execution.lease, 'FAILED', null, stored);
    let written: boolean;
    try {
      written = await execution.write('recording its failure', write);
    } catch (err: unknown) {
      if (!(err instanceof StepError && err.code === 'KAGZI_UNSTORABLE')) throw err;
      stored = serializeStepError(
        new PermanentError(`The run failed with [${error.kind}], but its error could not be stored: ${err.message}`, { kind: error.kind, code: 'KAGZI_UNSTORABLE' }),
      );
      written = await execution.write('recording its failure', write);
    }
    if (!written) return this.lost(execution, 'its failure could not be recorded');
    traceRunEnd(execution.lease, 'FAILED', error);
    recordRunEnd(execution.lease, 'FAILED');
    execution.logger.warn(`Run ${execution.runId} (${execution.workflowName} v${execution.version}) failed: [${error.kind}] ${error.message}`);
    return 'finished';
  }

  private lost(execution: RunExecution, why: string): ExecutionStop {
    execution.logger.warn(`Run ${execution.runId}: lease lost, ${why}`);
    recordLeaseLost(execution.lease);
    execution.abort(why);
    return { kind: 'lost', reason: why };
  }
}
