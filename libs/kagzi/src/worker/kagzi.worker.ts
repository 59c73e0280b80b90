import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { workflowPair } from '../common/names';
import { ResolvedKagziOptions, ResolvedWorkerOptions } from '../common/resolve-options';
import { settleWithin } from '../common/timeout';
import { WorkflowRegistry } from '../discovery/workflow.registry';
import { RunExecution } from '../execution/run-execution';
import { WorkflowRunner } from '../execution/workflow.runner';
import { KAGZI_RESOLVED_OPTIONS } from '../kagzi.constants';
import { isConnectionFailure } from '../persistence/connection-failure';
import { ConnectionRetry } from '../persistence/connection-retry';
import { NotificationListener } from '../persistence/notification.listener';
import { RunStore } from '../persistence/run.store';
import { ClaimedRun, Lease, ServedPairs } from '../persistence/store.types';
import { VersionStore } from '../persistence/version.store';
import { WorkerStore } from '../persistence/worker.store';
import { observeActiveRuns, recordLeaseLost } from '../metrics/run.metrics';
import { ClaimLoop } from './claim-loop';
import { LeaseKeeper } from './lease-keeper';
import { servedPairs, WorkerRegistration } from './worker-registration';
import { WorkerSnapshot, WorkerState } from './worker-snapshot';

export type { WorkerSnapshot, WorkerState } from './worker-snapshot';

/** A run this worker executes, from its claim until its execution ended. */
interface HeldRun {
  lease: Lease;
  execution: RunExecution;
  done: Promise<void>;
}

interface Running {
  options: ResolvedWorkerOptions;
  registration: WorkerRegistration;
  leases: LeaseKeeper;
  loop: ClaimLoop<ClaimedRun>;
  unsubscribe: Array<() => void>;
}

/**
 * The worker's Nest lifecycle: on application bootstrap it registers, keeps leases and starts the claim loop; in
 * beforeApplicationShutdown it drains (stop claiming, let runs finish up to `shutdownTimeout`, hand the rest back).
 * At most `concurrency` runs execute at once. Installs no signal handlers.
 */
@Injectable()
export class KagziWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Kagzi');
  private readonly options: ResolvedWorkerOptions | false;
  private readonly reconnectTimeoutMs: number;
  private currentState: WorkerState = 'CREATED';
  /** Every run this worker holds, from its claim until its execution ended: the one record of runs in flight. */
  private readonly held = new Map<string, HeldRun>();
  /** Runs stopped here (lost, drained) while a step body of theirs, its attempt unrecorded, still runs: not claimed here until it ends. */
  private readonly lingering = new Set<string>();
  private served: ServedPairs = { names: [], versions: [] };
  private running?: Running;
  /** Claims fail because the database is unreachable (logged once until they work again). */
  private claimFailing = false;
  private lastPollAt?: Date;
  /** This process's row in the worker registry (a restart is a new worker, possibly with the same name). */
  readonly id = randomUUID();
  private readyResolve!: () => void;
  /** Resolves once the worker is registered and polling. */
  readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));

  /** @internal Nest creates the worker; read it with `app.get(KagziWorker)` (state, ready, snapshot()). */
  constructor(
    @Inject(KAGZI_RESOLVED_OPTIONS) options: ResolvedKagziOptions,
    private readonly registry: WorkflowRegistry,
    private readonly runs: RunStore,
    private readonly workers: WorkerStore,
    private readonly versions: VersionStore,
    private readonly notifications: NotificationListener,
    private readonly runner: WorkflowRunner,
  ) {
    this.options = options.worker;
    this.reconnectTimeoutMs = options.reconnectTimeoutMs;
  }

  /** Its lifecycle state. */ get state(): WorkerState {
    return this.currentState;
  }

  /** `worker.name`; undefined with `worker: false`. */ get name(): string | undefined {
    return this.options ? this.options.name : undefined;
  }

  /** Facts for health checks and `listWorkers`. */
  snapshot(): WorkerSnapshot {
    return {
      state: this.currentState,
      activeRuns: this.held.size,
      concurrency: this.options ? this.options.concurrency : 0,
      lastPollAt: this.lastPollAt,
      lastHeartbeatAt: this.running?.leases.lastBeatAt,
      served: this.served,
    };
  }

  /** Nest calls it: registers the worker and starts claiming; throws DatabaseUnavailableError past `reconnectTimeout`. */
  async onApplicationBootstrap(): Promise<void> {
    const options = this.options;
    if (!options) {
      this.readyResolve();
      return;
    }
    this.served = servedPairs(this.registry.all(), options.workflows);
    const registration = new WorkerRegistration(this.id, options, this.served, this.workers, this.logger);
    // A database that restarts while the app boots is waited for, as open() waits for it.
    const retry = new ConnectionRetry(this.reconnectTimeoutMs);
    await retry.run('recording the served versions at boot', () => this.versions.registerVersions(this.served, true));
    await retry.run('registering the worker', () => registration.register());
    const leases = this.keepLeases(options, registration);
    const loop = this.claimLoop(options, leases);
    const unsubscribe = [
      // A run of a workflow this worker does not serve cannot be claimed here: no claim for it. An empty
      // name (the LISTEN session came back: notifications may have been missed) wakes every worker.
      this.notifications.onWakeup((name) => (name === '' || this.served.names.includes(name)) && loop.wake()),
      // A cancel of a run this worker holds: its code receives it at its pending await.
      this.notifications.onCancel((runId) => this.held.get(runId)?.execution.cancel.deliver()),
      // A run this worker holds ended elsewhere: stop it here too. (Its own end notifies as well.)
      this.notifications.onAnyFinished((runId, notice) => {
        if (notice.status === 'CANCELLED') this.held.get(runId)?.execution.abort('the run was cancelled');
      }),
      observeActiveRuns(() => this.held.size),
    ];
    this.running = { options, registration, leases, loop, unsubscribe };
    this.currentState = 'RUNNING';
    leases.start();
    loop.start();
    const pairs = this.served.names.map((n, i) => workflowPair(n, this.served.versions[i])).join(', ') || 'none';
    this.logger.log(`Worker ${options.name} started (concurrency ${options.concurrency}, serving ${pairs})`);
    this.readyResolve();
  }

  /** Drain: stop claiming, let in-flight runs finish up to shutdownTimeout, then hand the rest back. */
  async beforeApplicationShutdown(): Promise<void> {
    const running = this.running;
    if (!running || this.currentState !== 'RUNNING') return;
    const { options, registration, leases, loop } = running;
    this.currentState = 'DRAINING';
    this.logger.log(`Worker ${options.name} draining: ${this.held.size} run(s) in flight, up to ${options.shutdownTimeoutMs} ms`);
    const claimsStopped = loop.stop();
    await registration.recordStatus('DRAINING', { activeRuns: this.held.size, shutdownTimeoutMs: options.shutdownTimeoutMs });
    await claimsStopped;
    const finished = await settleWithin(Promise.all([...this.held.values()].map((run) => run.done)), options.shutdownTimeoutMs);
    const handedBack = finished ? 0 : await this.handBack(options);
    leases.stop();
    for (const off of running.unsubscribe) off();
    await registration.recordStatus('STOPPED', { handedBack });
    this.currentState = 'STOPPED';
    this.logger.log(`Worker ${options.name} stopped`);
  }

  private keepLeases(options: ResolvedWorkerOptions, registration: WorkerRegistration): LeaseKeeper {
    return new LeaseKeeper({
      workerName: options.name,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      leaseDurationMs: options.leaseDurationMs,
      logger: this.logger,
      held: () => [...this.held.values()].map((run) => run.lease),
      beat: (leases) =>
        this.workers.heartbeat(
          { id: this.id, name: options.name, status: this.currentState === 'DRAINING' ? 'DRAINING' : 'RUNNING', activeRuns: this.held.size },
          leases,
          options.leaseDurationMs,
        ),
      lose: (lease, reason) => {
        recordLeaseLost(lease);
        const run = this.held.get(lease.runId);
        if (run?.lease.epoch === lease.epoch) this.stopHeld(run, reason);
      },
      cancel: (lease) => this.held.get(lease.runId)?.execution.cancel.deliver(),
      afterBeat: () => registration.pruneIfDue(),
    });
  }

  private claimLoop(options: ResolvedWorkerOptions, leases: LeaseKeeper): ClaimLoop<ClaimedRun> {
    return new ClaimLoop<ClaimedRun>({
      pollIntervalMs: options.pollIntervalMs, capacity: options.concurrency,
      free: () => options.concurrency - this.held.size,
      // A worker whose heartbeats cannot renew leases in time would only claim runs to lose them.
      mayClaim: () => leases.renewable(),
      claim: async (max) => {
        const claimed = await this.runs.claimRuns(options.name, this.served, max, options.leaseDurationMs, [...this.held.keys(), ...this.lingering]);
        if (this.claimFailing) this.logger.log(`Worker ${options.name}: claiming works again`);
        this.claimFailing = false;
        return claimed;
      },
      launch: (run) => this.launch(options, run),
      nextDueInMs: () => this.runs.nextDueInMs(this.served),
      polled: () => (this.lastPollAt = new Date()),
      claimFailed: (err) => {
        // An outage fails every poll: say so once, at WARN (it passes); anything else is a fault, at ERROR each time.
        const outage = isConnectionFailure(err);
        if (!outage) this.logger.error(`Worker ${options.name}: claiming failed, retrying in ${options.pollIntervalMs} ms: ${String(err)}`);
        else if (!this.claimFailing) this.logger.warn(`Worker ${options.name}: database unreachable, claiming paused; retrying every ${options.pollIntervalMs} ms: ${String(err)}`);
        this.claimFailing = outage;
      },
    });
  }

  private launch(options: ResolvedWorkerOptions, claimed: ClaimedRun): void {
    const { execution, done } = this.runner.start(claimed);
    const runId = claimed.lease.runId;
    const run: HeldRun = {
      lease: claimed.lease,
      execution,
      done: done.then((end) => {
        const wasFull = this.held.size >= options.concurrency;
        if (this.held.get(runId) === run) this.held.delete(runId);
        const bodies = end !== 'finished' && end.kind === 'lost' ? execution.fibers.bodiesSettled() : undefined;
        if (bodies) {
          this.lingering.add(runId);
          void bodies.then(() => this.lingering.delete(runId));
        }
        if (end !== 'finished' && end.kind === 'suspended') this.running?.loop.wakeAt(end.wakeAt);
        // A full worker may have left due runs unclaimed: a freed slot is a reason to claim again.
        if (wasFull) this.running?.loop.wake();
      }),
    };
    this.held.set(runId, run);
  }

  private async handBack(options: ResolvedWorkerOptions): Promise<number> {
    const held = [...this.held.values()];
    for (const run of held) this.stopHeld(run, 'the worker is shutting down');
    try {
      const released = await this.workers.releaseRuns({ id: this.id, name: options.name }, held.map((run) => run.lease));
      this.logger.warn(`Worker ${options.name}: drain timed out; handed back ${released.length} run(s) for another worker`);
      return released.length;
    } catch (err: unknown) {
      this.logger.error(`Worker ${options.name}: could not hand back runs (they resume when their leases expire): ${String(err)}`);
      return 0;
    }
  }

  /** @internal Testing (`kt.clock.advance`): in-process waits end `ms` earlier, and the loop claims what became due. */
  skipTime(ms: number): void {
    for (const run of this.held.values()) run.execution.fibers.skip(ms);
    this.running?.loop.wake();
  }

  /** Stops a held run here, once. */
  private stopHeld(run: HeldRun, reason: string): void {
    if (run.execution.stopReason) return;
    run.execution.logger.warn(`Run ${run.lease.runId}: stopping it in worker ${this.name}: ${reason}`);
    run.execution.abort(reason);
  }
}
