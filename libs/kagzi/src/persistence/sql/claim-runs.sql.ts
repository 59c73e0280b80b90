import { statement } from '../statement';

/**
 * Claim due runs of the (name, version) pairs this worker serves, in one statement.
 * One due_at column serves queued runs, delayed starts, sleep wake-ups, retry back-off and expired
 * leases. Runs claimed before (lease_epoch > 0: an expired lease, a sleep or back-off that ended, a
 * signal, a hand-back) go ahead of runs never claimed: otherwise, on saturated workers, a run whose
 * lease expired queues behind every new run that became due before the expiry (recovery took up to 14 s
 * with 1,000 runs started at once and a 2 s lease; 2.2 s with this order). So that resumed runs cannot
 * starve new ones, `$6` slots (see claim-share.ts) go first to the oldest new runs; slots a branch
 * leaves empty go to the other.
 * Each branch is `due_runs()` (migration 17): a due-ordered walk of its own partial index
 * (workflow_runs_due_resumed / _new, migration 15) that stops after its limit, planned with sorting
 * off so that a backlog the statistics do not know about is never read whole and sorted; so neither
 * branch reads past the other's rows, and each locks only the rows it claims. The outer `limit $4`
 * changes nothing (the branches never return more) but tells the planner the claim's size, which their
 * computed limits hide: without it, it expected thousands of rows and hashed the update's join over a
 * sequential scan of the table.
 * SKIP LOCKED lets racing workers take disjoint rows instead of queueing on the same ones; the epoch
 * bump fences every write of a previous owner. `$7` lists the runs the claiming worker still executes:
 * one whose lease lapsed while its row was locked (a heartbeat skips a locked row) is not claimed again
 * by that same worker, which would run it twice side by side; it keeps its lease, renewed at the next
 * beat, unless another worker claims it first (and fences the old execution's writes).
 * A run claimed again (epoch > 1: it ran before) comes with what it recorded (the columns load-steps.sql.ts
 * reads), so resuming it costs no statement of its own. `run_steps()` (migration 18) reads them with a
 * snapshot taken after the run is locked: the branches, volatile functions, see transactions that
 * committed after this statement began, and a run's history must be at least as new as its row.
 * `trace_context` parents the segment's `kagzi.run` span;
 * the claim lag (now − the due time it was claimed at) and the run's age feed the metrics.
 */
export const claimRuns = statement(
  'claimRuns',
  (s) => `
with new_first as materialized (
  select * from "${s}".due_runs($2::text[], $3::int[], true, least($6::int, $4::int))
), resumed as materialized (
  select * from "${s}".due_runs($2::text[], $3::int[], false, $4::int - (select count(*)::int from new_first), $7::uuid[])
), new_rest as materialized (
  select * from "${s}".due_runs($2::text[], $3::int[], true, $4::int - (select count(*)::int from new_first) - (select count(*)::int from resumed),
                                coalesce((select array_agg(id) from new_first), '{}'))
), due as (
  select * from (select * from new_first union all select * from resumed union all select * from new_rest) claimed limit $4::int
)
update "${s}".workflow_runs r
set status = 'RUNNING', lease_owner = $1::text, lease_epoch = r.lease_epoch + 1,
    due_at = now() + $5::double precision * interval '1 millisecond',
    started_at = coalesce(r.started_at, now()), updated_at = now()
from due where r.id = due.id
returning r.id, r.workflow_name, r.workflow_version, r.input, r.lease_epoch, r.cancel_requested_at, r.cancel_cut_at, r.cancel_reason, r.trace_context,
  extract(epoch from now() - due.due_at) * 1000 as claim_lag_ms, extract(epoch from now() - r.started_at) * 1000 as age_ms,
  case when r.lease_epoch > 1 then "${s}".run_steps(r.id) end as steps`,
  (a: { owner: string; names: string[]; versions: number[]; limit: number; leaseMs: number; newFirst: number; held?: string[] }) => [
    a.owner, a.names, a.versions, a.limit, a.leaseMs, a.newFirst, a.held ?? [],
  ],
);
