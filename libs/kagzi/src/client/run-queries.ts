import { describeIssues } from '../common/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { Page, RunDetails, RunFilter, RunStatus, RunSummary } from '../interfaces/run.interface';
import { ConnectionRetry } from '../persistence/connection-retry';
import { RunStore } from '../persistence/run.store';
import { decodeCursor, encodeCursor, toRunDetails, toRunSummary } from '../persistence/run.mapper';
import { toRunHistory } from '../persistence/run-history.mapper';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { RunHistory } from '../interfaces/run-history.interface';
import { assertRunId, listSchema } from './client-input';

/** The filter of `countRuns` (and its alias `countWorkflows`): every field narrows the count. */
export type RunCountFilter = Pick<RunFilter, 'name' | 'version' | 'status'>;

/** Reading runs: one run's details or history, listing and counting (the client's read methods). */
export class RunQueries {
  constructor(
    private readonly runs: RunStore,
    private readonly connection: ConnectionRetry,
    private readonly serializer: PayloadSerializer,
  ) {}

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
    const found = await this.connection.run(`${method}(${runId})`, () => this.runs.getRun(runId));
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
}
