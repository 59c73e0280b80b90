import { statement } from '../statement';

/** The runs a run started as children, oldest first, for getRun. */
export const getRunChildren = statement(
  'getRunChildren',
  (s) => `
select id, workflow_name, workflow_version, status, idempotency_key, created_at, updated_at, completed_at
from "${s}".workflow_runs where parent_run_id = $1::uuid order by created_at, id`,
  (a: { runId: string }) => [a.runId],
);
