import { statement } from '../statement';

/**
 * `commitStep` for many steps at once, of any runs (the group commit of step-commit.batcher.ts): the
 * steps travel as one JSON array read back as rows with json_to_recordset (one parameter and one plan
 * for any batch size); outputs, already JSON text, are embedded as they are, as `{"v": output}`. Each row is fenced by its
 * own run's lease exactly as commit-step.sql.ts fences one (FOR SHARE of the run row, owner, epoch,
 * RUNNING); a row whose fence fails writes nothing and is simply absent from the result, which lists
 * the (run, epoch, key) of each record written: the epoch tells a record of the current lease from one
 * of an older lease of the same run and key in the same group (only the first can pass the fence).
 * The run rows are locked in id order, as cancel-run.sql.ts locks its targets: a group holds several
 * runs' rows at once, and in any other order it could deadlock with a cancel of a parent and its child.
 */
export const commitSteps = statement(
  'commitSteps',
  (s) => `
with item as (
  select * from json_to_recordset($1::json) as x(
    run_id uuid, owner text, epoch int, key text, name text, status text, args_hash text, output json, error jsonb,
    attempt int, started_at timestamptz, grp text, branch text
  )
), locked as materialized (
  select r.id, r.lease_owner, r.lease_epoch, r.run_try from "${s}".workflow_runs r
  where r.id in (select run_id from item) and r.status = 'RUNNING'
  order by r.id
  for share of r
), fenced as (
  select i.*, l.run_try from item i join locked l on l.id = i.run_id and l.lease_owner = i.owner and l.lease_epoch = i.epoch
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
select f.run_id, f.epoch, f.key from fenced f join step on step.workflow_run_id = f.run_id and step.step_key = f.key`,
  (a: { rows: string }) => [a.rows],
);
