import { statement } from '../statement';

/**
 * Record (name, version) pairs; re-registering only refreshes last_seen_at (and worker_seen_at when a
 * worker records the pairs it serves), so a boot never changes the default.
 */
export const registerVersions = statement(
  'registerVersions',
  (s) => `
insert into "${s}".workflow_versions (workflow_name, version, worker_seen_at)
select name, version, case when $3::boolean then now() end from unnest($1::text[], $2::int[]) as pairs(name, version)
on conflict (workflow_name, version) do update
  set last_seen_at = now(), worker_seen_at = coalesce(excluded.worker_seen_at, "${s}".workflow_versions.worker_seen_at)`,
  (a: { names: string[]; versions: number[]; byWorker: boolean }) => [a.names, a.versions, a.byWorker],
);
