import { statement } from '../statement';

/**
 * A signal wait's one durable decision, fenced by the lease: consume the oldest unconsumed signal of
 * the name and record it as the wait's step (kind SIGNAL) — or, once the wait has timed out and none
 * is there, record the timeout — in one statement, so a crash before commit consumes nothing and a
 * crash after it loses nothing. FOR UPDATE on the signal row makes two consumers take one signal once.
 * Returns the newest signal id this statement could see, for the park that may follow (one committed
 * while it ran is not visible to it, but moves the run's `last_signal_id` past that). A wait that a
 * child's end already answered (see signal-parent.sql.ts), or this same statement answered before its
 * reply was lost (RunWriter repeats it), returns that record and consumes nothing more.
 */
export const consumeSignal = statement(
  'consumeSignal',
  (s) => `
with fenced as (
  select r.id from "${s}".workflow_runs r
  where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
  for update of r
), candidate as (
  select g.id from "${s}".signals g
  where g.workflow_run_id = (select id from fenced) and g.name = $5::text and g.consumed_at is null
    -- a wait already answered (this statement repeated after its reply was lost) takes no second signal
    and not exists (select 1 from "${s}".step_runs w where w.workflow_run_id = g.workflow_run_id and w.step_key = $4::text and w.status = 'COMPLETED')
  order by g.id limit 1
  for update of g
), consumed as (
  update "${s}".signals g set consumed_at = now(), consumed_by = $4::text
  from candidate where g.id = candidate.id
  returning g.payload
), decided as (
  select (select payload from consumed) as payload, exists (select 1 from consumed) as got
), recorded as (
  insert into "${s}".step_runs
    (workflow_run_id, step_key, step_name, kind, status, output, completed_at, parallel_group_id, parent_step_id)
  select f.id, $4::text, $5::text, 'SIGNAL', 'COMPLETED', case when d.got then d.payload else $7::json end, now(), $8::text, $9::text
  from fenced f, decided d
  where d.got or $6::boolean
  on conflict (workflow_run_id, step_key) do update
    set status = 'COMPLETED', output = excluded.output, completed_at = now(), next_attempt_at = null
    where step_runs.status = 'RUNNING'
  returning output
), answered as (
  select w.output from "${s}".step_runs w
  where w.workflow_run_id = (select id from fenced) and w.step_key = $4::text and w.status = 'COMPLETED'
)
select exists (select 1 from fenced) as held,
       (select coalesce(max(g.id), 0) from "${s}".signals g where g.workflow_run_id = $1::uuid) as newest_seen,
       coalesce((select output from recorded), (select output from answered)) as output,
       exists (select 1 from recorded) or exists (select 1 from answered) as recorded`,
  (a: { runId: string; owner: string; epoch: number; key: string; name: string; timedOut: boolean; timeoutOutput: string; group?: string; branch?: string }) => [
    a.runId, a.owner, a.epoch, a.key, a.name, a.timedOut, a.timeoutOutput, a.group ?? null, a.branch ?? null,
  ],
);
