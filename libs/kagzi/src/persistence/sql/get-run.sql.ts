import { statement } from '../statement';

/** One run with everything `getRun` shows. */
export const getRun = statement(
  'getRun',
  (s) => `
select id, workflow_name, workflow_version, status, input, output, error, idempotency_key, parent_run_id, continued_as, continued_from, cancel_requested_at, cancel_cut_at, cancel_reason,
       created_at, updated_at, completed_at
from "${s}".workflow_runs where id = $1::uuid`,
  (a: { runId: string }) => [a.runId],
);
