import { performance } from 'node:perf_hooks';
import { bootBenchApp } from '../bench-app';
import { emit, median, note, round } from '../report';
import { ScenarioContext } from '../scenario';
import { RETENTION_BATCH, retentionLockKey } from '../../../../libs/kagzi/src/retention/run-retention';
import { deleteExpiredRuns } from '../../../../libs/kagzi/src/persistence/sql/delete-expired-runs.sql';

/** Ended runs made for the sweep; each has 3 steps, 3 attempts, a signal and an event (9 rows in all). */
const RUNS = 20_000;
const ROWS_PER_RUN = 9;

/**
 * What retention costs: 20,000 runs that ended a day ago (made with SQL, with their rows) beside 20,000
 * young ones, then the sweep's statement issued batch after batch as a worker does. Each statement is
 * timed: it is also how long it holds the locks it takes (the deleted rows, the retention advisory
 * lock). Reports runs and rows deleted per second and the statement time per batch.
 */
export async function runRetention(ctx: ScenarioContext): Promise<void> {
  const app = await bootBenchApp(ctx.target, false);
  try {
    await app.reset();
    const schema = app.db.schema;
    for (const [age, tag] of [['1 day', 'old'], ['1 second', 'young']] as const) {
      await app.db.pool.query(
        `with made as (
           insert into "${schema}".workflow_runs (id, workflow_name, workflow_version, status, input, output, created_at, completed_at)
           select gen_random_uuid(), 'Bench.retention.${tag}', 1, 'COMPLETED', '{"json":1}', '{"json":{"ok":true}}', now() - $2::interval, now() - $2::interval
           from generate_series(1, $1::int) returning id
         ), steps as (
           insert into "${schema}".step_runs (workflow_run_id, step_key, step_name, status, output, completed_at)
           select id, 's#' || k, 's', 'COMPLETED', '{"json":1}', now() from made, generate_series(1, 3) k
         ), attempts as (
           insert into "${schema}".step_attempts (workflow_run_id, step_key, attempt, started_at, finished_at)
           select id, 's#' || k, 1, now(), now() from made, generate_series(1, 3) k
         ), signals as (
           insert into "${schema}".signals (workflow_run_id, name, payload, delivery_id, consumed_at) select id, 'go', '{"json":1}', gen_random_uuid(), now() from made
         )
         insert into "${schema}".run_events (workflow_run_id, key, value) select id, 'stage', '{"json":1}' from made`,
        [RUNS, age],
      );
    }
    await app.db.pool.query(`vacuum analyze "${schema}".workflow_runs`);
    const statementMs: number[] = [];
    let deleted = 0;
    const started = performance.now();
    for (;;) {
      const t0 = performance.now();
      const [row] = await app.db.run<{ got: boolean; deleted: number }>(
        deleteExpiredRuns.with({ lockKey: retentionLockKey(schema), retentionMs: 60_000, limit: RETENTION_BATCH }),
      );
      statementMs.push(performance.now() - t0);
      deleted += row.deleted;
      if (row.deleted < RETENTION_BATCH) break;
    }
    const seconds = (performance.now() - started) / 1000;
    const left = await app.db.pool.query<{ n: number }>(`select count(*)::int as n from "${schema}".workflow_runs`);
    if (deleted !== RUNS || left.rows[0].n !== RUNS) throw new Error(`retention: deleted ${deleted} of ${RUNS} old runs, ${left.rows[0].n} runs left (expected the ${RUNS} young ones)`);
    const params = { runs: RUNS, rows_per_run: ROWS_PER_RUN, batch: RETENTION_BATCH, young_runs_kept: RUNS };
    emit({ scenario: 'retention', metric: 'runs_deleted_per_s', value: deleted / seconds, unit: 'runs/s', n: statementMs.length, params });
    emit({ scenario: 'retention', metric: 'rows_deleted_per_s', value: (deleted * ROWS_PER_RUN) / seconds, unit: 'rows/s', n: statementMs.length, params });
    const sorted = [...statementMs].sort((a, b) => a - b);
    emit({
      scenario: 'retention',
      metric: 'statement_ms_per_batch_p50',
      value: median(statementMs),
      unit: 'ms',
      n: statementMs.length,
      params,
      detail: { max_ms: round(sorted[sorted.length - 1]), p95_ms: round(sorted[Math.floor(sorted.length * 0.95)]), note: 'a batch holds its row locks and the advisory lock for its statement only' },
    });
    note(`[retention] ${deleted} runs (${deleted * ROWS_PER_RUN} rows) in ${round(seconds)} s, ${statementMs.length} statements`);
  } finally {
    await app.close();
  }
}
