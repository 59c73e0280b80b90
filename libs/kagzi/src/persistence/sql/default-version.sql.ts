import { statement } from '../statement';

/** The version `start()` uses for a name without options.version. */
export const defaultVersion = statement(
  'defaultVersion',
  (s) => `
select (select count(*) from "${s}".workflow_versions where workflow_name = $1::text)::int as known_versions,
       "${s}".default_version($1::text) as version`,
  (a: { name: string }) => [a.name],
);
