/**
 * Enqueue a run and wake idle workers in the same statement (NOTIFY is delivered at commit).
 * A repeated idempotency key inserts nothing and returns no row; the caller then reads the first run.
 * Delayed runs notify too: an idle worker then re-reads the next due time and sets its timer to it.
 * $1 id, $2 name, $3 version, $4 input json, $5 idempotency key, $6 delay ms
 */
export const insertRunSql = (s: string): string => `
with inserted as (
  insert into "${s}".workflow_runs (id, workflow_name, workflow_version, status, input, idempotency_key, due_at)
  values ($1::uuid, $2::text, $3::int, 'PENDING', $4::json, $5::text, now() + $6::double precision * interval '1 millisecond')
  on conflict (workflow_name, idempotency_key) do nothing
  returning id, workflow_name, due_at
)
select id, pg_notify('${s}.wakeup', workflow_name) is null as notified
from inserted`;
