import { createHash } from 'node:crypto';

/**
 * PostgreSQL cuts identifiers (prepared-statement names, NOTIFY channels) to 63 bytes, and a schema
 * name may itself be 63 characters: `${schema}_${name}` then collides (42P05) and `"${schema}.wakeup"`
 * is cut. A short hash of the schema keeps names of different schemas apart and every name short.
 */
function schemaTag(schema: string): string {
  let tag = tags.get(schema);
  if (tag === undefined) {
    tag = createHash('sha1').update(schema).digest('hex').slice(0, 10);
    tags.set(schema, tag);
  }
  return tag;
}

/** Statement names are built for every query: hash each schema once. */
const tags = new Map<string, string>();

/** The prepared-statement name of statement `name` for `schema`: `k<hash>_<name>`, at most 63 bytes. */
export function statementName(schema: string, name: string): string {
  return `k${schemaTag(schema)}_${name}`;
}

export type NotificationTopic = 'wakeup' | 'finished' | 'event' | 'cancel';

/** The NOTIFY channel of `topic` for `schema`: `kagzi_<hash>_<topic>`, lower case, so quoting never matters. */
export function notificationChannel(schema: string, topic: NotificationTopic): string {
  return `kagzi_${schemaTag(schema)}_${topic}`;
}
