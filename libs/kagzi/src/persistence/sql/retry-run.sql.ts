import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/** The scope path of a step key (`$parallel#1[0]/pay#1` → `$parallel#1[0]/`; top level: ''). */
const pathOf = (key: string): string => `regexp_replace(${key}, '[^/]*$', '')`;

/**
 * `client.retry`: a FAILED or CANCELLED run runs again under the same id, in one statement. The run
 * becomes PENDING and due now with its error, output and cancel cleared and its try counted
 * (`run_try`); the retry is kept in `run_retries` with the status and error it replaced.
 *
 * What the replay finds is rewound to where the run stopped:
 * - the failed step — the last FAILED step whose error is the run's, or the cause of the run's (a
 *   failure rethrown as is, or wrapped once) — is removed, with everything recorded after it in its own strand (its scope, the scopes
 *   around it and those opened after it there: compensation that ran before the rethrow), so it runs
 *   again with a fresh attempt series and the code takes the path it would have taken had it passed.
 *   Records of other parallel branches stay, and so does a failure the code caught earlier. A run that
 *   failed in its own code (no step's error) replays to the same end: only new code changes that;
 * - pending records (a step waiting for its next attempt, a signal wait) are removed: they start afresh
 *   (a new attempt series, a new timeout);
 * - for a CANCELLED run, what was recorded from the cancel's delivery on (its compensation) is removed.
 * Completed steps before that stay recorded and are never executed again; attempts stay in
 * `step_attempts` under the try they belong to. Returns the status found (null: no such run).
 */
export const retryRun = statement(
  'retryRun',
  (s) => `
with target as (
  select id, status, error, cancel_cut_at from "${s}".workflow_runs where id = $1::uuid for update
), retried as (
  update "${s}".workflow_runs r
  set status = 'PENDING', error = null, output = null, due_at = now(), completed_at = null, lease_owner = null,
      run_try = r.run_try + 1, cancel_requested_at = null, cancel_reason = null, cancel_cut_at = null, updated_at = now()
  from target t where r.id = t.id and t.status in ('FAILED','CANCELLED')
  returning r.id, r.workflow_name, t.status as previous_status, t.error as previous_error
), history as (
  insert into "${s}".run_retries (workflow_run_id, previous_status, previous_error)
  select id, previous_status, previous_error from retried
), failed as (
  select g.id, ${pathOf('g.step_key')} as path
  from "${s}".step_runs g join retried r on g.workflow_run_id = r.id
  where r.previous_status = 'FAILED' and g.kind = 'STEP' and g.status = 'FAILED'
    and exists (
      select 1 from (values (r.previous_error), (r.previous_error->'cause')) as e(err)
      where g.step_name = e.err->>'stepName' and g.error->>'message' = e.err->>'message'
    )
  order by g.id desc
  limit 1
), cleared as (
  delete from "${s}".step_runs g using retried r, target t
  where g.workflow_run_id = r.id and (
    g.status = 'RUNNING'
    or exists (
      select 1 from failed f
      where g.id >= f.id and (starts_with(f.path, ${pathOf('g.step_key')}) or starts_with(${pathOf('g.step_key')}, f.path))
    )
    or (r.previous_status = 'CANCELLED' and t.cancel_cut_at is not null and g.completed_at >= t.cancel_cut_at)
  )
)
select (select status from target) as status, exists (select 1 from retried) as retried,
       (select pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) from retried) is null as notified`,
  (a: { runId: string }) => [a.runId],
);
