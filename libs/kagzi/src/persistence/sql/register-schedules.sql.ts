import { statement } from '../statement';

/**
 * A worker's boot, one statement: upserts the schedule of each (name, version) it serves that declares
 * one, and deletes the rows of served pairs that no longer declare one. `next_run_at` is kept unless the
 * cron or time zone changed, or it lies before the latest tick (no process fired that tick, or a later one:
 * they were missed while nothing ran, and are not replayed); it is then the first tick after now. A
 * `next_run_at` at the latest tick is kept: a running process may be about to fire it.
 * Rows are written in key order, as the tick locks them, so two boots never deadlock.
 */
export const registerSchedules = statement(
  'registerSchedules',
  (s) => `
with declared as (
  select * from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
    as d(workflow_name, version, cron, timezone, next_run_at, latest_tick)
), dropped as (
  delete from "${s}".schedules s using unnest($7::text[], $8::int[]) as u(workflow_name, version)
  where s.workflow_name = u.workflow_name and s.version = u.version
)
insert into "${s}".schedules as s (workflow_name, version, cron, timezone, next_run_at)
select workflow_name, version, cron, timezone, next_run_at from declared order by workflow_name, version
on conflict (workflow_name, version) do update
set cron = excluded.cron, timezone = excluded.timezone, updated_at = now(),
    next_run_at = case
      when (s.cron, s.timezone) is distinct from (excluded.cron, excluded.timezone)
        or s.next_run_at < (select d.latest_tick from declared d where d.workflow_name = s.workflow_name and d.version = s.version)
      then excluded.next_run_at else s.next_run_at end`,
  (a: { declared: ScheduleDeclaration[]; undeclared: Array<{ name: string; version: number }> }) => [
    a.declared.map((d) => d.name), a.declared.map((d) => d.version), a.declared.map((d) => d.cron), a.declared.map((d) => d.timezone),
    a.declared.map((d) => d.nextRunAt), a.declared.map((d) => d.latestTick ?? null),
    a.undeclared.map((u) => u.name), a.undeclared.map((u) => u.version),
  ],
);

/** A schedule as a worker declares it at boot, with its ticks around the boot time. */
export interface ScheduleDeclaration {
  name: string;
  version: number;
  cron: string;
  timezone: string;
  /** The first tick after now. */
  nextRunAt: Date;
  /** The last tick at or before now. */
  latestTick?: Date;
}
