import { statement } from '../statement';

/**
 * For `kagzi stats`: runs per status, and the backlog (runs due now that no worker holds: queued,
 * woken, backing off, or whose lease lapsed) per (workflow, version) with its oldest due time.
 * Counting by status reads the whole table (no index covers finished runs); the backlog walks the
 * partial due index only. One statement, so every figure is from the same snapshot.
 */
export const opsStats = statement(
  'opsStats',
  (s) => `
with by_status as (
  select status, count(*)::int as runs from "${s}".workflow_runs group by status
), due as (
  select workflow_name, workflow_version, count(*)::int as backlog, min(due_at) as oldest_due_at
  from "${s}".workflow_runs where due_at <= now()
  group by workflow_name, workflow_version
)
select
  coalesce((select json_object_agg(status, runs) from by_status), '{}'::json) as by_status,
  coalesce((select sum(backlog)::int from due), 0) as backlog,
  (select min(oldest_due_at) from due) as oldest_due_at,
  coalesce((
    select json_agg(json_build_object('workflow_name', workflow_name, 'version', workflow_version, 'backlog', backlog, 'oldest_due_at', oldest_due_at)
                    order by oldest_due_at, workflow_name, workflow_version)
    from due
  ), '[]'::json) as backlog_by_workflow,
  now() as measured_at`,
  () => [],
);

/** For `kagzi migrate`: whether the schema has TypeORM's migrations table yet (before the first migrate it has not). */
export const migrationsTablePresent = statement(
  'migrationsTablePresent',
  (s) => `select to_regclass('"${s}".kagzi_migrations') is not null as present`,
  () => [],
);

/** For `kagzi migrate`: the migrations TypeORM has recorded as applied in the schema, oldest first. */
export const appliedMigrations = statement(
  'appliedMigrations',
  (s) => `select name from "${s}".kagzi_migrations order by id`,
  () => [],
);
