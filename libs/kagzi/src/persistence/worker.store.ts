import { KagziDatabase } from './kagzi-database';
import { WorkerRow } from './run.rows';
import { findLiveWorker } from './sql/find-live-worker.sql';
import { healthStats } from './sql/health-stats.sql';
import { heartbeat } from './sql/heartbeat.sql';
import { listWorkers } from './sql/list-workers.sql';
import { markWorkerLost } from './sql/mark-worker-lost.sql';
import { pruneWorkers } from './sql/prune-workers.sql';
import { registerWorker } from './sql/register-worker.sql';
import { releaseRuns } from './sql/release-runs.sql';
import { setWorkerStatus } from './sql/set-worker-status.sql';
import { Lease, ServedPairs } from './store.types';

/** The worker registry: registration, heartbeats with the leases they extend, hand-back, listing, health figures. */
export class WorkerStore {
  constructor(private readonly db: KagziDatabase) {}

  /** Throws pg's unique violation (23505) when a live worker already has the name. */
  async registerWorker(worker: {
    id: string; name: string; hostname: string; pid: number; concurrency: number; heartbeatIntervalMs: number; workflows: string[]; libraryVersion: string;
  }): Promise<void> {
    await this.db.run(registerWorker.with(worker));
  }

  async findLiveWorker(name: string): Promise<{ id: string; hostname: string; pid: number } | undefined> {
    const [row] = await this.db.run<{ id: string; hostname: string; pid: number }>(findLiveWorker.with({ name }));
    return row;
  }

  async markWorkerLost(workerId: string, detectedBy: string): Promise<void> {
    await this.db.run(markWorkerLost.with({ workerId, detectedBy }));
  }

  async setWorkerStatus(worker: { id: string; name: string }, status: 'DRAINING' | 'STOPPED', data: Record<string, unknown>): Promise<void> {
    await this.db.run(setWorkerStatus.with({ workerId: worker.id, name: worker.name, status, data }));
  }

  /**
   * One heartbeat: this worker's row, the leases of `held` (returns the ids still at their epoch, each
   * with whether a cancel waits to be delivered and whether this worker already released it; the others
   * are lost), and LOST marks for workers that stopped beating.
   */
  async heartbeat(
    worker: { id: string; name: string; status: 'RUNNING' | 'DRAINING'; activeRuns: number },
    held: Lease[],
    leaseMs: number,
  ): Promise<Map<string, { cancelPending: boolean; released: boolean }>> {
    const rows = await this.db.run<{ id: string; cancel_pending: boolean; released: boolean }>(
      heartbeat.with({
        workerId: worker.id, owner: worker.name, runIds: held.map((l) => l.runId), epochs: held.map((l) => l.epoch),
        leaseMs, activeRuns: worker.activeRuns, status: worker.status,
      }),
    );
    return new Map(rows.map((r) => [r.id, { cancelPending: r.cancel_pending, released: r.released }]));
  }

  async releaseRuns(worker: { id: string; name: string }, held: Lease[]): Promise<string[]> {
    if (held.length === 0) return [];
    const rows = await this.db.run<{ id: string }>(
      releaseRuns.with({ owner: worker.name, runIds: held.map((l) => l.runId), epochs: held.map((l) => l.epoch), workerId: worker.id }),
    );
    return rows.map((r) => r.id);
  }

  async pruneWorkers(retentionMs: number): Promise<void> {
    await this.db.run(pruneWorkers.with({ retentionMs }));
  }

  listWorkers(): Promise<WorkerRow[]> {
    return this.db.run<WorkerRow>(listWorkers.with());
  }

  async healthStats(served: ServedPairs): Promise<{ due_backlog: number; unserved: string[] }> {
    const [row] = await this.db.run<{ due_backlog: number; unserved: string[] }>(healthStats.with(served));
    return row;
  }
}
