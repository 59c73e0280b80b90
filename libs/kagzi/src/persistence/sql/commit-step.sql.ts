import { SerializedStepError } from '../../errors/step.error';
import { statement } from '../statement';

/**
 * Record a finished step and its last attempt, fenced by the lease, in one statement.
 * FOR SHARE on the run row makes a concurrent claim (an UPDATE) wait for this commit, so the next
 * owner always loads it; a stale owner or epoch selects no row and writes nothing. A step waiting
 * for a retry (RUNNING) may be finished; a finished step is never overwritten.
 */
export const commitStep = statement(
  'commitStep',
  (s) => `
with fenced as (
  select r.id, r.run_try from "${s}".workflow_runs r
  where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
  for share of r
), step as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, args_hash, output, error, attempts, started_at, completed_at,
     parallel_group_id, parent_step_id)
  select id, $4::text, $5::text, 'STEP', $6::text, $7::text, $8::json, $9::jsonb, $11::int, $10::timestamptz, now(),
         $12::text, $13::text
  from fenced
  on conflict (workflow_run_id, step_key) do update
    set status = excluded.status, output = excluded.output, error = excluded.error, attempts = excluded.attempts,
        next_attempt_at = null, completed_at = now()
    where step_runs.status = 'RUNNING'
  returning id
), attempt as (
  insert into "${s}".step_attempts (workflow_run_id, step_key, run_try, attempt, started_at, finished_at, error)
  select $1::uuid, $4::text, (select run_try from fenced), $11::int, $10::timestamptz, now(), $9::jsonb
  where exists (select 1 from step)
  on conflict do nothing
)
select id from step`,
  (a: {
    runId: string; owner: string; epoch: number; key: string; name: string; status: 'COMPLETED' | 'FAILED'; argsHash: string;
    output: string | null; error: SerializedStepError | null; startedAt: Date; attempt: number; group?: string; branch?: string;
  }) => [
    a.runId, a.owner, a.epoch, a.key, a.name, a.status, a.argsHash,
    a.output, a.error === null ? null : JSON.stringify(a.error), a.startedAt, a.attempt, a.group ?? null, a.branch ?? null,
  ],
);
