import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { KAGZI_RESOLVED_OPTIONS } from '../kagzi.constants';
import { KagziDatabase } from '../persistence/kagzi-database';
import { KagziWorker } from '../worker/kagzi.worker';

const DATABASE_TIMEOUT_MS = 2_000;

/**
 * Terminus indicator: up when the database answers and this process's worker is running and polling.
 * Down while draining, so load balancers stop sending work before the process exits.
 */
@Injectable()
export class KagziHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly db: KagziDatabase,
    private readonly worker: KagziWorker,
    @Inject(KAGZI_RESOLVED_OPTIONS) private readonly options: ResolvedKagziOptions,
  ) {}

  async isHealthy<const Key extends string = 'kagzi'>(key: Key = 'kagzi' as Key): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    const snapshot = this.worker.snapshot();
    const details = {
      worker: this.worker.name ?? null,
      state: this.options.worker ? snapshot.state : 'CLIENT_ONLY',
      activeRuns: snapshot.activeRuns,
      concurrency: snapshot.concurrency,
      lastPollAt: snapshot.lastPollAt?.toISOString() ?? null,
    };
    const started = Date.now();
    try {
      await Promise.race([
        this.db.dataSource.query('select 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${DATABASE_TIMEOUT_MS} ms`)), DATABASE_TIMEOUT_MS).unref()),
      ]);
    } catch (err: unknown) {
      return indicator.down({ ...details, reason: `database unreachable: ${err instanceof Error ? err.message : String(err)}` });
    }
    const databaseMs = Date.now() - started;
    if (this.options.worker) {
      if (snapshot.state !== 'RUNNING') return indicator.down({ ...details, databaseMs, reason: `worker is ${snapshot.state}` });
      const staleAfter = 3 * this.options.worker.pollIntervalMs + 1_000;
      if (!snapshot.lastPollAt || Date.now() - snapshot.lastPollAt.getTime() > staleAfter) {
        return indicator.down({ ...details, databaseMs, reason: `worker has not polled for over ${staleAfter} ms` });
      }
    }
    return indicator.up({ ...details, databaseMs });
  }
}
