import { statement } from '../statement';

/** Steps of a run in the order they started. */
export const getRunSteps = statement(
  'getRunSteps',
  (s) => `
select step_key, step_name, kind, status, args_hash, output, error, attempts, next_attempt_at, started_at, completed_at, parallel_group_id, parent_step_id
from "${s}".step_runs where workflow_run_id = $1::uuid order by started_at, id`,
  (a: { runId: string }) => [a.runId],
);
