import { statement } from '../statement';

/**
 * Deprecate a version of a workflow unless it is the version `start()` would use now (set another default first).
 * Deprecating twice keeps the first date.
 */
export const deprecateVersion = statement(
  'deprecateVersion',
  (s) => `
with versions as (
  select version, is_default, deprecated_at from "${s}".workflow_versions where workflow_name = $1::text
), effective as (
  select "${s}".default_version($1::text) as version
), updated as (
  update "${s}".workflow_versions set deprecated_at = coalesce(deprecated_at, now())
  where workflow_name = $1::text and version = $2::int
    and version is distinct from (select version from effective)
  returning version
)
select (select count(*) from versions)::int as known_versions,
       exists (select 1 from versions where version = $2::int) as version_known,
       (select version from effective) as default_version,
       exists (select 1 from updated) as deprecated`,
  (a: { name: string; version: number }) => [a.name, a.version],
);
