import { statement } from '../statement';

/**
 * Record a pending signal wait and its deadline without parking (other strands of the run are busy),
 * fenced by the lease like a step commit, so a later replay keeps the deadline. The first record wins.
 */
export const recordSignalWait = statement(
  'recordSignalWait',
  (s) => `
insert into "${s}".step_runs
  (workflow_run_id, step_key, step_name, kind, status, attempts, next_attempt_at, parallel_group_id, parent_step_id)
select r.id, $4::text, $5::text, 'SIGNAL', 'RUNNING', 0, $6::timestamptz, $7::text, $8::text
from "${s}".workflow_runs r
where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
for share of r
on conflict (workflow_run_id, step_key) do nothing
returning id`,
  (a: { runId: string; owner: string; epoch: number; key: string; name: string; deadline: Date | null; group?: string; branch?: string }) => [
    a.runId, a.owner, a.epoch, a.key, a.name, a.deadline, a.group ?? null, a.branch ?? null,
  ],
);
