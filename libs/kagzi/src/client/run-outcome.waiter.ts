import { Logger } from '@nestjs/common';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { ShuttingDownError } from '../errors/shutting-down.error';
import { TERMINAL_STATUSES } from '../interfaces/run.interface';
import { NotificationListener } from '../persistence/notification.listener';
import { RunStore } from '../persistence/run.store';
import { RunOutcomeRow } from '../persistence/run.rows';

/** Runs started here and not heard ending yet, tracked at most (the oldest are dropped: they get a first read). */
const MAX_TRACKED = 10_000;

interface Waiter {
  resolve(outcome: RunOutcomeRow): void;
  reject(err: unknown): void;
}

/**
 * Everything in this process that awaits a run's result, served together: the `finished`
 * notification usually carries the outcome itself; otherwise one query per poll interval reads
 * the outcomes of all awaited runs at once (not one timer and query per waiting caller).
 *
 * A run started by this process (`expect`, called before its insert) and not heard ending needs no
 * first read when its result is awaited: the LISTEN session that was up before the run existed is
 * still up (the same `session`), so the run has not finished yet. Any other run (heard ending, started
 * elsewhere, or under an earlier session) is read once first. The poll stays as the backstop.
 */
export class RunOutcomeWaiter {
  private readonly logger = new Logger('Kagzi');
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Run id → the LISTEN session it was started under (insertion order: oldest first). */
  private readonly startedHere = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly runs: RunStore,
    private readonly notifications: NotificationListener,
    private readonly pollIntervalMs: number,
  ) {
    this.unsubscribe = notifications.onAnyFinished((runId, notice) => {
      this.startedHere.delete(runId);
      if (!this.waiters.has(runId)) return;
      // Without the outcome (too large for a notification) one query reads it now, not at the next poll.
      if (notice.outcome) this.deliver(runId, notice.outcome);
      else void this.poll([runId]);
    });
  }

  /** Called with a run's id before the statement that inserts it is sent (see the class comment). */
  expect(runId: string): void {
    const session = this.notifications.session;
    if (session !== undefined && !this.closed) remember(this.startedHere, runId, session, MAX_TRACKED);
  }

  /** The insert did not create the run (failed, or an idempotency key named another run). */
  forget(runId: string): void {
    this.startedHere.delete(runId);
  }

  /** Resolves with the run's outcome once it is finished; `cancel()` stops waiting. */
  wait(runId: string): { outcome: Promise<RunOutcomeRow>; cancel(): void } {
    let waiter!: Waiter;
    const outcome = new Promise<RunOutcomeRow>((resolve, reject) => (waiter = { resolve, reject }));
    if (this.closed) {
      waiter.reject(new ShuttingDownError('Kagzi is shutting down; the run goes on, read its result later'));
      return { outcome, cancel: () => undefined };
    }
    const set = this.waiters.get(runId) ?? new Set<Waiter>();
    set.add(waiter);
    this.waiters.set(runId, set);
    this.timer ??= setInterval(() => void this.poll([...this.waiters.keys()]), this.pollIntervalMs);
    const session = this.startedHere.get(runId);
    if (session === undefined || session !== this.notifications.session) void this.checkFirst(runId, waiter);
    return { outcome, cancel: () => this.remove(runId, waiter) };
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.unsubscribe();
    for (const [runId, set] of this.waiters) {
      for (const w of set) w.reject(new ShuttingDownError(`Kagzi is shutting down; run ${runId} goes on, read its result later`));
    }
    this.waiters.clear();
    this.startedHere.clear();
    this.stopTimer();
  }

  /** The run may have finished before anyone waited. */
  private async checkFirst(runId: string, waiter: Waiter): Promise<void> {
    try {
      const outcome = await this.runs.getRunOutcome(runId);
      if (!outcome) {
        this.remove(runId, waiter);
        waiter.reject(new RunNotFoundError(`No workflow run has id ${runId}`));
      } else if (TERMINAL_STATUSES.includes(outcome.status)) {
        this.deliver(runId, outcome);
      }
    } catch (err: unknown) {
      this.logger.warn(`Reading the outcome of run ${runId} failed; the next poll retries: ${String(err)}`);
    }
  }

  private async poll(runIds: string[]): Promise<void> {
    if (runIds.length === 0 || this.closed) return;
    try {
      for (const row of await this.runs.getRunOutcomes(runIds)) this.deliver(row.id, row);
    } catch (err: unknown) {
      if (!this.closed) this.logger.warn(`Polling run outcomes failed; retrying in ${this.pollIntervalMs} ms: ${String(err)}`);
    }
  }

  private deliver(runId: string, outcome: RunOutcomeRow): void {
    const set = this.waiters.get(runId);
    if (!set) return;
    this.waiters.delete(runId);
    for (const w of set) w.resolve(outcome);
    if (this.waiters.size === 0) this.stopTimer();
  }

  private remove(runId: string, waiter: Waiter): void {
    const set = this.waiters.get(runId);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(runId);
    if (this.waiters.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Sets `key` in a map kept to `max` entries, dropping the oldest. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}
