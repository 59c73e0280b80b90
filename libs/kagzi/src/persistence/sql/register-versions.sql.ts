/** Record the (name, version) pairs a worker serves; re-registering only refreshes last_seen_at. $1 names, $2 versions */
export const registerVersionsSql = (s: string): string => `
insert into "${s}".workflow_versions (workflow_name, version)
select * from unnest($1::text[], $2::int[])
on conflict (workflow_name, version) do update set last_seen_at = now()`;
