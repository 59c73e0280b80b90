import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { leaseDeadlineMs, leaseRenewable } from '../common/lease-timing';
import { ResolvedKagziOptions, ResolvedWorkerOptions } from '../common/resolve-options';
import { WorkflowRegistry } from '../discovery/workflow.registry';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RunExecution } from '../execution/run-execution';
import { WorkflowRunner } from '../execution/workflow.runner';
import { KAGZI_RESOLVED_OPTIONS, KAGZI_VERSION } from '../kagzi.constants';
import { isConnectionFailure } from '../persistence/connection-failure';
import { ConnectionRetry } from '../persistence/connection-retry';
import { NotificationListener } from '../persistence/notification.listener';
import { ClaimedRunRow } from '../persistence/run.rows';
import { Lease, RunRepository, ServedPairs } from '../persistence/run.repository';
import { WakeableDelay } from './wakeable-delay';

export type WorkerState = 'CREATED' | 'RUNNING' | 'DRAINING' | 'STOPPED';

/** Old STOPPED/LOST workers and events are pruned at most this often, by whichever worker's heartbeat comes first. */
const PRUNE_EVERY_MS = 10 * 60_000;

/** Worker names registered by apps in this process (a pid match alone does not make a row stale). */
const LIVE_NAMES_IN_PROCESS = new Set<string>();

interface HeldRun {
  lease: Lease;
  execution?: RunExecution;
  abortReason?: string;
}

/**
 * Claims due runs and executes them, at most `concurrency` at once. NOTIFY wakes it when work
 * arrives; otherwise it sleeps until the next due time or the poll interval, whichever is sooner.
 * Starts on application bootstrap, drains in beforeApplicationShutdown; installs no signal handlers.
 */
@Injectable()
export class KagziWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Kagzi');
  private readonly options: ResolvedWorkerOptions | false;
  private readonly reconnectTimeoutMs: number;
  private currentState: WorkerState = 'CREATED';
  /** Every run this worker has claimed, from the claim on (its steps may still be loading). */
  private readonly held = new Map<string, HeldRun>();
  private readonly finishing = new Set<Promise<void>>();
  private inFlight = 0;
  private readonly delay = new WakeableDelay();
  private loopDone?: Promise<void>;
  private heartbeatTimer?: NodeJS.Timeout;
  private leaseDeadlineTimer?: NodeJS.Timeout;
  private readonly wakeTimers = new Set<NodeJS.Timeout>();
  private served: ServedPairs = { names: [], versions: [] };
  private unsubscribe: Array<() => void> = [];
  /** This process's row in the worker registry (a restart is a new worker, possibly with the same name). */
  readonly id = randomUUID();
  private lastPruneAt = 0;
  private startedAt = Date.now();
  /** When the last heartbeat that renewed the leases was sent (leases are counted from the statement). */
  private lastRenewalSentAt?: number;
  private heartbeatInFlight = false;
  /** A heartbeat failed: it is tried again before the next tick. */
  private heartbeatRetryTimer?: NodeJS.Timeout;
  /** Claims fail because the database is unreachable (logged once until they work again). */
  private claimFailing = false;
  private lastPollAt?: Date;
  private lastHeartbeatAt?: Date;
  private readyResolve!: () => void;
  /** Resolves once the worker is registered and polling. */
  readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));

  constructor(
    @Inject(KAGZI_RESOLVED_OPTIONS) options: ResolvedKagziOptions,
    private readonly registry: WorkflowRegistry,
    private readonly repository: RunRepository,
    private readonly notifications: NotificationListener,
    private readonly runner: WorkflowRunner,
  ) {
    this.options = options.worker;
    this.reconnectTimeoutMs = options.reconnectTimeoutMs;
  }

  get state(): WorkerState {
    return this.currentState;
  }

  get name(): string | undefined {
    return this.options ? this.options.name : undefined;
  }

  /** Facts for health checks and `listWorkers`. */
  snapshot(): { state: WorkerState; activeRuns: number; concurrency: number; lastPollAt?: Date; lastHeartbeatAt?: Date; served: ServedPairs } {
    return {
      state: this.currentState,
      activeRuns: this.inFlight,
      concurrency: this.options ? this.options.concurrency : 0,
      lastPollAt: this.lastPollAt,
      lastHeartbeatAt: this.lastHeartbeatAt,
      served: this.served,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    const options = this.options;
    if (!options) {
      this.readyResolve();
      return;
    }
    this.served = this.servedPairs(options);
    this.startedAt = Date.now();
    // A database that restarts while the app boots is waited for, as open() waits for it.
    const retry = new ConnectionRetry(this.reconnectTimeoutMs);
    await retry.run('recording the served versions at boot', () => this.repository.registerVersions(this.served, true));
    await retry.run('registering the worker', () => this.register(options));
    this.unsubscribe.push(
      this.notifications.onWakeup(() => this.delay.wake()),
      // A run this worker holds was cancelled: stop it here too. (Its own completion notifies as well.)
      this.notifications.onAnyFinished((runId, outcome) => {
        if (outcome.status === 'CANCELLED') this.abortHeld(this.held.get(runId), 'the run was cancelled');
      }),
    );
    this.currentState = 'RUNNING';
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    this.armLeaseDeadline(options);
    this.loopDone = this.loop(options);
    const pairs = this.served.names.map((n, i) => `${n}@${this.served.versions[i]}`).join(', ') || 'none';
    this.logger.log(`Worker ${options.name} started (concurrency ${options.concurrency}, serving ${pairs})`);
    this.readyResolve();
  }

  /** Drain: stop claiming, let in-flight runs finish up to shutdownTimeout, then hand the rest back. */
  async beforeApplicationShutdown(): Promise<void> {
    const options = this.options;
    if (!options || this.currentState !== 'RUNNING') return;
    this.currentState = 'DRAINING';
    this.logger.log(`Worker ${options.name} draining: ${this.inFlight} run(s) in flight, up to ${options.shutdownTimeoutMs} ms`);
    this.delay.wake();
    await this.recordStatus('DRAINING', { activeRuns: this.inFlight, shutdownTimeoutMs: options.shutdownTimeoutMs });
    await this.loopDone;
    const allDone = Promise.all([...this.finishing]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      allDone.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), options.shutdownTimeoutMs))),
    ]);
    clearTimeout(timer);
    const handedBack = timedOut ? await this.handBack(options) : 0;
    this.stopTimers();
    await this.recordStatus('STOPPED', { handedBack });
    LIVE_NAMES_IN_PROCESS.delete(options.name);
    this.currentState = 'STOPPED';
    this.logger.log(`Worker ${options.name} stopped`);
  }

  private async handBack(options: ResolvedWorkerOptions): Promise<number> {
    const held = [...this.held.values()];
    for (const run of held) this.abortHeld(run, 'the worker is shutting down');
    try {
      const released = await this.repository.releaseRuns({ id: this.id, name: options.name }, held.map((run) => run.lease));
      this.logger.warn(`Worker ${options.name}: drain timed out; handed back ${released.length} run(s) for another worker`);
      return released.length;
    } catch (err: unknown) {
      this.logger.error(`Worker ${options.name}: could not hand back runs (they resume when their leases expire): ${String(err)}`);
      return 0;
    }
  }

  /** Joins the worker registry; a live worker with the same name makes the boot fail. */
  private async register(options: ResolvedWorkerOptions, retry = true): Promise<void> {
    try {
      await this.repository.registerWorker({
        id: this.id,
        name: options.name,
        hostname: hostname(),
        pid: process.pid,
        concurrency: options.concurrency,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        workflows: this.served.names.map((n, i) => `${n}@${this.served.versions[i]}`),
        libraryVersion: KAGZI_VERSION,
      });
    } catch (err: unknown) {
      if ((err as { code?: unknown }).code === '23505') {
        // A restart on the same host (a supervisor, a Kubernetes pod) finds its predecessor's row still
        // RUNNING: if that process is gone, the name is free now rather than after 3 heartbeats.
        const holder = await this.repository.findLiveWorker(options.name);
        if (!holder) return retry ? this.register(options, false) : Promise.reject(err);
        const predecessor = holder.pid === process.pid ? !LIVE_NAMES_IN_PROCESS.has(options.name) : !processAlive(holder.pid);
        if (retry && holder.hostname === hostname() && predecessor) {
          await this.repository.markWorkerLost(holder.id, options.name);
          return this.register(options, false);
        }
        throw new InvalidOptionsError(
          `worker.name "${options.name}" is in use by a live worker (its heartbeat is recent); give each worker a unique name or leave it unset`,
        );
      }
      throw err;
    }
    this.lastHeartbeatAt = new Date();
    LIVE_NAMES_IN_PROCESS.add(options.name);
  }

  private async recordStatus(status: 'DRAINING' | 'STOPPED', data: Record<string, unknown>): Promise<void> {
    try {
      await this.repository.setWorkerStatus({ id: this.id, name: this.name ?? '' }, status, data);
    } catch (err: unknown) {
      this.logger.warn(`Worker ${this.name}: could not record ${status}: ${String(err)}`);
    }
  }

  private stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.leaseDeadlineTimer);
    clearTimeout(this.heartbeatRetryTimer);
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  private async loop(options: ResolvedWorkerOptions): Promise<void> {
    while (this.currentState === 'RUNNING') {
      const free = options.concurrency - this.inFlight;
      let idleMs = options.pollIntervalMs;
      // Wakes that arrived before this point are answered by this iteration's claim.
      this.delay.clearPending();
      // lastPollAt: the loop looked for work and could have taken it (or was full). The health
      // check's "deaf worker" test reads it: a loop whose claims fail or that stopped leaves it stale.
      if (free <= 0) this.lastPollAt = new Date();
      // A worker whose heartbeats cannot renew leases in time would only claim runs to lose them.
      if (free > 0 && this.leasesRenewable(options)) {
        try {
          const claimed = await this.repository.claimRuns(options.name, this.served, free, options.leaseDurationMs);
          if (this.claimFailing) this.logger.log(`Worker ${options.name}: claiming works again`);
          this.claimFailing = false;
          this.lastPollAt = new Date();
          for (const row of claimed) this.launch(row);
          if (claimed.length === free) continue;
          // Nothing else is due now. Only when the claim came back empty is it worth asking when
          // the next run is due: a run that was just claimed does not need this worker to poll for it.
          if (claimed.length === 0 && !this.delay.pending) {
            const dueIn = await this.repository.nextDueInMs(this.served);
            if (dueIn !== undefined) idleMs = Math.min(idleMs, Math.max(0, Math.ceil(dueIn)));
          }
        } catch (err: unknown) {
          if (this.currentState !== 'RUNNING') break;
          // An outage fails every poll: say so once, at WARN (it passes); anything else is a fault, at ERROR each time.
          if (!isConnectionFailure(err)) {
            this.logger.error(`Worker ${options.name}: claiming failed, retrying in ${options.pollIntervalMs} ms: ${String(err)}`);
          } else if (!this.claimFailing) {
            this.logger.warn(`Worker ${options.name}: database unreachable, claiming paused; retrying every ${options.pollIntervalMs} ms: ${String(err)}`);
          }
          this.claimFailing = isConnectionFailure(err);
        }
      }
      if (this.currentState !== 'RUNNING') break;
      await this.delay.wait(idleMs);
    }
  }

  private launch(row: ClaimedRunRow): void {
    this.inFlight++;
    const run: HeldRun = { lease: { runId: row.id, owner: this.options ? this.options.name : '', epoch: row.lease_epoch } };
    this.held.set(row.id, run);
    const { execution, done } = this.runner.start(row, run.lease.owner);
    run.execution = execution;
    const finished = done
      .then((end) => {
        if (end !== 'finished' && end.kind === 'suspended') this.wakeAt(end.wakeAt);
      })
      .finally(() => {
        if (this.held.get(row.id) === run) this.held.delete(row.id);
        // A full worker may have left due runs unclaimed: a freed slot is a reason to claim again.
        const wasFull = this.options !== false && this.inFlight >= this.options.concurrency;
        this.inFlight--;
        this.finishing.delete(finished);
        if (wasFull) this.delay.wake();
      });
    this.finishing.add(finished);
  }

  /** A run this worker put to sleep: wake the loop when it is due rather than at the next poll. */
  private wakeAt(when: Date): void {
    // Already due (a zero back-off): a timer would still cost a millisecond or more.
    if (when.getTime() <= Date.now()) {
      this.delay.wake();
      return;
    }
    // Beyond a poll interval the loop looks for due runs anyway (nextDue): no timer needed.
    if (this.options && when.getTime() - Date.now() > this.options.pollIntervalMs) return;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(timer);
      this.delay.wake();
    }, Math.max(0, when.getTime() - Date.now()));
    timer.unref();
    this.wakeTimers.add(timer);
  }

  private async heartbeat(): Promise<void> {
    const options = this.options;
    if (!options || (this.currentState !== 'RUNNING' && this.currentState !== 'DRAINING')) return;
    const held = [...this.held.values()];
    if (this.heartbeatInFlight) return; // a hanging heartbeat is not stacked with more
    this.heartbeatInFlight = true;
    const sentAt = Date.now();
    try {
      const extended = await this.repository.heartbeat(
        { id: this.id, name: options.name, status: this.currentState, activeRuns: this.inFlight },
        held.map((run) => run.lease),
        options.leaseDurationMs,
      );
      this.lastRenewalSentAt = sentAt;
      this.armLeaseDeadline(options);
      this.lastHeartbeatAt = new Date();
      for (const run of held) {
        if (!extended.has(run.lease.runId) && this.held.get(run.lease.runId) === run) {
          this.abortHeld(run, 'its lease could not be renewed (cancelled, or claimed by another worker)');
        }
      }
    } catch (err: unknown) {
      // A blip must not cost the leases: try again a quarter interval later, not only at the next tick.
      const retryMs = Math.ceil(options.heartbeatIntervalMs / 4);
      this.logger.warn(`Worker ${options.name}: heartbeat failed (${String(err)}); retrying in ${retryMs} ms`);
      clearTimeout(this.heartbeatRetryTimer);
      this.heartbeatRetryTimer = setTimeout(() => void this.heartbeat(), retryMs);
      this.heartbeatRetryTimer.unref();
    } finally {
      this.heartbeatInFlight = false;
    }
    if (Date.now() - this.lastPruneAt > PRUNE_EVERY_MS) {
      this.lastPruneAt = Date.now();
      await this.repository.pruneWorkers(options.retentionMs).catch((err: unknown) => {
        this.logger.warn(`Worker ${options.name}: pruning old workers failed: ${String(err)}`);
      });
    }
  }

  /**
   * Leases run from when the last successful heartbeat was sent. If no heartbeat renews them by the
   * deadline (heartbeats failing or hanging), stop the runs here rather than race a new owner.
   */
  private armLeaseDeadline(options: ResolvedWorkerOptions): void {
    clearTimeout(this.leaseDeadlineTimer);
    const deadline = (this.lastRenewalSentAt ?? this.startedAt) + leaseDeadlineMs(options.heartbeatIntervalMs, options.leaseDurationMs);
    this.leaseDeadlineTimer = setTimeout(() => {
      for (const run of this.held.values()) this.abortHeld(run, 'its lease could not be renewed before expiry');
    }, Math.max(0, deadline - Date.now()));
    this.leaseDeadlineTimer.unref();
  }

  /** Whether a heartbeat sent now can still renew the leases before the deadline (see lease-timing.ts). */
  private leasesRenewable(options: ResolvedWorkerOptions): boolean {
    return leaseRenewable(Date.now() - (this.lastRenewalSentAt ?? this.startedAt), options.heartbeatIntervalMs, options.leaseDurationMs);
  }

  /** Stops a held run here; one still loading its steps is stopped as soon as it is ready. */
  private abortHeld(run: HeldRun | undefined, reason: string): void {
    if (!run || run.abortReason !== undefined) return;
    this.logger.warn(`Run ${run.lease.runId}: stopping it in worker ${this.name}: ${reason}`);
    run.abortReason = reason;
    run.execution?.abort(reason);
  }

  private servedPairs(options: ResolvedWorkerOptions): ServedPairs {
    const all = this.registry.all();
    if (options.workflows) {
      const unknown = options.workflows.filter((name) => !all.some((w) => w.name === name));
      if (unknown.length > 0) {
        throw new InvalidOptionsError(`worker.workflows names workflows that no @Workflow class in this app registers: ${unknown.join(', ')}`);
      }
    }
    const served = options.workflows ? all.filter((w) => options.workflows?.includes(w.name)) : all;
    return { names: served.map((w) => w.name), versions: served.map((w) => w.version) };
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
