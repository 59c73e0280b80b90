/**
 * Heartbeat: push the lease of every run this worker still owns to now() + lease (never cumulative).
 * Runs missing from the result were lost (cancelled, or claimed by another worker after expiry).
 * $1 owner, $2 run ids, $3 epochs, $4 lease ms
 */
export const extendLeasesSql = (s: string): string => `
update "${s}".workflow_runs r
set due_at = now() + $4::double precision * interval '1 millisecond'
from unnest($2::uuid[], $3::int[]) as held(id, epoch)
where r.id = held.id and r.lease_epoch = held.epoch and r.lease_owner = $1::text and r.status = 'RUNNING'
returning r.id`;
