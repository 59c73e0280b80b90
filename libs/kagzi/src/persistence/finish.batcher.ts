import { SerializedStepError } from '../errors/step.error';
import { KagziDatabase } from './kagzi-database';
import { finishRun } from './sql/finish-run.sql';
import { finishRuns } from './sql/finish-runs.sql';
import { Lease } from './store.types';

/** A run's end as `RunStore.finishRun` takes it. */
export interface RunEnd {
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED';
  output: string | null;
  error: SerializedStepError | null;
}

interface Pending {
  lease: Lease;
  end: RunEnd;
  resolve(written: boolean): void;
  reject(err: unknown): void;
}

const MAX_BATCH = 128;

/**
 * Group finish of runs, as step-commit.batcher.ts groups step records: an end is written at once (its
 * own statement, finish-run.sql.ts) when no finish statement is in flight; ends that arrive while one
 * is go together in one statement (finish-runs.sql.ts). That statement finishes only runs without a
 * parent; an end it leaves (a child run, whose end must reach its parent, or a lease gone) is written
 * alone, which tells the two apart; a failed group statement is replayed end by end.
 */
export class FinishBatcher {
  private queue: Pending[] = [];
  private flying = false;

  constructor(private readonly db: KagziDatabase) {}

  /** Resolves true when the run was finished, false when its lease was gone (nothing written). */
  finish(lease: Lease, end: RunEnd): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ lease, end, resolve, reject });
      if (!this.flying) {
        this.flying = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      await (batch.length === 1 ? this.sendOne(batch[0]) : this.sendMany(batch));
    }
    this.flying = false;
  }

  private async sendOne(item: Pending): Promise<void> {
    try {
      const rows = await this.db.run(finishRun.with({ ...item.lease, ...item.end }));
      item.resolve(rows.length === 1);
    } catch (err: unknown) {
      item.reject(err);
    }
  }

  private async sendMany(batch: Pending[]): Promise<void> {
    let finished: Set<string>;
    try {
      const rows = await this.db.run<{ id: string }>(finishRuns.with({ rows: encodeBatch(batch) }));
      finished = new Set(rows.map((r) => r.id));
    } catch {
      finished = new Set();
    }
    await Promise.all(batch.map((item) => (finished.has(item.lease.runId) ? item.resolve(true) : this.sendOne(item))));
  }
}

/** The ends as one JSON array; outputs are JSON text already, embedded as `{"v": output}`. */
function encodeBatch(batch: Pending[]): string {
  const parts = batch.map(({ lease, end }) => {
    const fields = JSON.stringify({ run_id: lease.runId, owner: lease.owner, epoch: lease.epoch, status: end.status, error: end.error });
    return end.output === null ? fields : `${fields.slice(0, -1)},"output":{"v":${end.output}}}`;
  });
  return `[${parts.join(',')}]`;
}
