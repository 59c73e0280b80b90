import { Client, QueryConfig } from 'pg';

/**
 * Records the queries the pg driver sends (every `Client.prototype.query` call, pooled or not) from now
 * until `jest.restoreAllMocks()`: a query given as text is recorded as `{ text }` (`asText` true). `keep`
 * filters them.
 */
export function recordQueries(keep: (query: QueryConfig, client: Client, asText: boolean) => boolean = () => true): QueryConfig[] {
  const sent: QueryConfig[] = [];
  const query = Client.prototype.query;
  jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
    const asText = typeof args[0] !== 'object' || args[0] === null;
    const q = (asText ? { text: args[0] } : args[0]) as QueryConfig;
    if (keep(q, this, asText)) sent.push(q);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query);
  return sent;
}

/** The prepared-statement names of the recorded queries (unnamed ones left out). */
export function statementNames(sent: readonly QueryConfig[]): string[] {
  return sent.filter((q) => typeof q.name === 'string').map((q) => String(q.name));
}
