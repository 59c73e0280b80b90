import { SerializedStepError } from '../errors/step.error';
import { StoredPayload } from '../execution/payload.serializer';
import { RunStatus } from '../interfaces/run.interface';
import { KagziDatabase } from './kagzi-database';
import { cancelRunSql } from './sql/cancel-run.sql';
import { claimRunsSql } from './sql/claim-runs.sql';
import { commitStepSql } from './sql/commit-step.sql';
import { countRunsSql } from './sql/count-runs.sql';
import { heartbeatSql } from './sql/heartbeat.sql';
import { healthStatsSql } from './sql/health-stats.sql';
import { findLiveWorkerSql } from './sql/find-live-worker.sql';
import { listWorkersSql } from './sql/list-workers.sql';
import { markWorkerLostSql } from './sql/mark-worker-lost.sql';
import { pruneWorkersSql } from './sql/prune-workers.sql';
import { registerWorkerSql } from './sql/register-worker.sql';
import { setWorkerStatusSql } from './sql/set-worker-status.sql';
import { findRunByKeySql } from './sql/find-run-by-key.sql';
import { findStepSql } from './sql/find-step.sql';
import { defaultVersionSql } from './sql/default-version.sql';
import { deprecateVersionSql } from './sql/deprecate-version.sql';
import { listVersionsSql } from './sql/list-versions.sql';
import { lockWorkflowNameSql } from './sql/lock-workflow-name.sql';
import { setDefaultVersionSql } from './sql/set-default-version.sql';
import { finishRunSql } from './sql/finish-run.sql';
import { getRunOutcomeSql } from './sql/get-run-outcome.sql';
import { getRunOutcomesSql } from './sql/get-run-outcomes.sql';
import { getRunStepsSql } from './sql/get-run-steps.sql';
import { getStepAttemptsSql } from './sql/get-step-attempts.sql';
import { getRunSql } from './sql/get-run.sql';
import { insertRunSql } from './sql/insert-run.sql';
import { listRunsSql } from './sql/list-runs.sql';
import { loadStepsSql } from './sql/load-steps.sql';
import { nextDueSql } from './sql/next-due.sql';
import { parkRunSql } from './sql/park-run.sql';
import { recordMarkerSql } from './sql/record-marker.sql';
import { registerVersionsSql } from './sql/register-versions.sql';
import { scheduleRetrySql } from './sql/schedule-retry.sql';
import { releaseRunsSql } from './sql/release-runs.sql';
import { ClaimedRunRow, InsertRunResult, RunOutcomeRow, RunRow, StepAttemptRow, StepRow, StoredStepRow, VersionRow, WorkerRow } from './run.rows';

/** Who holds a run: every write for a claimed run carries this and is refused if it is stale. */
export interface Lease {
  runId: string;
  owner: string;
  epoch: number;
}

/** A run this worker has just claimed, with the lease every later write for it carries. */
export interface ClaimedRun {
  lease: Lease;
  workflowName: string;
  version: number;
  input: StoredPayload | null;
}

export interface ServedPairs {
  names: string[];
  versions: number[];
}

/** Where a step ran: the innermost parallel group and the branch within it (absent at the top level). */
export interface StepPlacement {
  group?: string;
  branch?: string;
}

export type StepCommitOutcome = { kind: 'committed' } | { kind: 'exists'; step: StoredStepRow } | { kind: 'lost' };

/** Every statement Kagzi runs against its tables, with the schema bound once. */
export class RunRepository {
  private readonly sql: Record<
    | 'insertRun' | 'findRunByKey' | 'claimRuns' | 'loadSteps' | 'commitStep' | 'findStep' | 'finishRun'
    | 'heartbeat' | 'registerWorker' | 'findLiveWorker' | 'markWorkerLost' | 'setWorkerStatus' | 'pruneWorkers' | 'listWorkers' | 'healthStats' | 'releaseRuns' | 'cancelRun' | 'getRunOutcome' | 'getRunOutcomes' | 'getRun' | 'getRunSteps' | 'getStepAttempts' | 'scheduleRetry' | 'recordMarker' | 'parkRun' | 'listRuns' | 'countRuns'
    | 'nextDue' | 'registerVersions' | 'defaultVersion' | 'setDefaultVersion' | 'deprecateVersion' | 'listVersions' | 'lockWorkflowName',
    string
  >;

  constructor(private readonly db: KagziDatabase) {
    const s = db.schema;
    this.sql = {
      insertRun: insertRunSql(s), findRunByKey: findRunByKeySql(s), claimRuns: claimRunsSql(s), loadSteps: loadStepsSql(s),
      commitStep: commitStepSql(s), findStep: findStepSql(s), finishRun: finishRunSql(s),
      heartbeat: heartbeatSql(s), registerWorker: registerWorkerSql(s), findLiveWorker: findLiveWorkerSql(s), markWorkerLost: markWorkerLostSql(s), setWorkerStatus: setWorkerStatusSql(s),
      pruneWorkers: pruneWorkersSql(s), listWorkers: listWorkersSql(s), healthStats: healthStatsSql(s), releaseRuns: releaseRunsSql(s), cancelRun: cancelRunSql(s),
      getRunOutcome: getRunOutcomeSql(s), getRunOutcomes: getRunOutcomesSql(s), getRun: getRunSql(s), getRunSteps: getRunStepsSql(s), getStepAttempts: getStepAttemptsSql(s), scheduleRetry: scheduleRetrySql(s), recordMarker: recordMarkerSql(s), parkRun: parkRunSql(s), listRuns: listRunsSql(s),
      countRuns: countRunsSql(s), nextDue: nextDueSql(s), registerVersions: registerVersionsSql(s), defaultVersion: defaultVersionSql(s),
      setDefaultVersion: setDefaultVersionSql(s), deprecateVersion: deprecateVersionSql(s), listVersions: listVersionsSql(s),
      lockWorkflowName: lockWorkflowNameSql(s),
    };
  }

  private run<R extends object>(name: keyof RunRepository['sql'], values: unknown[]): Promise<R[]> {
    return this.db.query<R & Record<string, unknown>>(name, this.sql[name], values);
  }

  /** Inserts a run pinned to `version` (or the default); the flags say why nothing was inserted. */
  async insertRun(run: { id: string; name: string; version?: number; input: string; idempotencyKey?: string; delayMs: number }): Promise<InsertRunResult> {
    const [row] = await this.run<InsertRunResult>('insertRun', [run.id, run.name, run.version ?? null, run.input, run.idempotencyKey ?? null, run.delayMs]);
    return row;
  }

  async findRunIdByKey(name: string, idempotencyKey: string): Promise<string | undefined> {
    const rows = await this.run<{ id: string }>('findRunByKey', [name, idempotencyKey]);
    return rows[0]?.id;
  }

  async claimRuns(owner: string, served: ServedPairs, limit: number, leaseMs: number): Promise<ClaimedRun[]> {
    const rows = await this.run<ClaimedRunRow>('claimRuns', [owner, served.names, served.versions, limit, leaseMs]);
    return rows.map((r) => ({ lease: { runId: r.id, owner, epoch: r.lease_epoch }, workflowName: r.workflow_name, version: r.workflow_version, input: r.input }));
  }

  loadSteps(runId: string): Promise<StoredStepRow[]> {
    return this.run<StoredStepRow>('loadSteps', [runId]);
  }

  async commitStep(
    lease: Lease,
    step: {
      key: string; name: string; status: 'COMPLETED' | 'FAILED'; argsHash: string; output: string | null;
      error: SerializedStepError | null; startedAt: Date; attempt: number;
    } & StepPlacement,
  ): Promise<StepCommitOutcome> {
    const rows = await this.run('commitStep', [
      lease.runId, lease.owner, lease.epoch, step.key, step.name, step.status, step.argsHash, step.output,
      step.error === null ? null : JSON.stringify(step.error), step.startedAt, step.attempt, step.group ?? null, step.branch ?? null,
    ]);
    return rows.length === 1 ? { kind: 'committed' } : this.whyNotWritten(lease, step.key);
  }

  /** Returns false when the lease was lost (nothing written). */
  async finishRun(lease: Lease, status: 'COMPLETED' | 'FAILED', output: string | null, error: SerializedStepError | null): Promise<boolean> {
    const rows = await this.run('finishRun', [lease.runId, lease.owner, lease.epoch, status, output, error === null ? null : JSON.stringify(error)]);
    return rows.length === 1;
  }

  /**
   * Records a failed attempt that will be retried at `nextAttemptAt`; with `parkUntil`, parks the run
   * until then in the same statement. Returns false when the lease was lost (nothing written).
   */
  async scheduleRetry(
    lease: Lease,
    step: { key: string; name: string; argsHash: string; error: SerializedStepError; attempt: number; startedAt: Date; nextAttemptAt: Date } & StepPlacement,
    parkUntil?: Date,
  ): Promise<boolean> {
    const rows = await this.run('scheduleRetry', [
      lease.runId, lease.owner, lease.epoch, step.key, step.name, step.nextAttemptAt, step.argsHash, JSON.stringify(step.error),
      step.attempt, step.startedAt, parkUntil !== undefined, step.group ?? null, parkUntil ?? null, step.branch ?? null,
    ]);
    return rows.length === 1;
  }

  /** Records a sleep's wake-up or a group's decision; 'exists' when one was recorded first. */
  async recordMarker(lease: Lease, marker: { key: string; name: string; kind: 'SLEEP' | 'GROUP'; output: string } & StepPlacement): Promise<StepCommitOutcome> {
    const rows = await this.run('recordMarker', [
      lease.runId, lease.owner, lease.epoch, marker.key, marker.name, marker.kind, marker.output, marker.group ?? null, marker.branch ?? null,
    ]);
    return rows.length === 1 ? { kind: 'committed' } : this.whyNotWritten(lease, marker.key);
  }

  /** Parks the run until `dueAt`, recording a sleep with it if given. Returns false when the lease was lost. */
  async parkRun(lease: Lease, dueAt: Date, sleep?: { key: string; output: string } & StepPlacement): Promise<boolean> {
    const rows = await this.run('parkRun', [
      lease.runId, lease.owner, lease.epoch, dueAt, sleep?.key ?? null, sleep?.output ?? null, sleep?.group ?? null, sleep?.branch ?? null,
    ]);
    return rows.length === 1;
  }

  /** A fenced insert wrote nothing: either the lease is gone, or the key was recorded first (returned). */
  private async whyNotWritten(lease: Lease, key: string): Promise<StepCommitOutcome> {
    const [found] = await this.run<StoredStepRow & { lease_owner: string | null; lease_epoch: number; run_status: RunStatus }>('findStep', [lease.runId, key]);
    const stillOwner = found && found.lease_owner === lease.owner && found.lease_epoch === lease.epoch && found.run_status === 'RUNNING';
    return stillOwner && found.step_key !== null ? { kind: 'exists', step: found } : { kind: 'lost' };
  }

  /**
   * One heartbeat: this worker's row, the leases of `held` (returns the ids still owned; the others
   * are lost), and LOST marks for workers that stopped beating.
   */
  async heartbeat(worker: { id: string; name: string; status: 'RUNNING' | 'DRAINING'; activeRuns: number }, held: Lease[], leaseMs: number): Promise<Set<string>> {
    const rows = await this.run<{ id: string }>('heartbeat', [
      worker.id, worker.name, held.map((l) => l.runId), held.map((l) => l.epoch), leaseMs, worker.activeRuns, worker.status,
    ]);
    return new Set(rows.map((r) => r.id));
  }

  async releaseRuns(worker: { id: string; name: string }, held: Lease[]): Promise<string[]> {
    if (held.length === 0) return [];
    const rows = await this.run<{ id: string }>('releaseRuns', [worker.name, held.map((l) => l.runId), held.map((l) => l.epoch), worker.id]);
    return rows.map((r) => r.id);
  }

  /** Throws pg's unique violation (23505) when a live worker already has the name. */
  async registerWorker(worker: {
    id: string; name: string; hostname: string; pid: number; concurrency: number; heartbeatIntervalMs: number; workflows: string[]; libraryVersion: string;
  }): Promise<void> {
    await this.run('registerWorker', [
      worker.id, worker.name, worker.hostname, worker.pid, worker.concurrency, worker.heartbeatIntervalMs, worker.workflows, worker.libraryVersion,
    ]);
  }

  async findLiveWorker(name: string): Promise<{ id: string; hostname: string; pid: number } | undefined> {
    const [row] = await this.run<{ id: string; hostname: string; pid: number }>('findLiveWorker', [name]);
    return row;
  }

  async markWorkerLost(workerId: string, detectedBy: string): Promise<void> {
    await this.run('markWorkerLost', [workerId, detectedBy]);
  }

  async setWorkerStatus(worker: { id: string; name: string }, status: 'DRAINING' | 'STOPPED', data: Record<string, unknown>): Promise<void> {
    await this.run('setWorkerStatus', [worker.id, worker.name, status, JSON.stringify(data)]);
  }

  async pruneWorkers(retentionMs: number): Promise<void> {
    await this.run('pruneWorkers', [retentionMs]);
  }

  listWorkers(): Promise<WorkerRow[]> {
    return this.run<WorkerRow>('listWorkers', []);
  }

  async healthStats(served: ServedPairs): Promise<{ due_backlog: number; unserved: string[] }> {
    const [row] = await this.run<{ due_backlog: number; unserved: string[] }>('healthStats', [served.names, served.versions]);
    return row;
  }

  /** Returns false when the run was already finished (or does not exist). */
  async cancelRun(runId: string, error: SerializedStepError): Promise<boolean> {
    const rows = await this.run('cancelRun', [runId, JSON.stringify(error)]);
    return rows.length === 1;
  }

  async getRunOutcome(runId: string): Promise<RunOutcomeRow | undefined> {
    const rows = await this.run<RunOutcomeRow>('getRunOutcome', [runId]);
    return rows[0];
  }

  /** Outcomes of those runs that have finished. */
  getRunOutcomes(runIds: string[]): Promise<Array<RunOutcomeRow & { id: string }>> {
    return this.run<RunOutcomeRow & { id: string }>('getRunOutcomes', [runIds]);
  }

  async getRun(runId: string): Promise<{ run: RunRow; steps: StepRow[]; attempts: StepAttemptRow[] } | undefined> {
    const [runs, steps, attempts] = await Promise.all([
      this.run<RunRow>('getRun', [runId]),
      this.run<StepRow>('getRunSteps', [runId]),
      this.run<StepAttemptRow>('getStepAttempts', [runId]),
    ]);
    return runs[0] ? { run: runs[0], steps, attempts } : undefined;
  }

  listRuns(filter: {
    name?: string; version?: number; statuses?: RunStatus[]; createdAfter?: Date; createdBefore?: Date;
    cursor?: { createdAt: string; id: string }; limit: number;
  }): Promise<RunRow[]> {
    return this.run<RunRow>('listRuns', [
      filter.name ?? null, filter.version ?? null, filter.statuses ?? null, filter.createdAfter ?? null, filter.createdBefore ?? null,
      filter.cursor?.createdAt ?? null, filter.cursor?.id ?? null, filter.limit,
    ]);
  }

  async countRuns(filter: { name?: string; version?: number; statuses?: RunStatus[] }): Promise<number> {
    const rows = await this.run<{ count: number }>('countRuns', [filter.name ?? null, filter.version ?? null, filter.statuses ?? null]);
    return rows[0].count;
  }

  /** Milliseconds until the next served run is due (negative: overdue), or undefined when none is waiting. */
  async nextDueInMs(served: ServedPairs): Promise<number | undefined> {
    const rows = await this.run<{ due_in_ms: string | number | null }>('nextDue', [served.names, served.versions]);
    const value = rows[0]?.due_in_ms;
    return value === null || value === undefined ? undefined : Number(value);
  }

  /** Records (name, version) pairs; `byWorker` when a worker records the pairs it serves. */
  async registerVersions(pairs: ServedPairs, byWorker: boolean): Promise<void> {
    if (pairs.names.length > 0) await this.run('registerVersions', [pairs.names, pairs.versions, byWorker]);
  }

  async defaultVersion(name: string): Promise<{ known_versions: number; version: number | null }> {
    const [row] = await this.run<{ known_versions: number; version: number | null }>('defaultVersion', [name]);
    return row;
  }

  async setDefaultVersion(name: string, version: number): Promise<{ known_versions: number; version_known: boolean; usable: boolean }> {
    return this.underNameLock(name, 'setDefaultVersion', [name, version]);
  }

  async deprecateVersion(
    name: string,
    version: number,
  ): Promise<{ known_versions: number; version_known: boolean; default_version: number | null; deprecated: boolean }> {
    return this.underNameLock(name, 'deprecateVersion', [name, version]);
  }

  /** One version-changing statement, serialised with every other one for the same workflow name. */
  private underNameLock<R extends object>(name: string, statement: 'setDefaultVersion' | 'deprecateVersion', values: unknown[]): Promise<R> {
    return this.db.transaction(async (query) => {
      await query('lockWorkflowName', this.sql.lockWorkflowName, [name]);
      const [row] = await query<R & Record<string, unknown>>(statement, this.sql[statement], values);
      return row;
    });
  }

  listVersions(name: string): Promise<VersionRow[]> {
    return this.run<VersionRow>('listVersions', [name]);
  }
}

