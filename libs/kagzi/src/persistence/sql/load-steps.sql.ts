import { statement } from '../statement';

/** All recorded steps of a run in one round trip (a 1,000-step replay must not cost 1,000 queries). */
export const loadSteps = statement(
  'loadSteps',
  (s) => `
select step_key, step_name, kind, status, args_hash, output, error, attempts, next_attempt_at, started_at
from "${s}".step_runs where workflow_run_id = $1::uuid`,
  (a: { runId: string }) => [a.runId],
);
