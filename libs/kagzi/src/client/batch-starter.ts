import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import { toMilliseconds } from '../common/duration';
import { describeIssues } from '../common/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { KagziError } from '../errors/kagzi.error';
import { PayloadTooLargeError } from '../errors/payload-too-large.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { StartOptions } from '../interfaces/run.interface';
import { WorkflowRef } from '../interfaces/workflow.interface';
import { recordRunStarted } from '../metrics/run.metrics';
import { afterCallerCommit } from '../persistence/after-caller-commit';
import { assertCallerDatabase, CallerSql, CallerTransaction } from '../persistence/caller-transaction';
import { ConnectionRetry } from '../persistence/connection-retry';
import { KagziDatabase } from '../persistence/kagzi-database';
import { findRunByKey } from '../persistence/sql/find-run-by-key.sql';
import { BatchRun, insertRuns, InsertRunsRow } from '../persistence/sql/insert-runs.sql';
import { startTrace, StartTrace } from '../tracing/start.trace';
import { startOptionsSchema } from './client-input';
import { versionError } from './version-errors';

/** One run to start with `client.startMany`: what `start(workflow, input, options)` takes, as an object. */
export interface StartManyItem<I = unknown, O = unknown> {
  /** The workflow, by name or class. */
  workflow: WorkflowRef<I, O>;
  /** The run's input. */
  input: I;
  /** As for `start()`, except `manager`: a batch joins one transaction, given once in {@link StartManyOptions}. */
  options?: Omit<StartOptions, 'manager'>;
}

/** Options of the whole `startMany` call. */
export interface StartManyOptions {
  /** Insert every run of the batch in this TypeORM EntityManager's transaction (as `start(…, { manager })`). */
  manager?: EntityManager;
}

/** Items per `startMany` call: one statement's arrays stay a few megabytes and one transaction stays short. */
export const MAX_START_MANY_ITEMS = 10_000;
/** Serialized inputs per `startMany` call: the statement's parameters must fit in one message and one string. */
export const MAX_START_MANY_INPUT_BYTES = 64 * 1024 * 1024;

const ITEM_KEYS = new Set(['workflow', 'input', 'options']);
const startManyOptionsSchema = z.object({ manager: startOptionsSchema.shape.manager }).strict();


/** The batch as it is sent: one row per distinct run, and for each item the row that stands for it. */
interface PreparedBatch {
  rows: BatchRun[];
  /** Item index → row index (items repeating a key of the batch share the first one's row). */
  rowOf: number[];
  /** Row index → index of the item it came from (the first with its key). */
  itemOf: number[];
  /** Row index → its `kagzi.start` span. */
  traces: StartTrace[];
}

/**
 * `client.startMany`: every item checked and encoded before anything is written, then one statement
 * (insert-runs.sql.ts) inserts the whole batch or nothing, and one NOTIFY wakes the workers. The ids of
 * the runs, in item order.
 */
export class BatchStarter {
  constructor(
    private readonly db: KagziDatabase,
    private readonly serializer: PayloadSerializer,
    private readonly connection: ConnectionRetry,
    private readonly nameOf: (workflow: WorkflowRef<unknown, unknown>) => string,
  ) {}

  async startMany(items: readonly StartManyItem[], options: StartManyOptions = {}): Promise<string[]> {
    const parsed = startManyOptionsSchema.safeParse(options);
    if (!parsed.success) throw new InvalidOptionsError(`startMany(): ${describeIssues(parsed.error, 'options')}`);
    if (!Array.isArray(items)) throw new InvalidOptionsError(`startMany(): items must be an array of { workflow, input, options? }; got ${describe(items)}`);
    if (items.length > MAX_START_MANY_ITEMS) {
      throw new InvalidOptionsError(`startMany(): ${items.length} items, above the limit of ${MAX_START_MANY_ITEMS} per call; split them into batches of at most ${MAX_START_MANY_ITEMS}`);
    }
    if (items.length === 0) return [];
    const batch = this.prepare(items);
    // Spans only once every item passed: a refused batch leaves none open.
    for (const row of batch.rows) {
      const trace = startTrace(row.name, row.id, row.version);
      if (trace.carrier) row.traceContext = JSON.stringify(trace.carrier);
      batch.traces.push(trace);
    }
    const manager = options.manager;
    const inserting = manager === undefined ? this.insert(batch.rows) : this.insertInTransaction(manager, batch.rows);
    const done = this.settle(batch, inserting, manager);
    // Each run's `kagzi.start` span (its context stored with the run) covers the one insert, and its error if any.
    await Promise.all(batch.traces.map((trace) => trace.around(() => done)));
    const runIds = await done;
    return batch.rowOf.map((j) => runIds[j]);
  }

  /** The statement's answer: the typed error of the item that stopped the batch, else the run id of each row. */
  private async settle(batch: PreparedBatch, inserting: Promise<InsertRunsRow>, manager: CallerSql | undefined): Promise<string[]> {
    const result = await inserting;
    if (result.blocked_item !== null) {
      const row = batch.rows[result.blocked_item - 1];
      const flags = { known_versions: result.known_versions ?? 0, version: result.version, version_known: result.version_known ?? false, usable: false, id: null };
      throw itemError(batch.itemOf[result.blocked_item - 1], '', versionError(row.name, row.version, flags));
    }
    const runIds = await this.resolveMissing(batch, result.run_ids, manager);
    const count = (): void =>
      batch.rows.forEach((row, j) => {
        const version = result.versions[j];
        if (version !== null) recordRunStarted(row.name, version);
      });
    batch.rows.forEach((_row, j) => batch.traces[j].version(result.versions[j]));
    // In a caller's transaction the runs are counted once it commits: rolled back, they never existed.
    if (manager === undefined) count();
    else afterCallerCommit(manager, count);
    return runIds;
  }

  /** Checks and encodes every item; the first bad one throws, naming its index. */
  private prepare(items: readonly StartManyItem[]): PreparedBatch {
    const names = new Map<unknown, string>();
    const byKey = new Map<string, number>();
    const batch: PreparedBatch = { rows: [], rowOf: new Array<number>(items.length), itemOf: [], traces: [] };
    let bytes = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw new InvalidOptionsError(`startMany(): items[${i}] must be an object { workflow, input, options? }; got ${describe(item)}`);
      }
      for (const key in item) {
        if (!ITEM_KEYS.has(key)) throw new InvalidOptionsError(`startMany(): items[${i}].${key}: unknown key (an item has workflow, input and options)`);
      }
      const name = names.get(item.workflow) ?? atItem(i, '.workflow', () => this.nameOf(item.workflow));
      names.set(item.workflow, name);
      const options = item.options === undefined ? {} : checkItemOptions(i, item.options);
      const delayMs = options.delay === undefined ? 0 : toMilliseconds(options.delay, `startMany(): items[${i}].options.delay`);
      const encoded = atItem(i, '.input', () => this.serializer.encode(item.input, `input of workflow "${name}"`));
      bytes += encoded.bytes;
      if (bytes > MAX_START_MANY_INPUT_BYTES) {
        throw new PayloadTooLargeError(
          `startMany(): the inputs of items[0] to items[${i}] add up to ${bytes} bytes serialized, above the ${MAX_START_MANY_INPUT_BYTES} bytes one call may carry; split the items into smaller batches`,
        );
      }
      // A key repeated within the batch names one run, as a second start() with the key would: the first item's.
      const key = options.idempotencyKey === undefined ? undefined : `${name}\u0000${options.idempotencyKey}`;
      const first = key === undefined ? undefined : byKey.get(key);
      if (first !== undefined) {
        batch.rowOf[i] = first;
        continue;
      }
      if (key !== undefined) byKey.set(key, batch.rows.length);
      batch.rowOf[i] = batch.rows.length;
      batch.itemOf.push(i);
      batch.rows.push({ id: randomUUID(), name, version: options.version, input: encoded.text, idempotencyKey: options.idempotencyKey, delayMs });
    }
    return batch;
  }

  /**
   * On Kagzi's pool, retried through an outage: the ids are chosen before the first attempt, so a retry
   * after a lost reply finds the runs that attempt inserted by their ids (the statement inserts nothing twice).
   */
  private async insert(rows: BatchRun[]): Promise<InsertRunsRow> {
    const [row] = await this.connection.run(`startMany() of ${rows.length} runs`, () => this.db.run<InsertRunsRow>(insertRuns.with(rows)));
    return row;
  }

  /** In the caller's transaction: no retry (an outage aborts their transaction anyway). */
  private async insertInTransaction(manager: CallerSql, rows: BatchRun[]): Promise<InsertRunsRow> {
    await assertCallerDatabase(this.db, manager, 'startMany() options.manager');
    const [row] = rowsOf<InsertRunsRow>(await manager.query(insertRuns.text(this.db.schema), insertRuns.values(rows)));
    return row;
  }

  /** A key committed by another transaction while the insert waited is not in its snapshot: read it now. */
  private async resolveMissing(batch: PreparedBatch, runIds: Array<string | null>, manager: CallerSql | undefined): Promise<string[]> {
    const resolved: string[] = [];
    for (let j = 0; j < runIds.length; j++) {
      const row = batch.rows[j];
      const id = runIds[j] ?? (row.idempotencyKey === undefined ? undefined : await this.findByKey(row.name, row.idempotencyKey, manager));
      if (id === undefined) {
        throw new RunNotFoundError(
          `startMany(): items[${batch.itemOf[j]}]: the run holding idempotency key "${String(row.idempotencyKey)}" of workflow "${row.name}" was deleted while the batch was inserted; call startMany() again`,
        );
      }
      resolved.push(id);
    }
    return resolved;
  }

  private findByKey(name: string, idempotencyKey: string, manager: CallerSql | undefined): Promise<string | undefined> {
    if (manager) return new CallerTransaction(this.db, manager).findRunIdByKey(name, idempotencyKey);
    const find = async (): Promise<string | undefined> => (await this.db.run<{ id: string }>(findRunByKey.with({ name, idempotencyKey })))[0]?.id;
    return this.connection.run(`startMany(): the run of idempotency key "${idempotencyKey}"`, find);
  }
}

/** An item's `options`, as start() checks them; a manager per item is refused (the batch has one transaction). */
function checkItemOptions(index: number, options: unknown): Omit<StartOptions, 'manager'> {
  const parsed = startOptionsSchema.safeParse(options);
  if (!parsed.success) throw new InvalidOptionsError(`startMany(): ${describeIssues(parsed.error, `items[${index}].options`)}`);
  if (parsed.data.manager !== undefined) {
    throw new InvalidOptionsError(`startMany(): items[${index}].options.manager: not accepted per item; pass the transaction's manager once, as startMany(items, { manager })`);
  }
  return parsed.data;
}

/** Runs `work` for items[index]; a Kagzi error it throws is thrown again, same class, naming the item. */
function atItem<T>(index: number, field: string, work: () => T): T {
  try {
    return work();
  } catch (err: unknown) {
    throw itemError(index, field, err);
  }
}

function itemError(index: number, field: string, err: unknown): unknown {
  if (!(err instanceof KagziError)) return err;
  const SameClass = err.constructor as new (message: string, options?: { cause?: unknown }) => KagziError;
  return new SameClass(`startMany(): items[${index}]${field}: ${err.message}`, { cause: err.cause });
}

function rowsOf<R>(result: unknown): R[] {
  return (Array.isArray(result) ? result : ((result as { rows?: R[] } | undefined)?.rows ?? [])) as R[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}
