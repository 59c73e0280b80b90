import { SerializedStepError } from '../errors/step.error';
import { GroupWriter, jsonRows } from './group-writer';
import { KagziDatabase } from './kagzi-database';
import { commitStep } from './sql/commit-step.sql';
import { commitSteps } from './sql/commit-steps.sql';
import { Lease, StepPlacement } from './store.types';

/** A step's record as `RunStore.commitStep` takes it. */
export type StepRecord = {
  key: string; name: string; status: 'COMPLETED' | 'FAILED'; argsHash: string; output: string | null;
  error: SerializedStepError | null; startedAt: Date; attempt: number;
} & StepPlacement;

/** Steps per statement at most: one statement's JSON stays small and one transaction short. */
const MAX_GROUP = 128;

/**
 * Group commit of step records (group-writer.ts): alone, commit-step.sql.ts; together,
 * commit-steps.sql.ts. Each record keeps its own fence: a record whose lease is gone (or that was
 * recorded before) writes nothing and resolves false, as commit-step.sql.ts would.
 */
export function stepCommits(db: KagziDatabase): GroupWriter<{ lease: Lease; step: StepRecord }> {
  return new GroupWriter(
    async ({ lease, step }) => (await db.run(commitStep.with({ ...step, ...lease }))).length === 1,
    async (items) => {
      const rows = await db.run<{ run_id: string; epoch: number; key: string }>(commitSteps.with({ rows: encode(items) }));
      // By lease, not by run and key: a record of an older lease of the same run and key is not written.
      const written = new Set(rows.map((r) => `${r.run_id}\n${r.epoch}\n${r.key}`));
      return items.map(({ lease, step }) => written.has(`${lease.runId}\n${lease.epoch}\n${step.key}`));
    },
    MAX_GROUP,
  );
}

function encode(items: Array<{ lease: Lease; step: StepRecord }>): string {
  return jsonRows(
    items.map(({ lease, step }) => ({
      fields: {
        run_id: lease.runId, owner: lease.owner, epoch: lease.epoch, key: step.key, name: step.name, status: step.status,
        args_hash: step.argsHash, error: step.error, attempt: step.attempt, started_at: step.startedAt.toISOString(),
        grp: step.group ?? null, branch: step.branch ?? null,
      },
      output: step.output,
    })),
  );
}
