import { SerializedStepError } from '../../errors/step.error';
import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';
import { notifyFinished } from './notify-finished.sql';
import { signalParents } from './signal-parent.sql';

const LIVE = `('PENDING','RUNNING','SLEEPING','WAITING')`;

/**
 * Cancel a live run, and with it (recursively) its live children started with onParentClose 'cancel',
 * in one statement. A run whose code may have a catch block to run gets a cancel request: a RUNNING
 * run's worker is told on the `cancel` channel (and by its next heartbeat), a parked one is made due
 * at once so a worker replays it and delivers the cancel at its pending await. A run that cannot run
 * code (never claimed, or no live worker serves its version) ends CANCELLED at once, telling waiting
 * clients and sending its parent its end (see signal-parent.sql.ts). A run already asked is left as it
 * is. A run that continued as new is cancelled through its chain (the live run of it). `known` says
 * whether the run exists at all; `affected` how many runs this statement cancelled or asked, `seen` how
 * many its snapshot found to ask (more than affected: one ended or continued while it waited).
 *
 * The chain and the children are read from the statement's snapshot, and only the rows it locks are
 * re-checked: a run that continued as new, or a child inserted, while this statement waited for a lock
 * is not seen. The caller repeats the statement while it affects a run or finds fewer than it saw
 * (see RunStore.cancelRun). The targets are locked in id order, as the group statements lock theirs
 * (commit-steps.sql.ts, finish-runs.sql.ts); a child's end locks the child, then its parent, so a
 * deadlock with it stays possible, and the caller repeats a statement chosen as its victim.
 */
export const cancelRun = statement(
  'cancelRun',
  (s) => `
with recursive chain as (
  select id, continued_as from "${s}".workflow_runs where id = $1::uuid
  union all
  select r.id, r.continued_as from "${s}".workflow_runs r join chain c on r.id = c.continued_as
), tree as (
  select id, cancel_requested_at from "${s}".workflow_runs where id in (select id from chain) and status in ${LIVE}
  union
  select c.id, c.cancel_requested_at from "${s}".workflow_runs c join tree t on c.parent_run_id = t.id
  where c.on_parent_close = 'cancel' and c.status in ${LIVE}
    -- children a cancelled parent starts afterwards (compensation) are not cancelled with it
    and (t.cancel_requested_at is null or c.created_at <= t.cancel_requested_at)
), target as (
  select r.id, r.status <> 'RUNNING' and (r.lease_epoch = 0 or not exists (
           select 1 from "${s}".workers w
           where w.status = 'RUNNING' and "${s}".worker_is_live(w.last_heartbeat_at, w.heartbeat_interval_ms)
             and "${s}".workflow_pair(r.workflow_name, r.workflow_version) = any (w.workflows)
         )) as at_once
  from "${s}".workflow_runs r
  where r.id in (select id from tree) and r.status in ${LIVE} and r.cancel_requested_at is null
  order by r.id
  for update of r
), cancelled as (
  update "${s}".workflow_runs r
  set status = 'CANCELLED', error = $2::jsonb, due_at = null, lease_owner = null, completed_at = now(), updated_at = now(),
      cancel_requested_at = now(), cancel_reason = $3::text
  from target t where r.id = t.id and t.at_once and r.status in ('PENDING','SLEEPING','WAITING')
  returning r.id, r.status, null::json as output, r.error, r.parent_run_id, null::uuid as continued_as
), requested as (
  update "${s}".workflow_runs r
  set cancel_requested_at = now(), cancel_reason = $3::text, updated_at = now(),
      due_at = case when r.status = 'RUNNING' then r.due_at else now() end
  from target t where r.id = t.id and not (t.at_once and r.status in ('PENDING','SLEEPING','WAITING')) and r.status in ${LIVE}
  returning r.id, r.status, r.workflow_name
), ${signalParents(s, 'cancelled', 'tree')}, finished_notify as (
  select count(${notifyFinished(s)}) as n from cancelled
), told as (
  select count(case when status = 'RUNNING' then pg_notify('${notificationChannel(s, 'cancel')}', id::text)
                    else pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) end) as n
  from requested
)
select exists (select 1 from "${s}".workflow_runs where id = $1::uuid) as known,
       (select count(*) from cancelled)::int + (select count(*) from requested)::int as affected,
       (select count(*) from tree where cancel_requested_at is null)::int as seen,
       (select n from finished_notify) + (select n from parent_notify) + (select n from told) as notified`,
  (a: { runId: string; error: SerializedStepError }) => [a.runId, JSON.stringify(a.error), a.error.message],
);
