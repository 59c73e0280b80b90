import { statement } from '../statement';

/**
 * Testing only (`kt.clock.advance`): every stored due time in the future comes `$1` ms closer, and any
 * within that window becomes now — delayed starts, parked sleeps, back-offs and signal wait
 * timeouts (the run's due time, its step's next attempt, a sleep's recorded wake-up). Runs a worker
 * holds keep their lease (their in-process waits are moved by the worker). One statement, so a claim
 * sees all of it or none.
 */
export const skipTime = statement(
  'skipTime',
  (s) => `
with runs as (
  update "${s}".workflow_runs set due_at = greatest(now(), due_at - $1::double precision * interval '1 millisecond')
  where due_at > now() and status <> 'RUNNING'
  returning 1
), waits as (
  update "${s}".step_runs set next_attempt_at = greatest(now(), next_attempt_at - $1::double precision * interval '1 millisecond')
  where next_attempt_at > now() and kind <> 'SLEEP'
  returning 1
), sleeps as (
  update "${s}".step_runs
  set output = json_build_object(
    'json', to_char(greatest(now(), (output->>'json')::timestamptz - $1::double precision * interval '1 millisecond') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'meta', output->'meta')
  where kind = 'SLEEP' and (output->>'json')::timestamptz > now()
  returning 1
)
select (select count(*) from runs)::int as runs, (select count(*) from waits)::int as waits, (select count(*) from sleeps)::int as sleeps`,
  (a: { ms: number }) => [a.ms],
);
