import { statement } from '../statement';

/**
 * What `client.getEvent` reads: whether the run exists and has ended, and the latest value of the key.
 * Run and value in one snapshot: a run that ended without the key set will never set it.
 */
export const getEvent = statement(
  'getEvent',
  (s) => `
select r.status, e.value, e.workflow_run_id is not null as found
from "${s}".workflow_runs r
left join "${s}".run_events e on e.workflow_run_id = r.id and e.key = $2::text
where r.id = $1::uuid`,
  (a: { runId: string; key: string }) => [a.runId, a.key],
);
