import { statement } from '../statement';

/**
 * Retention: delete one batch of runs that ended (COMPLETED, FAILED, CANCELLED: `due_at` null) before
 * the cutoff, oldest first, with everything that cascades from them (steps, attempts, signals, events,
 * retries). Bounded: at most `limit` runs, rows another transaction holds are skipped (SKIP LOCKED), and
 * only while this transaction holds the schema's retention advisory lock, so at most one worker sweeps
 * at a time (the others get 0 rows and `got` false). A child whose parent is still live is kept (the
 * parent may still read it), and so is a run some live chain's result() follows (continued as new).
 */
export const deleteExpiredRuns = statement(
  'deleteExpiredRuns',
  (s) => `
with lock as (
  select pg_try_advisory_xact_lock($1::bigint) as got
), doomed as (
  select r.id from "${s}".workflow_runs r
  where (select got from lock) and r.due_at is null and r.completed_at < now() - $2::double precision * interval '1 millisecond'
    and not exists (select 1 from "${s}".workflow_runs p where p.id = r.parent_run_id and p.due_at is not null)
    and not exists (select 1 from "${s}".workflow_runs n where n.id = r.continued_as and n.due_at is not null)
  order by r.completed_at
  limit $3::int
  for update of r skip locked
), deleted as (
  delete from "${s}".workflow_runs r using doomed d where r.id = d.id
  returning r.id
)
select (select got from lock) as got, (select count(*) from deleted)::int as deleted`,
  (a: { lockKey: string; retentionMs: number; limit: number }) => [a.lockKey, a.retentionMs, a.limit],
);
