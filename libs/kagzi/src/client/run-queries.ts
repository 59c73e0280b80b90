import { describeIssues } from '../common/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { Page, RunDetails, RunFilter, RunStatus, RunSummary, ScheduleInfo, WorkerInfo, WorkflowVersionInfo } from '../interfaces/run.interface';
import { ConnectionRetry } from '../persistence/connection-retry';
import { KagziDatabase } from '../persistence/kagzi-database';
import { RunStore } from '../persistence/run.store';
import { ScheduleStore } from '../persistence/schedule.store';
import { VersionStore } from '../persistence/version.store';
import { WorkerStore } from '../persistence/worker.store';
import { decodeCursor, encodeCursor, toRunDetails, toRunSummary, toVersionInfo, toWorkerInfo } from '../persistence/run.mapper';
import { toRunHistory } from '../persistence/run-history.mapper';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { RunHistory } from '../interfaces/run-history.interface';
import { assertName, assertRunId, listSchema } from './client-input';
import { unknownWorkflow } from './version-errors';

/** The filter of `countRuns` (and its alias `countWorkflows`): every field narrows the count. */
export type RunCountFilter = Pick<RunFilter, 'name' | 'version' | 'status'>;

/**
 * The client's reads that only display: one run's details or history, listing and counting runs, the
 * workers, versions and schedules. They go to `db.reads`: the read replica with `database.readUrl`
 * (possibly behind the primary by the replication lag), else the primary. A run or workflow the replica
 * does not know yet is looked up on the primary before it is reported missing, so `getRun` right after
 * `start` finds the run. Nothing here decides anything: `handle.result()`, `status()`, `findRun`, the
 * default version and every write read the primary (see docs/scaling.md#read-replicas).
 */
export class RunQueries {
  private readonly runs: RunStore;
  private readonly workers: WorkerStore;
  private readonly versions: VersionStore;
  private readonly schedules: ScheduleStore;
  /** The primary's stores, for "not found" answers the replica may give only because it lags; undefined without a replica. */
  private readonly primary?: { runs: RunStore; versions: VersionStore };

  constructor(
    db: KagziDatabase,
    private readonly connection: ConnectionRetry,
    private readonly serializer: PayloadSerializer,
  ) {
    this.runs = new RunStore(db.reads);
    this.workers = new WorkerStore(db.reads);
    this.versions = new VersionStore(db.reads);
    this.schedules = new ScheduleStore(db.reads);
    if (db.reads !== db) this.primary = { runs: new RunStore(db), versions: new VersionStore(db) };
  }

  /** The run, its steps and their attempts, for inspection (`getRun`). */
  async details(runId: string): Promise<RunDetails> {
    return toRunDetails(await this.find(runId, 'getRun'), this.serializer);
  }

  /** The run's recorded history as plain JSON (`exportRun`). */
  async history(runId: string): Promise<RunHistory> {
    return toRunHistory(await this.find(runId, 'exportRun'));
  }

  private async find(runId: string, method: string): Promise<NonNullable<Awaited<ReturnType<RunStore['getRun']>>>> {
    assertRunId(runId);
    const primary = this.primary;
    const found = await this.connection.run(`${method}(${runId})`, async () => (await this.runs.getRun(runId)) ?? primary?.runs.getRun(runId));
    if (!found) throw new RunNotFoundError(`No workflow run has id ${runId}`);
    return found;
  }

  /** Newest first; pass `nextCursor` back as `cursor` for the next page. */
  async listRuns(filter: RunFilter & { limit?: number; cursor?: string } = {}): Promise<Page<RunSummary>> {
    const parsed = listSchema.safeParse(filter);
    if (!parsed.success) throw new InvalidOptionsError(`Invalid listRuns filter: ${describeIssues(parsed.error, 'filter')}`);
    const limit = filter.limit ?? 50;
    const rows = await this.connection.run('listRuns()', () => this.runs.listRuns({
      name: filter.name,
      version: filter.version,
      statuses: filter.status === undefined ? undefined : ([] as RunStatus[]).concat(filter.status),
      createdAfter: filter.createdAfter,
      createdBefore: filter.createdBefore,
      cursor: filter.cursor === undefined ? undefined : decodeCursor(filter.cursor),
      limit: limit + 1,
    }));
    const items = rows.slice(0, limit).map(toRunSummary);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return last ? { items, nextCursor: encodeCursor(last) } : { items };
  }

  async count(method: 'countRuns' | 'countWorkflows', filter: RunCountFilter): Promise<number> {
    const parsed = listSchema.pick({ name: true, version: true, status: true }).strict().safeParse(filter);
    if (!parsed.success) throw new InvalidOptionsError(`Invalid ${method} filter: ${describeIssues(parsed.error, 'filter')}`);
    return this.connection.run(`${method}()`, () => this.runs.countRuns({
      name: filter.name,
      version: filter.version,
      statuses: filter.status === undefined ? undefined : ([] as RunStatus[]).concat(filter.status),
    }));
  }

  /** Every registered version of `name`, oldest first, with its default/deprecated/served state and runs in flight. */
  async listVersions(name: string): Promise<WorkflowVersionInfo[]> {
    assertName(name);
    const primary = this.primary;
    const rows = await this.connection.run(`listVersions('${name}')`, async () => {
      const found = await this.versions.listVersions(name);
      return found.length > 0 || !primary ? found : primary.versions.listVersions(name);
    });
    if (rows.length === 0) throw unknownWorkflow(name);
    return rows.map(toVersionInfo);
  }

  /** Every known worker (pruned after `worker.retention`), newest first. */
  async listWorkers(): Promise<WorkerInfo[]> {
    return (await this.connection.run('listWorkers()', () => this.workers.listWorkers())).map(toWorkerInfo);
  }

  /** The cron schedules of the workflows, with their next and last runs. */
  listSchedules(): Promise<ScheduleInfo[]> {
    return this.connection.run('listSchedules()', () => this.schedules.list());
  }
}
