import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';
import { signalParents } from './signal-parent.sql';

/**
 * `ctx.continueAsNew`, fenced by the lease, in one statement: the run ends COMPLETED with
 * `continued_as` set, and the next run of the chain is inserted (same workflow and version, the new
 * input, the same parent and onParentClose, `continued_from` set, a pending cancel and the trace context carried over) and
 * woken at commit. Result waiters are told the run finished (they read `continued_as` and follow the
 * chain), and a parent waiting on the run gets its end with `continuedAs`, so it waits for the next.
 */
export const continueAsNew = statement(
  'continueAsNew',
  (s) => `
with ended as (
  update "${s}".workflow_runs
  set status = 'COMPLETED', output = null, error = null, due_at = null, lease_owner = null, continued_as = $4::uuid,
      completed_at = now(), updated_at = now()
  where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING'
  returning id, status, output, error, parent_run_id, continued_as, workflow_name, workflow_version, on_parent_close,
            cancel_requested_at, cancel_reason, trace_context
), next as (
  insert into "${s}".workflow_runs
    (id, workflow_name, workflow_version, status, input, due_at, parent_run_id, on_parent_close, continued_from,
     cancel_requested_at, cancel_reason, trace_context)
  select $4::uuid, workflow_name, workflow_version, 'PENDING', $5::json, now(), parent_run_id, on_parent_close, id,
         cancel_requested_at, cancel_reason, trace_context
  from ended
  returning id, workflow_name
), ${signalParents(s, 'ended')}
select (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from next) is null as woken,
       pg_notify('${notificationChannel(s, 'finished')}', json_build_object('id', id, 'status', status)::text) is null as notified,
       (select n from parent_notify) as parents_woken
from ended`,
  (a: { runId: string; owner: string; epoch: number; nextRunId: string; input: string }) => [a.runId, a.owner, a.epoch, a.nextRunId, a.input],
);
