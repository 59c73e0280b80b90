import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/**
 * `client.retry`: a FAILED or CANCELLED run runs again under the same id, in one statement. The run
 * becomes PENDING and due now with its error, output and cancel cleared and its try counted
 * (`run_try`); the retry is kept in `run_retries` with the status and error it replaced. Completed
 * steps stay recorded (a replay returns them); a failed step the code did not get past (nothing was
 * recorded after it in its branch) is removed, so it runs again with a fresh attempt series — its
 * attempts stay in `step_attempts` under the earlier try. A failure the code caught and went on from
 * stays recorded, so the replay takes the same path. Returns the status found (null: no such run).
 */
export const retryRun = statement(
  'retryRun',
  (s) => `
with target as (
  select id, status, error from "${s}".workflow_runs where id = $1::uuid for update
), retried as (
  update "${s}".workflow_runs r
  set status = 'PENDING', error = null, output = null, due_at = now(), completed_at = null, lease_owner = null,
      run_try = r.run_try + 1, cancel_requested_at = null, cancel_reason = null, cancel_cut_at = null, updated_at = now()
  from target t where r.id = t.id and t.status in ('FAILED','CANCELLED')
  returning r.id, r.workflow_name, t.status as previous_status, t.error as previous_error
), history as (
  insert into "${s}".run_retries (workflow_run_id, previous_status, previous_error)
  select id, previous_status, previous_error from retried
), cleared as (
  delete from "${s}".step_runs g using retried r
  where g.workflow_run_id = r.id and g.kind = 'STEP' and g.status = 'FAILED'
    and not exists (
      select 1 from "${s}".step_runs later
      where later.workflow_run_id = g.workflow_run_id and later.id > g.id and later.parent_step_id is not distinct from g.parent_step_id
    )
)
select (select status from target) as status, exists (select 1 from retried) as retried,
       (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from retried) is null as notified`,
  (a: { runId: string }) => [a.runId],
);
