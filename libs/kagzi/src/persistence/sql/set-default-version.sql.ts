import { statement } from '../statement';

/**
 * Make a version the default of its workflow in one UPDATE (the one-default constraint is checked at commit, so the
 * old default is cleared and the new one set together). Deprecated or unknown versions are refused.
 */
export const setDefaultVersion = statement(
  'setDefaultVersion',
  (s) => `
with versions as (
  select version, deprecated_at from "${s}".workflow_versions where workflow_name = $1::text
), target as (
  select version from versions where version = $2::int and deprecated_at is null
), updated as (
  update "${s}".workflow_versions set is_default = (version = $2::int)
  where workflow_name = $1::text and (is_default or version = $2::int) and exists (select 1 from target)
  returning version
)
select (select count(*) from versions)::int as known_versions,
       exists (select 1 from versions where version = $2::int) as version_known,
       exists (select 1 from target) as usable`,
  (a: { name: string; version: number }) => [a.name, a.version],
);
