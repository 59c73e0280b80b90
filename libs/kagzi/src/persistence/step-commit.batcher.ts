import { SerializedStepError } from '../errors/step.error';
import { KagziDatabase } from './kagzi-database';
import { commitStep } from './sql/commit-step.sql';
import { commitSteps } from './sql/commit-steps.sql';
import { Lease, StepPlacement } from './store.types';

/** A step's record as `RunStore.commitStep` takes it. */
export type StepRecord = {
  key: string; name: string; status: 'COMPLETED' | 'FAILED'; argsHash: string; output: string | null;
  error: SerializedStepError | null; startedAt: Date; attempt: number;
} & StepPlacement;

interface Pending {
  lease: Lease;
  step: StepRecord;
  resolve(written: boolean): void;
  reject(err: unknown): void;
}

/** Steps per statement at most: one statement's JSON stays small and one transaction short. */
const MAX_BATCH = 128;

/**
 * Group commit of step records. A record is sent at once when no commit statement is in flight;
 * records that arrive while one is (from the other runs and branches of this process) wait for it and
 * then go together in one statement (commit-steps.sql.ts), so under load many steps share one round
 * trip and one transaction, and alone a step pays nothing extra. Each record keeps its own fence: a
 * record whose lease is gone writes nothing and resolves false, as commit-step.sql.ts would.
 * If a batch statement fails, its records are sent again one by one, so one record's trouble (a lock
 * conflict, a deadlock victim) is never another run's: each caller sees what its own statement did.
 */
export class StepCommitBatcher {
  private queue: Pending[] = [];
  private flying = false;

  constructor(private readonly db: KagziDatabase) {}

  /** Resolves true when the record was written, false when its fence held nothing (lease gone, or recorded before). */
  commit(lease: Lease, step: StepRecord): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ lease, step, resolve, reject });
      // Records submitted in this same tick join the first statement too.
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
      const rows = await this.db.run(commitStep.with({ ...item.step, ...item.lease }));
      item.resolve(rows.length === 1);
    } catch (err: unknown) {
      item.reject(err);
    }
  }

  private async sendMany(batch: Pending[]): Promise<void> {
    let written: Set<string>;
    try {
      const rows = await this.db.run<{ run_id: string; key: string }>(commitSteps.with({ rows: encodeBatch(batch) }));
      written = new Set(rows.map((r) => `${r.run_id}\n${r.key}`));
    } catch {
      await Promise.all(batch.map((item) => this.sendOne(item)));
      return;
    }
    for (const item of batch) item.resolve(written.has(`${item.lease.runId}\n${item.step.key}`));
  }
}

/**
 * The batch as one JSON array; outputs are JSON text already and go in as they are, wrapped as
 * `{"v": output}` so that an output that is JSON `null` stays JSON null (a bare null field would
 * come out of json_to_recordset as SQL NULL).
 */
function encodeBatch(batch: Pending[]): string {
  const parts = batch.map(({ lease, step }) => {
    const fields = JSON.stringify({
      run_id: lease.runId, owner: lease.owner, epoch: lease.epoch, key: step.key, name: step.name, status: step.status,
      args_hash: step.argsHash, error: step.error, attempt: step.attempt, started_at: step.startedAt.toISOString(),
      grp: step.group ?? null, branch: step.branch ?? null,
    });
    return step.output === null ? fields : `${fields.slice(0, -1)},"output":{"v":${step.output}}}`;
  });
  return `[${parts.join(',')}]`;
}
