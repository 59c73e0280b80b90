import { statement } from '../statement';

/** The live worker that holds a name, if any. */
export const findLiveWorker = statement(
  'findLiveWorker',
  (s) => `
select id, hostname, pid from "${s}".workers where name = $1::text and status in ('RUNNING','DRAINING')`,
  (a: { name: string }) => [a.name],
);
