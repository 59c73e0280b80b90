import { statement } from '../statement';

/** Why a step commit inserted nothing: the lease as it is now, and the step row if one exists. */
export const findStep = statement(
  'findStep',
  (s) => `
select r.lease_owner, r.lease_epoch, r.status as run_status,
       st.step_key, st.step_name, st.kind, st.status, st.args_hash, st.output, st.error, st.attempts, st.next_attempt_at
from "${s}".workflow_runs r
left join "${s}".step_runs st on st.workflow_run_id = r.id and st.step_key = $2::text
where r.id = $1::uuid`,
  (a: { runId: string; key: string }) => [a.runId, a.key],
);
