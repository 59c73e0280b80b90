/** Every attempt of every step of a run, for getRun. $1 run id */
export const getStepAttemptsSql = (s: string): string => `
select step_key, attempt, started_at, finished_at, error
from "${s}".step_attempts where workflow_run_id = $1::uuid order by step_key, attempt`;
