import { StoredPayload } from '../execution/payload.serializer';
import { KagziDatabase } from './kagzi-database';
import { consumeSignal } from './sql/consume-signal.sql';
import { parkForSignal } from './sql/park-for-signal.sql';
import { recordSignalWait } from './sql/record-signal-wait.sql';
import { sendSignal } from './sql/send-signal.sql';
import { findRunByKey } from './sql/find-run-by-key.sql';
import { insertRun } from './sql/insert-run.sql';
import { InsertRunResult } from './run.rows';
import { Lease, StepPlacement } from './store.types';

/** What one attempt to take a signal decided: nothing yet, or the wait's recorded outcome (a payload, or a timeout). */
export type SignalTake = { kind: 'lost' } | { kind: 'none'; newestSeen: number } | { kind: 'taken'; output: StoredPayload | null };

export interface SendResult {
  delivered: boolean;
  active: boolean;
  known: boolean;
}

/** Signals: sending them to runs, and a run's waits consuming them (see the sql files for the locking). */
export class SignalStore {
  constructor(private readonly db: KagziDatabase) {}

  /** `delivered`: the signal is stored (now or by an earlier try with this delivery id); else `known` says whether the run exists. */
  async send(signal: { runId: string; name: string; payload: string; deliveryId: string }): Promise<SendResult> {
    const [row] = await this.db.run<SendResult & Record<string, unknown>>(sendSignal.with(signal));
    return row;
  }

  /**
   * signalWithStart: inserts the run unless its idempotency key exists, then signals the new or existing
   * run, in one transaction: either both happen or neither does. `run.traceContext` is stored only with
   * a run this call inserts.
   */
  async startAndSend(
    run: { id: string; name: string; version?: number; input: string; idempotencyKey: string; delayMs: number; traceContext?: Record<string, string> },
    signal: { name: string; payload: string; deliveryId: string },
  ): Promise<{ start: InsertRunResult; runId?: string; send?: SendResult }> {
    return this.db.transaction(async (query) => {
      const [start] = await query<InsertRunResult & Record<string, unknown>>(insertRun.with(run));
      const runId = start.id ?? (await query<{ id: string }>(findRunByKey.with({ name: run.name, idempotencyKey: run.idempotencyKey })))[0]?.id;
      if (!runId) return { start };
      const [send] = await query<SendResult & Record<string, unknown>>(sendSignal.with({ runId, ...signal }));
      return { start, runId, send };
    });
  }

  async take(
    lease: Lease,
    wait: { key: string; name: string; timedOut: boolean; timeoutOutput: string } & StepPlacement,
  ): Promise<SignalTake> {
    const [row] = await this.db.run<{ held: boolean; newest_seen: string | number; output: StoredPayload | null; recorded: boolean }>(
      consumeSignal.with({ runId: lease.runId, owner: lease.owner, epoch: lease.epoch, ...wait }),
    );
    if (!row.held) return { kind: 'lost' };
    // bigint comes back as text; signal ids stay far below 2^53.
    return row.recorded ? { kind: 'taken', output: row.output } : { kind: 'none', newestSeen: Number(row.newest_seen) };
  }

  /** Parks the run WAITING until `dueAt` (at once if a signal newer than `newestSeen` was stored). False when the lease was lost. */
  async park(
    lease: Lease,
    dueAt: Date,
    newestSeen: number,
    wait?: { key: string; name: string; deadline: Date | null } & StepPlacement,
  ): Promise<boolean> {
    const rows = await this.db.run(parkForSignal.with({ runId: lease.runId, owner: lease.owner, epoch: lease.epoch, dueAt, newestSeen, wait }));
    return rows.length === 1;
  }

  /** Records a pending wait and its deadline while the run goes on; false when the lease was lost or it was recorded before. */
  async recordWait(lease: Lease, wait: { key: string; name: string; deadline: Date | null } & StepPlacement): Promise<boolean> {
    const rows = await this.db.run(recordSignalWait.with({ runId: lease.runId, owner: lease.owner, epoch: lease.epoch, ...wait }));
    return rows.length === 1;
  }
}
