/** The version `start()` uses for a name without options.version. $1 name */
export const defaultVersionSql = (s: string): string => `
select (select count(*) from "${s}".workflow_versions where workflow_name = $1::text)::int as known_versions,
       "${s}".default_version($1::text) as version`;
