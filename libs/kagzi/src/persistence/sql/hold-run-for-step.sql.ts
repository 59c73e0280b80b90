import { statement } from '../statement';

/**
 * The first statement of a REPEATABLE READ or SERIALIZABLE transactional step: it takes the
 * transaction's snapshot and holds the run row (FOR SHARE, fenced by the lease) until the step
 * commits. The step's record (commit-step.sql.ts) locks that row again at the end; had the heartbeat
 * updated the row since the snapshot (it renews the lease every interval), PostgreSQL would refuse that
 * lock with a serialization failure (40001) on every attempt of a body longer than an interval. Held,
 * the row is skipped by the heartbeat (it is renewed once the step ends) and by claims. No row: the
 * lease is gone.
 */
export const holdRunForStep = statement(
  'holdRunForStep',
  (s) => `
select r.id from "${s}".workflow_runs r
where r.id = $1::uuid and r.lease_owner = $2::text and r.lease_epoch = $3::int and r.status = 'RUNNING'
for share of r`,
  (a: { runId: string; owner: string; epoch: number }) => [a.runId, a.owner, a.epoch],
);
