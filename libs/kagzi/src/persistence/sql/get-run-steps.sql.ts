/** Steps of a run in the order they started. $1 run id */
export const getRunStepsSql = (s: string): string => `
select step_key, step_name, kind, status, output, error, attempts, started_at, completed_at, parallel_group_id, parent_step_id
from "${s}".step_runs where workflow_run_id = $1::uuid order by started_at, id`;
