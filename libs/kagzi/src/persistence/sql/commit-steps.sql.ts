import { statement } from '../statement';

/**
 * `commitStep` for many steps at once, of any runs (the group commit of step-commit.batcher.ts): the
 * steps travel as one JSON array read back as rows with json_to_recordset (one parameter and one plan
 * for any batch size); outputs, already JSON text, are embedded as they are, as `{"v": output}`. Each row is fenced by its
 * own run's lease exactly as commit-step.sql.ts fences one (FOR SHARE of the run row, owner, epoch,
 * RUNNING); a row whose fence fails writes nothing and is simply absent from the result, which lists
 * the (run, key) pairs written.
 */
export const commitSteps = statement(
  'commitSteps',
  (s) => `
with item as (
  select * from json_to_recordset($1::json) as x(
    run_id uuid, owner text, epoch int, key text, name text, status text, args_hash text, output json, error jsonb,
    attempt int, started_at timestamptz, grp text, branch text
  )
), fenced as (
  select i.*, r.run_try from item i
  join "${s}".workflow_runs r on r.id = i.run_id and r.lease_owner = i.owner and r.lease_epoch = i.epoch and r.status = 'RUNNING'
  for share of r
), step as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, args_hash, output, error, attempts, started_at, completed_at,
     parallel_group_id, parent_step_id)
  select run_id, key, name, 'STEP', status, args_hash, output -> 'v', error, attempt, started_at, now(), grp, branch
  from fenced
  on conflict (workflow_run_id, step_key) do update
    set status = excluded.status, output = excluded.output, error = excluded.error, attempts = excluded.attempts,
        next_attempt_at = null, completed_at = now()
    where step_runs.status = 'RUNNING'
  returning workflow_run_id, step_key
), attempt as (
  insert into "${s}".step_attempts (workflow_run_id, step_key, run_try, attempt, started_at, finished_at, error)
  select f.run_id, f.key, f.run_try, f.attempt, f.started_at, now(), f.error
  from fenced f join step on step.workflow_run_id = f.run_id and step.step_key = f.key
  on conflict do nothing
)
select workflow_run_id as run_id, step_key as key from step`,
  (a: { rows: string }) => [a.rows],
);
