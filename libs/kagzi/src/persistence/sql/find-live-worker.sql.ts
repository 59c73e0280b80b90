/** The live worker that holds a name, if any. $1 name */
export const findLiveWorkerSql = (s: string): string => `
select id, hostname, pid from "${s}".workers where name = $1::text and status in ('RUNNING','DRAINING')`;
