import { statement } from '../statement';

/** Forget stopped and lost workers, and events, older than the retention. */
export const pruneWorkers = statement(
  'pruneWorkers',
  (s) => `
with gone as (
  delete from "${s}".workers
  where status in ('STOPPED','LOST') and stopped_at < now() - $1::double precision * interval '1 millisecond'
)
delete from "${s}".worker_events where at < now() - $1::double precision * interval '1 millisecond'`,
  (a: { retentionMs: number }) => [a.retentionMs],
);
