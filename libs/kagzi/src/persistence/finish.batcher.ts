import { SerializedStepError } from '../errors/step.error';
import { GroupWriter, jsonRows } from './group-writer';
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

const MAX_GROUP = 128;

/**
 * Group finish of runs (group-writer.ts): alone, finish-run.sql.ts; together, finish-runs.sql.ts,
 * which finishes only runs without a parent. An end it leaves (a child run, whose end must reach its
 * parent, or a lease gone) is written by finish-run.sql.ts, which tells the two apart.
 */
export function runEnds(db: KagziDatabase): GroupWriter<{ lease: Lease; end: RunEnd }> {
  return new GroupWriter(
    async ({ lease, end }) => (await db.run(finishRun.with({ ...lease, ...end }))).length === 1,
    async (items) => {
      const rows = await db.run<{ id: string; epoch: number }>(finishRuns.with({ rows: encode(items) }));
      // By lease, not by run: the end of an older lease of the same run is not written.
      const finished = new Set(rows.map((r) => `${r.id}\n${r.epoch}`));
      return items.map(({ lease }) => (finished.has(`${lease.runId}\n${lease.epoch}`) ? true : undefined));
    },
    MAX_GROUP,
  );
}

function encode(items: Array<{ lease: Lease; end: RunEnd }>): string {
  return jsonRows(
    items.map(({ lease, end }) => ({
      fields: { run_id: lease.runId, owner: lease.owner, epoch: lease.epoch, status: end.status, error: end.error },
      output: end.output,
    })),
  );
}
