import { Inject, Injectable } from '@nestjs/common';
import { withTimeout } from '../common/timeout';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { DEAF_WORKER_GRACE_MS, DEAF_WORKER_POLLS, LIVE_WORKER_HEARTBEATS } from '../common/limits';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { KAGZI_RESOLVED_OPTIONS } from '../kagzi.constants';
import { WorkerStore } from '../persistence/worker.store';
import { KagziWorker } from '../worker/kagzi.worker';

const DATABASE_TIMEOUT_MS = 2_000;

/**
 * Terminus indicator. Up when the database answers within 2 s and this process's worker is RUNNING,
 * heartbeating and polling. Down, with the reason in the details, while the worker drains (so load
 * balancers stop sending work first), when the database does not answer, when heartbeats stop, or
 * when the worker loop stopped while work is due (a "deaf" worker). Details: active runs, concurrency,
 * due backlog, and versions with runs in flight that no live worker serves.
 */
@Injectable()
export class KagziHealthIndicator {
  /** @internal Nest creates the indicator; inject it rather than constructing it. */
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly workers: WorkerStore,
    private readonly worker: KagziWorker,
    @Inject(KAGZI_RESOLVED_OPTIONS) private readonly options: ResolvedKagziOptions,
  ) {}

  /**
   * Checks the database and this process's worker, as described on the class; a client-only process (`worker: false`)
   * is up when the database answers. Never throws: a failed check is a `down` result.
   * @param key - The key the result is reported under. Default `'kagzi'`.
   */
  async isHealthy<const Key extends string = 'kagzi'>(key: Key = 'kagzi' as Key): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    const snapshot = this.worker.snapshot();
    const details: Record<string, unknown> = {
      worker: this.worker.name ?? null,
      state: this.options.worker ? snapshot.state : 'CLIENT_ONLY',
      activeRuns: snapshot.activeRuns,
      concurrency: snapshot.concurrency,
      lastPollAt: snapshot.lastPollAt?.toISOString() ?? null,
      lastHeartbeatAt: snapshot.lastHeartbeatAt?.toISOString() ?? null,
    };
    let stats: { due_backlog: number; unserved: string[] };
    const started = Date.now();
    try {
      stats = await withTimeout(this.workers.healthStats(snapshot.served), DATABASE_TIMEOUT_MS, () => new Error(`no answer within ${DATABASE_TIMEOUT_MS} ms`));
    } catch (err: unknown) {
      return indicator.down({ ...details, reason: `database unreachable: ${err instanceof Error ? err.message : String(err)}` });
    }
    Object.assign(details, { databaseMs: Date.now() - started, dueBacklog: stats.due_backlog, unservedVersions: stats.unserved });
    const worker = this.options.worker;
    if (!worker) return indicator.up(details);
    if (snapshot.state !== 'RUNNING') return indicator.down({ ...details, reason: `worker is ${snapshot.state}` });
    const heartbeatAge = Date.now() - (snapshot.lastHeartbeatAt?.getTime() ?? 0);
    // The rule other workers apply to this one's row (worker_is_live()): past it, they may mark it LOST.
    if (heartbeatAge > LIVE_WORKER_HEARTBEATS * worker.heartbeatIntervalMs) {
      return indicator.down({ ...details, reason: `no successful heartbeat for ${heartbeatAge} ms; leases may expire` });
    }
    const pollAge = Date.now() - (snapshot.lastPollAt?.getTime() ?? 0);
    if (stats.due_backlog > 0 && pollAge > DEAF_WORKER_POLLS * worker.pollIntervalMs + DEAF_WORKER_GRACE_MS) {
      return indicator.down({ ...details, reason: `worker loop has not run for ${pollAge} ms while ${stats.due_backlog} run(s) are due` });
    }
    return indicator.up(details);
  }
}
