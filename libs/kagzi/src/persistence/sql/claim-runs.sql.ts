import { statement } from '../statement';

/**
 * Claim due runs of the (name, version) pairs this worker serves, in one statement.
 * One due_at column serves queued runs, delayed starts, sleep wake-ups, retry back-off and expired
 * leases, so a single index scan finds all of them. SKIP LOCKED lets racing workers take disjoint
 * rows instead of queueing on the same ones; the epoch bump fences every write of a previous owner.
 * A run claimed again (epoch > 1: it ran before) comes with what it recorded (the columns load-steps.sql.ts
 * reads), so resuming it costs no statement of its own. `trace_context` parents the segment's `kagzi.run` span;
 * the claim lag (now − the due time it was claimed at) and the run's age feed the metrics.
 */
export const claimRuns = statement(
  'claimRuns',
  (s) => `
with due as (
  select id, due_at from "${s}".workflow_runs
  where due_at <= now()
    and (workflow_name, workflow_version) in (select * from unnest($2::text[], $3::int[]))
  order by due_at
  limit $4::int
  for update skip locked
)
update "${s}".workflow_runs r
set status = 'RUNNING', lease_owner = $1::text, lease_epoch = r.lease_epoch + 1,
    due_at = now() + $5::double precision * interval '1 millisecond',
    started_at = coalesce(r.started_at, now()), updated_at = now()
from due where r.id = due.id
returning r.id, r.workflow_name, r.workflow_version, r.input, r.lease_epoch, r.cancel_requested_at, r.cancel_cut_at, r.cancel_reason, r.trace_context,
  extract(epoch from now() - due.due_at) * 1000 as claim_lag_ms, extract(epoch from now() - r.started_at) * 1000 as age_ms,
  case when r.lease_epoch > 1 then (
    select coalesce(json_agg(json_build_object(
             'step_key', g.step_key, 'step_name', g.step_name, 'kind', g.kind, 'status', g.status, 'args_hash', g.args_hash,
             'output', g.output, 'error', g.error, 'attempts', g.attempts, 'next_attempt_at', g.next_attempt_at, 'started_at', g.started_at)), '[]'::json)
    from "${s}".step_runs g where g.workflow_run_id = r.id
  ) end as steps`,
  (a: { owner: string; names: string[]; versions: number[]; limit: number; leaseMs: number }) => [a.owner, a.names, a.versions, a.limit, a.leaseMs],
);
