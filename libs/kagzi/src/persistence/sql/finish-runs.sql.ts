import { statement } from '../statement';
import { notifyFinished } from './notify-finished.sql';

/**
 * `finishRun` for many runs at once (the group finish of finish.batcher.ts), for runs without a parent:
 * each row fenced by its own lease exactly as finish-run.sql.ts fences one, and each finished run's
 * `finished` NOTIFY sent as that statement sends it. A run with a parent (whose end must reach the
 * parent: finish-run.sql.ts does that) or whose lease is gone is left untouched and absent from the
 * result, which lists the (id, epoch) of each run finished: the epoch tells the end of the current
 * lease from one of an older lease of the same run in the same group. Outputs travel as `{"v": output}`
 * (see group-writer.ts). The rows are locked in id order, as commit-steps.sql.ts and cancel-run.sql.ts
 * lock theirs, so two statements that each hold several runs never wait for each other in a cycle.
 */
export const finishRuns = statement(
  'finishRuns',
  (s) => `
with item as (
  select * from json_to_recordset($1::json) as x(run_id uuid, owner text, epoch int, status text, output json, error jsonb)
), locked as materialized (
  select r.id from "${s}".workflow_runs r
  where r.id in (select run_id from item) and r.status = 'RUNNING' and r.parent_run_id is null
  order by r.id
  for update of r
), finished as (
  update "${s}".workflow_runs r
  set status = i.status, output = i.output -> 'v', error = i.error, due_at = null, lease_owner = null,
      completed_at = now(), updated_at = now()
  from item i
  where r.id = i.run_id and r.id in (select id from locked)
    and r.lease_owner = i.owner and r.lease_epoch = i.epoch and r.status = 'RUNNING' and r.parent_run_id is null
  returning r.id, r.lease_epoch as epoch, r.status, r.output, r.error
)
select id, epoch, ${notifyFinished(s)} is null as notified from finished`,
  (a: { rows: string }) => [a.rows],
);
