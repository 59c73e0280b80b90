/** The version `start()` uses for a name: its default, else its highest version that is not deprecated. $1 name */
export const defaultVersionSql = (s: string): string => `
with versions as (
  select version, is_default, deprecated_at from "${s}".workflow_versions where workflow_name = $1::text
)
select (select count(*) from versions)::int as known_versions,
       coalesce((select version from versions where is_default),
                (select max(version) from versions where deprecated_at is null)) as version`;
