import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { ResolvedKagziOptions } from '../common/resolve-options';
import { KAGZI_RESOLVED_OPTIONS } from '../kagzi.constants';
import { KagziDatabase } from '../persistence/kagzi-database';
import { deleteExpiredRuns } from '../persistence/sql/delete-expired-runs.sql';

/** Runs deleted per statement: a few thousand rows with their steps, well under a second of locks. */
export const RETENTION_BATCH = 500;
/** Batches per sweep at most; a backlog larger than this is worked off over the next sweeps. */
const MAX_BATCHES_PER_SWEEP = 40;

/**
 * `KagziModuleOptions.retention`: in worker processes, deletes runs that ended longer ago than the
 * retention, with their steps, attempts, signals, events and retries, in small batches (see
 * delete-expired-runs.sql.ts), at most one worker at a time. Sweeps every quarter of the retention,
 * between 1 s and 1 min. Without the option nothing is ever deleted.
 */
@Injectable()
export class RunRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Kagzi');
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private readonly lockKey: string;

  /** @internal */
  constructor(
    @Inject(KAGZI_RESOLVED_OPTIONS) private readonly options: ResolvedKagziOptions,
    private readonly db: KagziDatabase,
  ) {
    this.lockKey = retentionLockKey(options.schema);
  }

  onApplicationBootstrap(): void {
    const retentionMs = this.options.retentionMs;
    if (retentionMs === undefined || this.options.worker === false || this.options.replay) return; // `kagzi replay` deletes nothing
    const everyMs = Math.min(60_000, Math.max(1_000, Math.floor(retentionMs / 4)));
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /** One sweep: batches until one deletes less than a full batch (or another worker is sweeping). Returns the runs deleted. */
  sweep(): Promise<number> {
    if (this.sweeping) return Promise.resolve(0);
    let total = 0;
    const run = (async () => {
      for (let batch = 0; batch < MAX_BATCHES_PER_SWEEP; batch++) {
        const [row] = await this.db.run<{ got: boolean; deleted: number }>(
          deleteExpiredRuns.with({ lockKey: this.lockKey, retentionMs: this.options.retentionMs ?? 0, limit: RETENTION_BATCH }),
        );
        total += row.deleted;
        if (!row.got || row.deleted < RETENTION_BATCH) break;
      }
      if (total > 0) this.logger.log(`Retention: deleted ${total} run(s) that ended more than ${this.options.retentionMs} ms ago`);
    })()
      .catch((err: unknown) => this.logger.warn(`Retention: a sweep failed; the next one retries: ${String(err)}`))
      .finally(() => (this.sweeping = undefined));
    this.sweeping = run;
    return run.then(() => total);
  }
}

/** The advisory lock a sweep holds: one per schema, so workers of different schemas on one server sweep independently. */
export function retentionLockKey(schema: string): string {
  return BigInt.asIntN(64, BigInt(`0x${createHash('sha1').update(`kagzi.retention:${schema}`).digest('hex').slice(0, 16)}`)).toString();
}
