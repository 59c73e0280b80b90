import { statement } from '../statement';

/**
 * Record a sleep's wake-up time or a group's decision (a race's winner) without parking the run,
 * fenced by the lease like a step commit. The first record wins; a replay reads it and never decides again.
 */
export const recordMarker = statement(
  'recordMarker',
  (s) => `
insert into "${s}".step_runs
  (workflow_run_id, step_key, step_name, kind, status, output, completed_at, parallel_group_id, parent_step_id)
select r.id, $4::text, $5::text, $6::text, 'COMPLETED', $7::json, now(), $8::text, $9::text
from "${s}".workflow_runs r
where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
for share of r
on conflict (workflow_run_id, step_key) do nothing
returning id`,
  (a: {
    runId: string; owner: string; epoch: number; key: string; name: string; kind: 'SLEEP' | 'GROUP' | 'CHILD'; output: string; group?: string; branch?: string;
  }) => [a.runId, a.owner, a.epoch, a.key, a.name, a.kind, a.output, a.group ?? null, a.branch ?? null],
);
