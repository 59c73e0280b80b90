import { Inject, Injectable, OnApplicationBootstrap, Type } from '@nestjs/common';
import { Duration } from '../common/duration';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { WorkflowMetadataAccessor } from '../discovery/workflow-metadata.accessor';
import { WorkflowRegistry } from '../discovery/workflow.registry';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { KAGZI_RESOLVED_OPTIONS } from '../kagzi.constants';
import { Page, RunDetails, RunFilter, RunSummary, ScheduleInfo, StartOptions, WorkerInfo, WorkflowVersionInfo } from '../interfaces/run.interface';
import { WorkflowRef } from '../interfaces/workflow.interface';
import { ConnectionRetry } from '../persistence/connection-retry';
import { RunStore } from '../persistence/run.store';
import { SignalStore } from '../persistence/signal.store';
import { VersionStore } from '../persistence/version.store';
import type { RunHistory } from '../interfaces/run-history.interface';
import { assertIdempotencyKey, assertName, assertRunId } from './client-input';
import { BatchStarter, StartManyItem, StartManyOptions } from './batch-starter';
import { RunOutcomeWaiter } from './run-outcome.waiter';
import { EventReader } from './event-reader';
import { SignalDelivery } from './signal-delivery';
import { VersionAdmin } from './version-admin';
import { RunHandle } from './run.handle';
import { RunControl } from './run-control';
import { RunCountFilter, RunQueries } from './run-queries';
import { RunStarter } from './run-starter';
import { KagziDatabase } from '../persistence/kagzi-database';
import { WorkflowHandle } from './workflow.handle';
export type { RunCountFilter } from './run-queries';

/**
 * Starts runs and inspects them; inject it anywhere (`KagziModule` is global). Works in client-only
 * processes (`worker: false`) too.
 */
@Injectable()
export class WorkflowClient implements OnApplicationBootstrap {
  private readonly connection: ConnectionRetry;
  private readonly control: RunControl;
  private readonly queries: RunQueries;
  private readonly starter: RunStarter;
  private readonly batch: BatchStarter;
  private readonly delivery: SignalDelivery;
  private readonly versionAdmin: VersionAdmin;

  /** @internal Nest creates the client; inject it rather than constructing it. */
  constructor(
    @Inject(KAGZI_RESOLVED_OPTIONS) private readonly options: ResolvedKagziOptions,
    private readonly runs: RunStore,
    private readonly versions: VersionStore,
    private readonly waiter: RunOutcomeWaiter,
    private readonly registry: WorkflowRegistry,
    private readonly accessor: WorkflowMetadataAccessor,
    private readonly serializer: PayloadSerializer,
    signals: SignalStore,
    private readonly events: EventReader,
    db: KagziDatabase,
  ) {
    this.connection = new ConnectionRetry(options.reconnectTimeoutMs);
    this.control = new RunControl(runs, this.connection);
    this.queries = new RunQueries(db, this.connection, serializer);
    this.starter = new RunStarter(runs, db, serializer, this.connection, waiter);
    this.batch = new BatchStarter(db, serializer, this.connection, (workflow) => this.workflowName(workflow));
    this.delivery = new SignalDelivery(signals, serializer, this.connection);
    this.versionAdmin = new VersionAdmin(versions, this.connection);
  }

  /**
   * Starts a run and returns its handle. With an `idempotencyKey` already used for this workflow,
   * returns the existing run's handle instead of starting a second run.
   */
  async start<I, O>(workflow: WorkflowRef<I, O>, input: I, options: StartOptions = {}): Promise<WorkflowHandle<O>> {
    return this.getHandle<O>(await this.starter.start(this.workflowName(workflow), input, options));
  }

  /**
   * Starts many runs with one SQL statement and one NOTIFY; returns their handles in item order. Each item
   * is what `start()` takes and means the same (an idempotency key already used returns that run's handle;
   * a key repeated in the batch yields one run). All or nothing: every item is checked before anything is
   * written, and a bad one throws start()'s typed error naming `items[i]`. `[]` → `[]`. At most
   * 10,000 items and 64 MiB of serialized inputs per call (InvalidOptionsError / PayloadTooLargeError).
   * `options.manager` inserts the whole batch in that TypeORM transaction; per item it is refused.
   */
  async startMany<I, O>(items: ReadonlyArray<StartManyItem<I, O>>, options: StartManyOptions = {}): Promise<Array<WorkflowHandle<O>>> {
    return (await this.batch.startMany(items as readonly StartManyItem[], options)).map((runId) => this.getHandle<O>(runId));
  }

  /**
   * Sends a signal to a live run (by id, or by workflow and idempotency key); it is stored durably before
   * this returns and waits, in order, for the run's `ctx.waitForSignal(name)`. An undefined payload is
   * stored as null. Unknown run: RunNotFoundError; a run that has ended: RunNotActiveError.
   */
  async signal(target: string | { workflow: WorkflowRef<unknown, unknown>; idempotencyKey: string }, name: string, payload?: unknown): Promise<void> {
    if (typeof target === 'string') assertRunId(target);
    const found = typeof target === 'string' ? undefined : await this.findRun(target.workflow, target.idempotencyKey);
    if (typeof target !== 'string' && !found) throw new RunNotFoundError(`No run of workflow "${this.workflowName(target.workflow)}" has idempotency key "${target.idempotencyKey}"`);
    await this.delivery.send(found?.runId ?? (target as string), name, payload);
  }

  /** Starts the run unless its idempotency key is taken, then signals it: both in one transaction. */
  async signalWithStart<I>(
    workflow: WorkflowRef<I, unknown>,
    input: I,
    signal: { name: string; payload?: unknown },
    options: StartOptions & { idempotencyKey: string },
  ): Promise<WorkflowHandle> {
    return this.getHandle(await this.delivery.startAndSend(this.workflowName(workflow), input, signal, options));
  }

  /** The run of `workflow` started with `idempotencyKey` (a business id), or undefined; never starts one. */
  async findRun<O = unknown>(workflow: WorkflowRef<unknown, O>, idempotencyKey: string): Promise<WorkflowHandle<O> | undefined> {
    const name = this.workflowName(workflow);
    assertIdempotencyKey(idempotencyKey, 'findRun()');
    const runId = await this.connection.run(`findRun('${name}')`, () => this.runs.findRunIdByKey(name, idempotencyKey));
    return runId === undefined ? undefined : this.getHandle<O>(runId);
  }

  /**
   * The latest value the run set for event `key` (`ctx.setEvent`); with a timeout, waits until one is set.
   * Undefined if none is set by then (at once without a timeout, or when the run has ended without one).
   */
  getEvent<T = unknown>(runId: string, key: string, options?: { timeout?: Duration }): Promise<T | undefined> {
    return this.events.read<T>(runId, key, options);
  }

  /** The version `start()` uses without `options.version`: the default set, else the highest not deprecated. */
  getDefaultVersion(name: string): Promise<number> {
    return this.versionAdmin.getDefault(name);
  }

  /** Makes `version` the default for new runs of `name`, in every process at once. */
  setDefaultVersion(name: string, version: number): Promise<void> {
    return this.versionAdmin.setDefault(name, version);
  }

  /** No new runs may start on `version`; runs in flight on it still finish. Refused for the version `start()` uses now. */
  deprecateVersion(name: string, version: number): Promise<void> {
    return this.versionAdmin.deprecate(name, version);
  }

  /** Every registered version of `name`, oldest first, with its default/deprecated/served state and runs in flight. */
  listVersions(name: string): Promise<WorkflowVersionInfo[]> {
    return this.queries.listVersions(name);
  }

  /** Every known worker (pruned after `worker.retention`), newest first. */
  listWorkers(): Promise<WorkerInfo[]> {
    return this.queries.listWorkers();
  }

  /** Records the (name, version) pairs of this process's `@Workflow` classes, so `start()` accepts them anywhere; `kagzi replay`'s boot records nothing. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.options.replay) return;
    const local = this.registry.all();
    const pairs = { names: local.map((w) => w.name), versions: local.map((w) => w.version) };
    await this.connection.run('recording workflow versions at boot', () => this.versions.registerVersions(pairs, false));
  }

  /** The handle of an existing run, e.g. one started by another process; no database round trip. */
  getHandle<O = unknown>(runId: string): WorkflowHandle<O> {
    assertRunId(runId);
    return new RunHandle<O>(runId, {
      runs: this.runs,
      waiter: this.waiter,
      serializer: this.serializer,
      retry: this.connection,
      cancel: (id, reason) => this.cancel(id, reason),
    });
  }

  /** The run, its steps and their attempts, for inspection. */
  getRun(runId: string): Promise<RunDetails> {
    return this.queries.details(runId);
  }

  /** The run's recorded history as plain JSON: what `replayRun` checks the current code against (keep it as a file for replay tests in CI). */
  exportRun(runId: string): Promise<RunHistory> {
    return this.queries.history(runId);
  }

  /** Newest first; pass `nextCursor` back as `cursor` for the next page. */
  listRuns(filter: RunFilter & { limit?: number; cursor?: string } = {}): Promise<Page<RunSummary>> {
    return this.queries.listRuns(filter);
  }

  /** How many runs match `filter` (any status unless `status` narrows it); `{}` counts every run. */
  countRuns(filter: RunCountFilter = {}): Promise<number> {
    return this.queries.count('countRuns', filter);
  }

  /** Alias of {@link WorkflowClient.countRuns}: it counts runs, not workflow definitions. */
  countWorkflows(filter: RunCountFilter = {}): Promise<number> {
    return this.queries.count('countWorkflows', filter);
  }

  /**
   * Cancels a run that has not finished, and its children started with onParentClose 'cancel'. The
   * run's code receives a WorkflowCancelledError at its pending await (a step, sleep, signal wait or
   * child wait) and may run compensation in `ctx.nonCancellable`; then the run ends CANCELLED. Resolves
   * once the request is stored, not when the run has ended (await `result()` for that). A run that
   * cannot run code (never started, or no live worker serves its version) ends CANCELLED at once.
   * Cancelling a finished run, or one already cancelled, changes nothing.
   */
  cancel(runId: string, reason?: string): Promise<void> {
    return this.control.cancel(runId, reason);
  }

  /**
   * Runs a FAILED or CANCELLED run again under the same id, from where it stopped: completed steps are
   * kept (not re-executed), the failed step starts a fresh attempt series; `getRun().retries` keeps the
   * history. Any other status → RunNotRetryableError; unknown id → RunNotFoundError.
   */
  async retry(runId: string): Promise<WorkflowHandle> {
    await this.control.rerun(runId);
    return this.getHandle(runId);
  }

  /** The cron schedules of the workflows (`@Workflow({ schedule })`), with their next and last runs. */
  listSchedules(): Promise<ScheduleInfo[]> {
    return this.queries.listSchedules();
  }

  /** @internal The registered name a WorkflowRef stands for (child workflows resolve theirs through it too). */
  workflowName(workflow: WorkflowRef<unknown, unknown>): string {
    if (typeof workflow === 'string') {
      assertName(workflow);
      return workflow;
    }
    if (typeof workflow === 'function') {
      const options = this.accessor.getWorkflowOptions(workflow as Type<unknown>);
      if (!options) throw new WorkflowNotFoundError(`${workflow.name} is not a @Workflow class; decorate it with @Workflow() or pass a workflow name`);
      return options.name ?? workflow.name;
    }
    throw new InvalidOptionsError(`start(): expected a workflow name or @Workflow class, got ${typeof workflow}`);
  }
}
