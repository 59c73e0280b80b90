import { notificationChannel } from '../schema-identifiers';

/** The signal name a child's end is sent to its parent under (see execution/child-workflows.ts). */
export const CHILD_END_SIGNAL_PREFIX = '$child:';

/**
 * CTEs (to follow a `with … ended as (…)` whose rows have id, status, output, error, parent_run_id, continued_as) that
 * send each ended run's parent a signal carrying the child's outcome, and make a WAITING parent due at
 * once, as send-signal.sql.ts does for signals from clients: the parent is woken by its child's end in
 * the statement that ends the child. A parent already waiting for that child (its wait recorded,
 * `$child:<id>`) gets the outcome as its wait's record at once, the signal stored as consumed by it:
 * resumed, it replays the wait from the record without a statement of its own. `skip` names a CTE of run ids not to signal (runs ended in the
 * same statement). Reference `parent_notify` in the final select so its NOTIFY is sent.
 */
export const signalParents = (s: string, ended: string, skip?: string): string => `
parent as (
  select p.id from "${s}".workflow_runs p
  where p.id in (select parent_run_id from ${ended})
    and p.status in ('PENDING','RUNNING','SLEEPING','WAITING')
    ${skip ? `and p.id not in (select id from ${skip})` : ''}
  for update
), child_outcome as (
  select p.id as parent_id, c.id as child_id,
         json_build_object('json', json_build_object('status', c.status, 'output', c.output, 'error', c.error, 'continuedAs', c.continued_as)) as payload
  from ${ended} c join parent p on p.id = c.parent_run_id
), answered as (
  update "${s}".step_runs w
  set status = 'COMPLETED', output = o.payload, completed_at = now(), next_attempt_at = null
  from child_outcome o
  where w.workflow_run_id = o.parent_id and w.kind = 'SIGNAL' and w.status = 'RUNNING'
    and w.step_name = '${CHILD_END_SIGNAL_PREFIX}' || o.child_id
  returning w.workflow_run_id, w.step_key, w.step_name
), child_end as (
  insert into "${s}".signals (workflow_run_id, name, payload, delivery_id, consumed_at, consumed_by)
  select o.parent_id, '${CHILD_END_SIGNAL_PREFIX}' || o.child_id, o.payload, gen_random_uuid(),
         case when a.step_key is null then null else now() end, a.step_key
  from child_outcome o left join answered a on a.workflow_run_id = o.parent_id and a.step_name = '${CHILD_END_SIGNAL_PREFIX}' || o.child_id
  returning id, workflow_run_id
), parent_woken as (
  update "${s}".workflow_runs r
  set last_signal_id = greatest(r.last_signal_id, e.id), due_at = case when r.status = 'WAITING' then now() else r.due_at end, updated_at = now()
  from child_end e where r.id = e.workflow_run_id
  returning r.status, r.workflow_name
), parent_notify as (
  select count(pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name)) as n from parent_woken where status = 'WAITING'
)`;
