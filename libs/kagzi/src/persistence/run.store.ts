import { SerializedStepError } from '../errors/step.error';
import { RunStatus } from '../interfaces/run.interface';
import { ClaimShare } from './claim-share';
import { RunEnd, runEnds } from './finish.batcher';
import { GroupWriter } from './group-writer';
import { stepCommits, StepRecord } from './step-commit.batcher';
import { KagziDatabase, StatementRunner } from './kagzi-database';
import { ClaimedRunRow, InsertRunResult, RetryRow, RunOutcomeRow, RunRow, SignalRow, StepAttemptRow, StepRow, StoredStepRow } from './run.rows';
import { cancelRun } from './sql/cancel-run.sql';
import { isTransactionConflict } from './database-errors';
import { claimRuns } from './sql/claim-runs.sql';
import { continueAsNew } from './sql/continue-as-new.sql';
import { deliverCancel } from './sql/deliver-cancel.sql';
import { commitStep } from './sql/commit-step.sql';
import { countRuns } from './sql/count-runs.sql';
import { findRunByKey } from './sql/find-run-by-key.sql';
import { findStep } from './sql/find-step.sql';
import { getRunOutcome } from './sql/get-run-outcome.sql';
import { getRunOutcomes } from './sql/get-run-outcomes.sql';
import { getRunChildren } from './sql/get-run-children.sql';
import { getRunSignals } from './sql/get-run-signals.sql';
import { getRunRetries } from './sql/get-run-retries.sql';
import { retryRun } from './sql/retry-run.sql';
import { getRunSteps } from './sql/get-run-steps.sql';
import { getRun } from './sql/get-run.sql';
import { getStepAttempts } from './sql/get-step-attempts.sql';
import { insertRun } from './sql/insert-run.sql';
import { listRuns } from './sql/list-runs.sql';
import { loadSteps } from './sql/load-steps.sql';
import { metricsBacklog } from './sql/metrics-backlog.sql';
import { nextDue } from './sql/next-due.sql';
import { parkRun } from './sql/park-run.sql';
import { recordMarker } from './sql/record-marker.sql';
import { scheduleRetry } from './sql/schedule-retry.sql';
import { startChild } from './sql/start-child.sql';
import { ClaimedRun, Lease, ServedPairs, StepCommitOutcome, StepPlacement } from './store.types';

/** How often a cancel is repeated at most to catch runs that appeared while it waited (a chain hopping, a child starting). */
const CANCEL_ROUNDS = 10;

/** Runs and what they record: start, claim, steps and attempts, sleeps, outcomes, cancellation, listing. */
export class RunStore {
  /** Which slots of this process's claims go first to runs never claimed (see claim-share.ts). */
  private readonly claimShare = new ClaimShare();
  private readonly commits: GroupWriter<{ lease: Lease; step: StepRecord }>;
  private readonly finishes: GroupWriter<{ lease: Lease; end: RunEnd }>;

  constructor(private readonly db: KagziDatabase) {
    this.commits = stepCommits(db);
    this.finishes = runEnds(db);
  }

  /** Inserts a run pinned to `version` (or the default); the flags say why nothing was inserted. */
  async insertRun(run: {
    id: string; name: string; version?: number; input: string; idempotencyKey?: string; delayMs: number; parent?: { runId: string; onParentClose: 'cancel' | 'abandon' };
    traceContext?: Record<string, string>;
  }): Promise<InsertRunResult> {
    const [row] = await this.db.run<InsertRunResult>(insertRun.with(run));
    return row;
  }

  /**
   * Inserts a child run and records it as the parent's CHILD step (see start-child.sql.ts). `held`
   * false: the parent's lease is gone; `id` null: no usable version (the flags say why), or a run with
   * the key committed meanwhile (find it by key); `recorded` false: the key was recorded before.
   */
  async startChild(
    lease: Lease,
    child: { childId: string; name: string; version?: number; input: string; idempotencyKey: string; onParentClose: 'cancel' | 'abandon'; key: string; traceContext?: Record<string, string> } & StepPlacement,
  ): Promise<InsertRunResult & { held: boolean; inserted: boolean; recorded: boolean; newestSeen: number }> {
    const [row] = await this.db.run<InsertRunResult & { held: boolean; inserted: boolean; recorded: boolean; newest_seen: string | number }>(
      startChild.with({ runId: lease.runId, owner: lease.owner, epoch: lease.epoch, ...child }),
    );
    return { ...row, newestSeen: Number(row.newest_seen) };
  }

  async findRunIdByKey(name: string, idempotencyKey: string): Promise<string | undefined> {
    const rows = await this.db.run<{ id: string }>(findRunByKey.with({ name, idempotencyKey }));
    return rows[0]?.id;
  }

  /** Up to `limit` due runs for `owner`: resumed runs first, new runs in the reserved share, never one of `held` (see claim-runs.sql.ts). */
  async claimRuns(owner: string, served: ServedPairs, limit: number, leaseMs: number, held: string[] = []): Promise<ClaimedRun[]> {
    const newFirst = this.claimShare.reserved(limit);
    const rows = await this.db.run<ClaimedRunRow>(claimRuns.with({ owner, ...served, limit, leaseMs, newFirst, held }));
    const claimedAt = performance.now();
    this.claimShare.record(rows.length, newFirst, rows.filter((r) => r.lease_epoch === 1).length);
    return rows.map((r) => ({
      lease: { runId: r.id, owner, epoch: r.lease_epoch }, workflowName: r.workflow_name, version: r.workflow_version, input: r.input,
      cancel: r.cancel_requested_at === null ? undefined : { cutAt: r.cancel_cut_at ?? undefined, reason: r.cancel_reason ?? undefined },
      traceContext: r.trace_context ?? undefined,
      claimLagMs: Number(r.claim_lag_ms), ageMs: Number(r.age_ms), claimedAt,
      steps: r.steps?.map((g) => ({
        ...g,
        next_attempt_at: g.next_attempt_at === null ? null : new Date(g.next_attempt_at),
        started_at: g.started_at === null ? undefined : new Date(g.started_at),
      })),
    }));
  }

  /** Milliseconds until the next served run is due (negative: overdue), or undefined when none is waiting. */
  async nextDueInMs(served: ServedPairs): Promise<number | undefined> {
    const rows = await this.db.run<{ due_in_ms: string | number | null }>(nextDue.with(served));
    const value = rows[0]?.due_in_ms;
    return value === null || value === undefined ? undefined : Number(value);
  }

  loadSteps(runId: string): Promise<StoredStepRow[]> {
    return this.db.run<StoredStepRow>(loadSteps.with({ runId }));
  }

  /**
   * Records a finished step and its last attempt, fenced by the lease: in `runner`'s transaction when
   * given (a transactional step), else through the group commit (step-commit.batcher.ts).
   */
  async commitStep(lease: Lease, step: StepRecord, runner?: StatementRunner): Promise<StepCommitOutcome> {
    const written = runner ? (await runner(commitStep.with({ ...step, ...lease }))).length === 1 : await this.commits.write({ lease, step });
    return written ? { kind: 'committed' } : this.whyNotWritten(lease, step.key);
  }

  /** Returns false when the lease was lost (nothing written). Grouped with other ends (finish.batcher.ts, group-writer.ts). */
  finishRun(lease: Lease, status: 'COMPLETED' | 'FAILED' | 'CANCELLED', output: string | null, error: SerializedStepError | null): Promise<boolean> {
    return this.finishes.write({ lease, end: { status, output, error } });
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
    const rows = await this.db.run(scheduleRetry.with({ ...step, ...lease, parkUntil }));
    return rows.length === 1;
  }

  /** Records a sleep's wake-up or a group's decision; 'exists' when one was recorded first. */
  async recordMarker(lease: Lease, marker: { key: string; name: string; kind: 'SLEEP' | 'GROUP' | 'CHILD'; output: string } & StepPlacement): Promise<StepCommitOutcome> {
    const rows = await this.db.run(recordMarker.with({ ...marker, ...lease }));
    return rows.length === 1 ? { kind: 'committed' } : this.whyNotWritten(lease, marker.key);
  }

  /** Parks the run until `dueAt`, recording a sleep with it if given. Returns false when the lease was lost. */
  async parkRun(lease: Lease, dueAt: Date, sleep?: { key: string; output: string } & StepPlacement): Promise<boolean> {
    const rows = await this.db.run(parkRun.with({ ...lease, dueAt, sleep }));
    return rows.length === 1;
  }

  /** A fenced insert wrote nothing: either the lease is gone, or the key was recorded first (returned). */
  private async whyNotWritten(lease: Lease, key: string): Promise<StepCommitOutcome> {
    const [found] = await this.db.run<StoredStepRow & { lease_owner: string | null; lease_epoch: number; run_status: RunStatus }>(
      findStep.with({ runId: lease.runId, key }),
    );
    const stillOwner = found && found.lease_owner === lease.owner && found.lease_epoch === lease.epoch && found.run_status === 'RUNNING';
    return stillOwner && found.step_key !== null ? { kind: 'exists', step: found } : { kind: 'lost' };
  }

  /** Ends the run COMPLETED and starts the next of its chain (see continue-as-new.sql.ts); false: the lease is gone. */
  async continueAsNew(lease: Lease, nextRunId: string, input: string): Promise<boolean> {
    const rows = await this.db.run(continueAsNew.with({ ...lease, nextRunId, input }));
    return rows.length === 1;
  }

  /** Stores the cut of a cancel the worker delivers now (or returns the one stored before); undefined: the lease is gone. */
  async deliverCancel(lease: Lease, cutAt: Date): Promise<{ cutAt: Date; reason?: string } | undefined> {
    const [row] = await this.db.run<{ cancel_cut_at: Date; cancel_reason: string | null }>(deliverCancel.with({ ...lease, cutAt }));
    return row ? { cutAt: row.cancel_cut_at, reason: row.cancel_reason ?? undefined } : undefined;
  }

  /**
   * Cancels the run and its cancellable children (see cancel-run.sql.ts); false when no run has the id.
   * Repeated while a statement affects runs or misses one it saw: a fresh snapshot then sees the next
   * run of a chain that continued as new, or a child inserted, while the previous one waited for a lock.
   */
  async cancelRun(runId: string, error: SerializedStepError): Promise<boolean> {
    let row: { known: boolean; affected: number; seen: number } | undefined;
    for (let round = 0; round < CANCEL_ROUNDS; round++) {
      try {
        [row] = await this.db.run<{ known: boolean; affected: number; seen: number }>(cancelRun.with({ runId, error }));
      } catch (err: unknown) {
        // A deadlock victim (with a child's end, which locks child then parent) did nothing: again.
        if (isTransactionConflict(err) && round < CANCEL_ROUNDS - 1) continue;
        throw err;
      }
      if (!row || (row.affected === 0 && row.seen === 0)) break;
    }
    return row?.known === true;
  }

  async getRunOutcome(runId: string): Promise<RunOutcomeRow | undefined> {
    const rows = await this.db.run<RunOutcomeRow>(getRunOutcome.with({ runId }));
    return rows[0];
  }

  /** Outcomes of those runs that have finished. */
  getRunOutcomes(runIds: string[]): Promise<Array<RunOutcomeRow & { id: string }>> {
    return this.db.run<RunOutcomeRow & { id: string }>(getRunOutcomes.with({ runIds }));
  }

  async getRun(
    runId: string,
  ): Promise<{ run: RunRow; steps: StepRow[]; attempts: StepAttemptRow[]; signals: SignalRow[]; children: RunRow[]; retries: RetryRow[] } | undefined> {
    const [runs, steps, attempts, signals, children, retries] = await Promise.all([
      this.db.run<RunRow>(getRun.with({ runId })),
      this.db.run<StepRow>(getRunSteps.with({ runId })),
      this.db.run<StepAttemptRow>(getStepAttempts.with({ runId })),
      this.db.run<SignalRow>(getRunSignals.with({ runId })),
      this.db.run<RunRow>(getRunChildren.with({ runId })),
      this.db.run<RetryRow>(getRunRetries.with({ runId })),
    ]);
    return runs[0] ? { run: runs[0], steps, attempts, signals, children, retries } : undefined;
  }

  /** Runs a FAILED or CANCELLED run again (see retry-run.sql.ts); `status` null: no such run. */
  async retryRun(runId: string): Promise<{ status: RunStatus | null; retried: boolean }> {
    const [row] = await this.db.run<{ status: RunStatus | null; retried: boolean }>(retryRun.with({ runId }));
    return row;
  }

  listRuns(filter: {
    name?: string; version?: number; statuses?: RunStatus[]; createdAfter?: Date; createdBefore?: Date;
    cursor?: { createdAt: string; id: string }; limit: number;
  }): Promise<RunRow[]> {
    return this.db.run<RunRow>(listRuns.with(filter));
  }

  /** Due, unclaimed runs per (workflow, version), 0 for known versions without any (see metrics-backlog.sql.ts). */
  async backlog(): Promise<Array<{ workflow: string; version: number; runs: number }>> {
    const rows = await this.db.run<{ workflow_name: string; workflow_version: number; runs: number }>(metricsBacklog.with());
    return rows.map((r) => ({ workflow: r.workflow_name, version: r.workflow_version, runs: r.runs }));
  }

  async countRuns(filter: { name?: string; version?: number; statuses?: RunStatus[] }): Promise<number> {
    const rows = await this.db.run<{ count: number }>(countRuns.with(filter));
    return rows[0].count;
  }
}
