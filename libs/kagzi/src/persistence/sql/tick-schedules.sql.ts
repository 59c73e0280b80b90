import { notificationChannel } from '../schema-identifiers';
import { statement } from '../statement';

/**
 * Fires the ticks a worker's timer reached, one statement for all of its schedules. A schedule's tick is
 * due when its row belongs to the workflow's default version, holds the same cron and time zone as
 * this process declares (a process with an older declaration fires nothing), and its `next_run_at` is
 * at or before the tick. The row is locked and moved past the tick by the statement that starts the
 * run, so whichever process comes second finds nothing due: one run per tick however many processes
 * tick; the idempotency key (name, `schedule:<tick>`) is the second safeguard.
 * FOR UPDATE waits rather than SKIP LOCKED: the holder may be a booting worker's registration, not a
 * tick, and skipping would lose the tick; the wait is one such statement (a few ms). Rows are locked in
 * key order, so concurrent ticks and registrations never deadlock.
 * A tick while a run the schedule started is still live (any version: due_at is set exactly while a run
 * is not COMPLETED, FAILED or CANCELLED) starts nothing and is counted in `skipped`.
 * `trace_context`: the W3C context of the tick's `kagzi.schedule.tick` span (tracing/tick.trace.ts),
 * stored with the run it starts; null without an SDK.
 */
export const tickSchedules = statement(
  'tickSchedules',
  (s) => `
with fired as (
  select * from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::uuid[], $8::text[], $9::text[], $10::text[])
    as f(workflow_name, version, cron, timezone, tick, next_tick, run_id, idempotency_key, input, trace_context)
), due as (
  select f.*, exists (
           select 1 from "${s}".workflow_runs r
           where r.workflow_name = f.workflow_name and r.due_at is not null and r.idempotency_key like 'schedule:%'
         ) as busy
  from "${s}".schedules sc
  join fired f on f.workflow_name = sc.workflow_name and f.version = sc.version and f.cron = sc.cron and f.timezone = sc.timezone
  where sc.next_run_at <= f.tick and sc.version = "${s}".default_version(sc.workflow_name)
  order by sc.workflow_name, sc.version
  for update of sc
), started as (
  insert into "${s}".workflow_runs (id, workflow_name, workflow_version, status, input, idempotency_key, due_at, trace_context)
  select run_id, workflow_name, version, 'PENDING', input::json, idempotency_key, now(), trace_context::jsonb from due where not busy
  on conflict do nothing
  returning id, workflow_name
), moved as (
  update "${s}".schedules sc
  set next_run_at = d.next_tick, updated_at = now(),
      last_run_at = case when d.busy then sc.last_run_at else d.tick end,
      last_run_id = case when d.busy then sc.last_run_id else coalesce(st.id, sc.last_run_id) end,
      skipped = sc.skipped + case when d.busy then 1 else 0 end
  from due d left join started st on st.id = d.run_id
  where sc.workflow_name = d.workflow_name and sc.version = d.version
  returning sc.workflow_name, sc.version, d.tick, d.busy, st.id as run_id
)
select workflow_name, version, tick, busy, run_id,
       case when run_id is not null then pg_notify('${notificationChannel(s, 'wakeup')}', workflow_name) is null end as notified
from moved`,
  (a: { ticks: ScheduleTick[] }) => [
    a.ticks.map((t) => t.name), a.ticks.map((t) => t.version), a.ticks.map((t) => t.cron), a.ticks.map((t) => t.timezone),
    a.ticks.map((t) => t.tick), a.ticks.map((t) => t.nextTick), a.ticks.map((t) => t.runId), a.ticks.map((t) => t.idempotencyKey),
    a.ticks.map((t) => t.input), a.ticks.map((t) => (t.traceContext ? JSON.stringify(t.traceContext) : null)),
  ],
);

/** One schedule's tick as the firing process computed it. */
export interface ScheduleTick {
  name: string;
  version: number;
  cron: string;
  timezone: string;
  tick: Date;
  /** The first tick after `tick`: the row's next_run_at once this one is fired. */
  nextTick: Date;
  /** The id of the run this tick starts (chosen by the caller, as client.start does). */
  runId: string;
  idempotencyKey: string;
  /** The serialized input `{ scheduledAt }`. */
  input: string;
  /** The tick span's W3C context, stored with the run (absent when untraced). */
  traceContext?: Record<string, string>;
}
