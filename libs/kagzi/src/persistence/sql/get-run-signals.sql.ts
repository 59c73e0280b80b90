import { statement } from '../statement';

/** A run's signals in the order they were sent, for getRun. */
export const getRunSignals = statement(
  'getRunSignals',
  (s) => `select name, payload, sent_at, consumed_at from "${s}".signals where workflow_run_id = $1::uuid order by id`,
  (a: { runId: string }) => [a.runId],
);
