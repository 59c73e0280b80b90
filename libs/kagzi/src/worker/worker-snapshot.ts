import { ServedPairs } from '../persistence/store.types';

/** CREATED until bootstrap (and for good with `worker: false`), RUNNING while it claims, DRAINING at shutdown, then STOPPED. */
export type WorkerState = 'CREATED' | 'RUNNING' | 'DRAINING' | 'STOPPED';

/** What health checks and operators read about this process's worker. */
export interface WorkerSnapshot {
  /** The worker's lifecycle state. */ state: WorkerState;
  /** Runs it holds now. */ activeRuns: number;
  /** How many runs it executes at once (0 with `worker: false`). */ concurrency: number;
  /** When the claim loop last polled; absent before the first poll. */ lastPollAt?: Date;
  /** When it last renewed its leases and heartbeat; absent before the first. */ lastHeartbeatAt?: Date;
  /** The (name, version) pairs it serves. */ served: ServedPairs;
}
