import { NOTIFY_OUTCOME_BUDGET_BYTES } from '../../common/limits';
import { notificationChannel } from '../schema-identifiers';

/**
 * The `finished` NOTIFY for a run row that has just reached a final status (columns id, status, output,
 * error in scope). It always carries the id and the status, so a listener can tell a cancel from a
 * completion; the output and error ride along only when together under NOTIFY_OUTCOME_BUDGET_BYTES, because a
 * NOTIFY payload must stay under 8,000 bytes (id, status and keys take under 100) or the whole statement fails.
 */
export const notifyFinished = (s: string): string => `pg_notify('${notificationChannel(s, 'finished')}',
  case when coalesce(octet_length(output::text), 0) + coalesce(octet_length(error::text), 0) < ${NOTIFY_OUTCOME_BUDGET_BYTES}
       then json_build_object('id', id, 'status', status, 'output', output, 'error', error)::text
       else json_build_object('id', id, 'status', status)::text end)`;
