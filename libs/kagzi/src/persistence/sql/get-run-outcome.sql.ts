import { statement } from '../statement';

/** What `handle.result()` and `status()` need. */
export const getRunOutcome = statement(
  'getRunOutcome',
  (s) => `
select status, output, error, continued_as from "${s}".workflow_runs where id = $1::uuid`,
  (a: { runId: string }) => [a.runId],
);
