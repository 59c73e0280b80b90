import { statement } from '../statement';

/**
 * One heartbeat tick, one statement: this worker's row says it is alive (and how busy), the leases of
 * the runs it holds move to now() + lease (never cumulative), and workers that are no longer live
 * (`worker_is_live()`: no heartbeat for 3 of their intervals) are marked LOST with an event (a concurrent tick elsewhere re-checks the
 * row after the first one's update, so each loss is recorded once).
 * Runs missing from the result were lost: claimed by another worker since (a higher epoch), or gone.
 * A run still at the held epoch but no longer RUNNING under this owner comes back `released`: this
 * worker's own park, finish or hand-back committed while the beat was in flight and its reply is on
 * its way (nothing else ends a run a worker holds without claiming it again), so it is neither renewed
 * nor lost.
 * A held run whose row another transaction has locked right now (its own step commit or end, a child's
 * end waking it) is not extended this beat (SKIP LOCKED) but still counts as held: waiting for that lock
 * while holding the locks of other held runs could deadlock with a child's end, which locks the child's
 * row and then its parent's. Leases survive a missed beat by design (leaseDuration ≥ 2.5 × interval);
 * `cancel_pending` marks held runs with a cancel not yet delivered (a missed `cancel` notification).
 */
export const heartbeat = statement(
  'heartbeat',
  (s) => `
with me as (
  update "${s}".workers
  set last_heartbeat_at = now(), active_runs = $6::int, status = $7::text, stopped_at = null
  where id = $1::uuid and status <> 'STOPPED'
  returning id
), at_epoch as (
  select r.id, r.cancel_requested_at is not null and r.cancel_cut_at is null as cancel_pending,
         not (r.lease_owner is not distinct from $2::text and r.status = 'RUNNING') as released
  from "${s}".workflow_runs r join unnest($3::uuid[], $4::int[]) as held(id, epoch) on r.id = held.id and r.lease_epoch = held.epoch
), lockable as (
  select r.id from "${s}".workflow_runs r where r.id in (select id from at_epoch where not released) order by r.id for update of r skip locked
), extended as (
  update "${s}".workflow_runs r
  set due_at = now() + $5::double precision * interval '1 millisecond'
  from lockable l
  where r.id = l.id and r.lease_owner = $2::text and r.status = 'RUNNING'
), lost as (
  update "${s}".workers set status = 'LOST', stopped_at = now()
  where status in ('RUNNING','DRAINING') and id <> $1::uuid
    and not "${s}".worker_is_live(last_heartbeat_at, heartbeat_interval_ms)
  returning id, name, last_heartbeat_at
), lost_events as (
  insert into "${s}".worker_events (worker_id, worker_name, event_type, data)
  select id, name, 'LOST', json_build_object('lastHeartbeatAt', last_heartbeat_at, 'detectedBy', $2::text) from lost
)
select id, cancel_pending, released from at_epoch`,
  (a: { workerId: string; owner: string; runIds: string[]; epochs: number[]; leaseMs: number; activeRuns: number; status: 'RUNNING' | 'DRAINING' }) => [
    a.workerId, a.owner, a.runIds, a.epochs, a.leaseMs, a.activeRuns, a.status,
  ],
);
