import { statement } from '../statement';

/** A run's retries, oldest first, for getRun. */
export const getRunRetries = statement(
  'getRunRetries',
  (s) => `
select retried_at, previous_status, previous_error from "${s}".run_retries where workflow_run_id = $1::uuid order by id`,
  (a: { runId: string }) => [a.runId],
);
