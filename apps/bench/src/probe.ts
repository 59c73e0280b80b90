import { performance } from 'node:perf_hooks';
import type { Client, Pool } from 'pg';
import type { NotificationListener } from '../../../libs/kagzi/src/persistence/notification.listener';
import { statementName } from '../../../libs/kagzi/src/persistence/schema-identifiers';

/** One statement sent through the library's pool. Times are `performance.now()` ms. */
export interface QueryRecord {
  /** Kagzi's statement name without the schema prefix (`claimRuns`, `commitStep`, …), else the SQL's first words. */
  name: string;
  /** INSERT / UPDATE / DELETE: an autocommit statement that writes is one commit (one WAL flush). */
  write: boolean;
  t0: number;
  t1?: number;
  rows?: number;
  failed?: boolean;
  /** Only while `captureValues` is set: the statement's parameters and the `id` of each returned row. */
  values?: readonly unknown[];
  resultIds?: string[];
}

type QueryFn = (...args: unknown[]) => unknown;

/**
 * Counts what Kagzi sends to PostgreSQL by wrapping the query method of its pg pool (every hot-path
 * statement goes through `pool.query` as one named prepared statement = one round trip) and of the
 * LISTEN connection (which should only ever receive notifications after its initial LISTEN).
 * New pool connections are counted too, since each costs extra round trips for the handshake.
 */
export class QueryProbe {
  private recording = false;
  /** Also keep each statement's parameters and returned row ids (to tell apart which run a statement serves). */
  captureValues = false;
  private records: QueryRecord[] = [];
  private newConnections = 0;
  private listenerQueries: string[] = [];
  private notifications = 0;
  private attachedListenerClient?: Client;

  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {
    const original = pool.query.bind(pool) as QueryFn;
    (pool as unknown as { query: QueryFn }).query = (...args: unknown[]): unknown => {
      if (!this.recording) return original(...args);
      const record: QueryRecord = { ...this.describe(args[0]), t0: performance.now() };
      if (this.captureValues) record.values = parameters(args);
      this.records.push(record);
      const result = original(...args);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        const capture = this.captureValues;
        (result as Promise<{ rowCount: number | null; rows?: Array<{ id?: unknown }> }>).then(
          (r) => {
            record.t1 = performance.now();
            record.rows = r?.rowCount ?? 0;
            if (capture) record.resultIds = (r?.rows ?? []).flatMap((row) => (typeof row?.id === 'string' ? [row.id] : []));
          },
          () => {
            record.t1 = performance.now();
            record.failed = true;
          },
        );
      }
      return result;
    };
    pool.on('connect', () => {
      if (this.recording) this.newConnections++;
    });
  }

  /** Watches the listener's connection: queries on it are counted, notifications too. */
  attachListener(listener: NotificationListener): void {
    const client = (listener as unknown as { client?: Client }).client;
    if (!client || client === this.attachedListenerClient) return;
    this.attachedListenerClient = client;
    const original = client.query.bind(client) as QueryFn;
    (client as unknown as { query: QueryFn }).query = (...args: unknown[]): unknown => {
      if (this.recording) this.listenerQueries.push(this.describe(args[0]).name);
      return original(...args);
    };
    client.on('notification', () => {
      if (this.recording) this.notifications++;
    });
  }

  start(): void {
    this.records = [];
    this.newConnections = 0;
    this.listenerQueries = [];
    this.notifications = 0;
    this.recording = true;
  }

  stop(): ProbeResult {
    this.recording = false;
    return {
      records: this.records,
      newConnections: this.newConnections,
      listenerQueries: this.listenerQueries,
      notifications: this.notifications,
    };
  }

  /**
   * Resolves once every recorded statement has its reply. A `result()` can resolve before the
   * statement that finished the run has its own reply: the outcome travels in the `finished` NOTIFY,
   * on another connection.
   */
  async settled(timeoutMs = 1_000): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (this.records.some((r) => r.t1 === undefined) && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Records so far, without stopping. */
  snapshot(): readonly QueryRecord[] {
    return this.records;
  }

  private describe(arg: unknown): { name: string; write: boolean } {
    let name: string | undefined;
    let text = '';
    if (typeof arg === 'string') text = arg;
    else if (arg && typeof arg === 'object') {
      const config = arg as { name?: string; text?: string };
      name = config.name;
      text = config.text ?? '';
    }
    const prefix = statementName(this.schema, '');
    if (name?.startsWith(prefix)) name = name.slice(prefix.length);
    return {
      name: name ?? text.trim().split(/\s+/).slice(0, 3).join(' '),
      write: /\b(insert|update|delete)\b/i.test(text),
    };
  }
}

export interface ProbeResult {
  records: QueryRecord[];
  newConnections: number;
  listenerQueries: string[];
  notifications: number;
}

/** The parameters of `pool.query(config)` or `pool.query(text, values)`. */
function parameters(args: readonly unknown[]): readonly unknown[] | undefined {
  const first = args[0];
  if (first && typeof first === 'object' && Array.isArray((first as { values?: unknown }).values)) return (first as { values: unknown[] }).values;
  return Array.isArray(args[1]) ? (args[1] as unknown[]) : undefined;
}

/** `{ claimRuns: 2, commitStep: 3, … }` in first-seen order. */
export function countByName(records: readonly QueryRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.name] = (counts[r.name] ?? 0) + 1;
  return counts;
}

/** Resolves once no statement is outstanding and none was issued or answered for `quietMs` (the probe must be recording). */
export async function waitQuiet(probe: QueryProbe, quietMs: number): Promise<void> {
  for (;;) {
    const records = probe.snapshot();
    const busy = records.some((r) => r.t1 === undefined);
    const idle = busy ? 0 : performance.now() - records.reduce((a, r) => Math.max(a, r.t1 ?? r.t0), 0);
    if (!busy && idle >= quietMs) return;
    await new Promise((resolve) => setTimeout(resolve, busy ? 1 : quietMs - idle));
  }
}
