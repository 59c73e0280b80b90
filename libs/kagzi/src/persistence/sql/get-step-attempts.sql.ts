import { statement } from '../statement';

/** Every attempt of every step of a run, for getRun. */
export const getStepAttempts = statement(
  'getStepAttempts',
  (s) => `
select step_key, run_try, attempt, started_at, finished_at, error
from "${s}".step_attempts where workflow_run_id = $1::uuid order by step_key, run_try, attempt`,
  (a: { runId: string }) => [a.runId],
);
