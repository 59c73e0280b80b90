import { statement } from '../statement';

/**
 * The executing worker delivers a requested cancel to the run's code: it stores the cut (when it
 * delivered it), fenced by the lease, before any write the cancelled code makes. A cut stored earlier
 * (by an execution that crashed while compensating) is kept and returned, so every replay decides
 * alike which durable sleeps had ended before the cancel. No row: the lease is gone.
 */
export const deliverCancel = statement(
  'deliverCancel',
  (s) => `
update "${s}".workflow_runs
set cancel_cut_at = coalesce(cancel_cut_at, $4::timestamptz), updated_at = now()
where id = $1::uuid and lease_owner = $2::text and lease_epoch = $3::int and status = 'RUNNING' and cancel_requested_at is not null
returning cancel_cut_at, cancel_reason`,
  (a: { runId: string; owner: string; epoch: number; cutAt: Date }) => [a.runId, a.owner, a.epoch, a.cutAt],
);
